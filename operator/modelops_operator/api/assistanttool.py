"""AssistantTool: a Twilio Assistants tool the operator owns and keeps in sync (drift is corrected)."""

from __future__ import annotations

from typing import Any, Literal

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

KIND = "AssistantTool"
PLURAL = "assistanttools"
SINGULAR = "assistanttool"
SHORT_NAMES = ["atool"]


class ToolMeta(ApiModel):
    url: str = Field(min_length=1, max_length=2048, pattern=r"^https?://", description="The webhook URL.")
    method: Literal["GET", "POST"] = Field(default="POST", description="HTTP method of the webhook.")
    input_schema: str | None = Field(
        default=None, description="TypeScript-like type string describing the tool's input."
    )


class ToolPolicy(ApiModel):
    name: str | None = None
    description: str | None = None
    type: str | None = None
    policy_details: dict[str, Any] = Field(description="Free-form policy details, sent as given.")


class AssistantToolSpec(ApiModel):
    name: str = Field(min_length=1, max_length=255, description="The tool's name (not unique upstream).")
    description: str | None = Field(default=None, max_length=4096)
    type: Literal["WEBHOOK"] = Field(default="WEBHOOK")
    enabled: bool = Field(default=True)
    meta: ToolMeta | None = None
    policy: ToolPolicy | None = None
    assistant_ids: list[str] = Field(
        default_factory=list,
        description="Assistants (aia_asst_...) the tool is attached to; attachments are kept to exactly these.",
        json_schema_extra={
            "items": {"type": "string", "pattern": "^aia_asst_"},
            "x-kubernetes-list-type": "set",
        },
    )
    credentials_secret_ref: SecretRef = Field(
        description="Secret with `accountSid` + `authToken` (or `apiKeySid` + `apiKeySecret` + `accountSid`)."
    )
    management_policy: ManagementPolicy = Field(
        default=ManagementPolicy.FULL, description=MANAGEMENT_POLICY_DESCRIPTION
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete removes the remote tool (detaching it first); Orphan keeps it.",
    )
    polling: Polling = Field(
        default_factory=Polling, description="driftIntervalSeconds sets how often remote drift is checked."
    )


class FetchedPolicy(ApiModel):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    type: str | None = None
    policy_details: dict[str, Any] | None = None
    date_created: str | None = None
    date_updated: str | None = None


class AssistantToolStatus(CommonStatus):
    id: str | None = None
    requires_auth: bool | None = None
    url: str | None = None
    policies: list[FetchedPolicy] = Field(default_factory=list)
    attached_assistant_ids: list[str] = Field(default_factory=list)
    date_created: str | None = None
    date_updated: str | None = None
