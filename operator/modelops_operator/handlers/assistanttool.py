"""AssistantTool: a Twilio Assistants tool kept in sync with its spec, behind the generic lifecycle."""

from __future__ import annotations

import kopf

from modelops_operator.api.kinds import ASSISTANTTOOL
from modelops_operator.core.lifecycle import Lifecycle
from modelops_operator.handlers.common import register_kind
from modelops_operator.providers.base import RemoteState
from modelops_operator.providers.twilio_assistants.client import UPSTREAM, TwilioAssistantsClient
from modelops_operator.providers.twilio_assistants.provider import TwilioAssistantsProvider
from modelops_operator.runtime_context import RuntimeContext

# DESIGN.md: an AssistantTool is Pending (not created, or not yet in sync), Ready, Failed or Deleting.
PHASES = {
    RemoteState.PENDING: "Pending",
    RemoteState.RUNNING: "Pending",
    RemoteState.SUCCEEDED: "Ready",
}


def register(registry: kopf.OperatorRegistry, context: RuntimeContext) -> Lifecycle:
    provider = TwilioAssistantsProvider(
        TwilioAssistantsClient(context.upstream(UPSTREAM, context.settings.twilio_assistants_url))
    )
    lifecycle = context.lifecycle(ASSISTANTTOOL, [provider], phase_names=PHASES, rejected_phase="Failed")
    register_kind(registry, lifecycle, context.settings)
    return lifecycle
