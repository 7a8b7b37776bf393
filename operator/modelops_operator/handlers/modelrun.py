"""ModelRun: one run on the Models API behind the generic lifecycle."""

from __future__ import annotations

import kopf

from modelops_operator.api.kinds import MODELRUN
from modelops_operator.core.lifecycle import Lifecycle
from modelops_operator.handlers.common import register_kind
from modelops_operator.providers.models_api.client import ModelsApiClient
from modelops_operator.providers.models_api.provider import ModelsApiProvider
from modelops_operator.runtime_context import RuntimeContext


def register(registry: kopf.OperatorRegistry, context: RuntimeContext) -> Lifecycle:
    http = context.upstream("models-api", context.settings.models_api_url)
    # A finished run never changes: no drift checks once terminal.
    lifecycle = context.lifecycle(
        MODELRUN, [ModelsApiProvider(ModelsApiClient(http))], poll_when_terminal=False
    )
    register_kind(registry, lifecycle, context.settings)
    return lifecycle
