"""ModelRun: one triggered run on the Models API, one-shot like a Kubernetes Job."""

from __future__ import annotations

from pydantic import Field

from modelops_operator.api.common import (
    MANAGEMENT_POLICY_DESCRIPTION,
    ApiModel,
    CommonStatus,
    DeletionPolicy,
    ManagementPolicy,
    Polling,
    SecretRef,
)

KIND = "ModelRun"
PLURAL = "modelruns"
SINGULAR = "modelrun"
SHORT_NAMES = ["mr"]
PROVIDER_KEYS = ["modelsApi"]


class ModelsApiRunSpec(ApiModel):
    project_name: str = Field(
        min_length=1, max_length=255, pattern=r"^\S+$", description="The project to run (no spaces)."
    )
    model_names: list[str] | None = Field(
        default=None, description="Models to run; all of the project's models when omitted."
    )
    target_catalog: str | None = Field(
        default=None, description='Catalog to write to (upstream default "memory").'
    )
    target_schema: str | None = Field(default=None, description="Schema to write to.")
    full_refresh: bool | None = Field(default=None, description="Rebuild incremental models from scratch.")


class ModelRunSpec(ApiModel):
    models_api: ModelsApiRunSpec = Field(description="The run to trigger on the Models API.")
    credentials_secret_ref: SecretRef = Field(
        description="Secret with `apiKey` (sent as X-API-Key) or `bearerToken`."
    )
    management_policy: ManagementPolicy = Field(
        default=ManagementPolicy.FULL, description=MANAGEMENT_POLICY_DESCRIPTION
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete cancels a run still in progress (and waits for it to stop); Orphan leaves it running.",
    )
    polling: Polling = Field(default_factory=Polling)


# One-shot like a Job: nothing may change once created, except the deletion policy (so a stuck
# cancellation can be let go by switching to Orphan).
SPEC_VALIDATIONS = [
    {
        "rule": "self.modelsApi == oldSelf.modelsApi && self.credentialsSecretRef == oldSelf.credentialsSecretRef"
        " && (has(self.polling) == has(oldSelf.polling)) && (!has(self.polling) || self.polling == oldSelf.polling)",
        "message": "a ModelRun is immutable once created (only spec.deletionPolicy may change); create a new one",
    }
]


class ResultTotals(ApiModel):
    passed: int = 0
    failed: int = 0
    errored: int = 0


class RunStepStatus(ApiModel):
    id: str | None = Field(default=None, description="The upstream's step id.")
    name: str
    status: str
    rows_affected: int | None = None
    error_message: str | None = None
    tests: ResultTotals = Field(default_factory=ResultTotals)


class ModelRunStatus(CommonStatus):
    run_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error_message: str | None = None
    steps: list[RunStepStatus] = Field(default_factory=list)
    tests: ResultTotals | None = None
    steps_summary: str | None = Field(default=None, description='e.g. "3/5 succeeded, 1 failed"')
    tests_summary: str | None = Field(default=None, description='e.g. "12 passed, 1 failed, 0 errored"')
