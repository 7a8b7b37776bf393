"""ModelBuild: its providers behind the generic lifecycle."""

from __future__ import annotations

import kopf

from modelops_operator.api.kinds import MODELBUILD
from modelops_operator.core.lifecycle import Lifecycle
from modelops_operator.handlers.common import register_kind
from modelops_operator.providers.datarobot.client import DataRobotClient
from modelops_operator.providers.datarobot.provider import DataRobotProvider
from modelops_operator.providers.twilio_autopilot.client import TwilioAutopilotClient
from modelops_operator.providers.twilio_autopilot.provider import TwilioAutopilotProvider
from modelops_operator.runtime_context import RuntimeContext


def register(registry: kopf.OperatorRegistry, context: RuntimeContext) -> Lifecycle:
    providers = [
        TwilioAutopilotProvider(
            TwilioAutopilotClient(context.upstream("twilio-autopilot", context.settings.twilio_autopilot_url))
        ),
        DataRobotProvider(DataRobotClient(context.upstream("datarobot", context.settings.datarobot_url))),
    ]
    lifecycle = context.lifecycle(MODELBUILD, providers)
    register_kind(registry, lifecycle, context.settings)
    return lifecycle
