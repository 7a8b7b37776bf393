"""Models API model runs (UPSTREAMS.md §3): credentials and the HTTP client."""

from modelops_operator.providers.models_api.client import (
    RUN_STATUSES,
    TERMINAL_RUN_STATUSES,
    UPSTREAM,
    CompileDiagnostics,
    ModelRun,
    ModelRunStep,
    ModelsApiClient,
    ModelTestResult,
)
from modelops_operator.providers.models_api.credentials import ModelsApiCredentials

__all__ = [
    "RUN_STATUSES",
    "TERMINAL_RUN_STATUSES",
    "UPSTREAM",
    "CompileDiagnostics",
    "ModelRun",
    "ModelRunStep",
    "ModelTestResult",
    "ModelsApiClient",
    "ModelsApiCredentials",
]
