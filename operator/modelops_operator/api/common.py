"""Spec and status parts shared by every kind (DESIGN.md, "Resource contract")."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "modelops.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

ANNOTATION_EXTERNAL_ID = f"{GROUP}/external-id"
ANNOTATION_PAUSED = f"{GROUP}/paused"
ANNOTATION_RECONCILE_REQUESTED = f"{GROUP}/reconcile-requested-at"
ANNOTATION_CREATE_PENDING = f"{GROUP}/create-pending-since"
# Holds a resource until its remote object is dealt with by spec.deletionPolicy.
FINALIZER = f"{GROUP}/finalizer"


class ApiModel(BaseModel):
    """camelCase on the wire (Kubernetes convention), snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def immutable(message: str) -> dict[str, Any]:
    return {"x-kubernetes-validations": [{"rule": "self == oldSelf", "message": message}]}


class SecretRef(ApiModel):
    name: str = Field(
        min_length=1, max_length=253, description="Name of a Secret in the resource's namespace."
    )


class ManagementPolicy(StrEnum):
    """Full: create, update and delete the remote object. ObserveOnly: mirror an existing one (named by the
    external-id annotation) into .status and never change anything upstream; deletion always orphans."""

    FULL = "Full"
    OBSERVE_ONLY = "ObserveOnly"


MANAGEMENT_POLICY_DESCRIPTION = (
    "Full (default) creates, updates and deletes the remote object. ObserveOnly mirrors an existing one, named by "
    "the modelops.dev/external-id annotation, into .status and never changes anything upstream (no create, "
    "update, delete or cancel; deletion always orphans). Either way round may be switched at any time."
)


class DeletionPolicy(StrEnum):
    DELETE = "Delete"
    ORPHAN = "Orphan"


class Polling(ApiModel):
    interval_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Seconds between polls while the remote object is not terminal "
        "(default: MODELOPS_POLL_INTERVAL_SECONDS; never faster than that operator-wide tick).",
    )
    drift_interval_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Seconds between slow checks once terminal (default: MODELOPS_DRIFT_INTERVAL_SECONDS).",
    )
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Limit for the whole remote lifecycle; after it the resource is Stalled with reason Timeout.",
    )
    max_attempts: int | None = Field(
        default=None,
        ge=1,
        description="Polls allowed before giving up with reason Timeout (like Terraform's retry count).",
    )


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


CONDITIONS_SCHEMA_EXTRA: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


class CommonStatus(ApiModel):
    phase: str | None = None
    remote_status: str | None = Field(default=None, description="The upstream's own status word, verbatim.")
    external_id: str | None = None
    observed_generation: int | None = None
    last_synced_at: str | None = None
    message: str | None = None
    conditions: list[Condition] = Field(default_factory=list, json_schema_extra=CONDITIONS_SCHEMA_EXTRA)
