"""ModelBuild: one remote model build, with one provider block per upstream."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from modelops_operator.api.common import (
    MANAGEMENT_POLICY_DESCRIPTION,
    ApiModel,
    CommonStatus,
    DeletionPolicy,
    ManagementPolicy,
    Polling,
    SecretRef,
    immutable,
)

KIND = "ModelBuild"
PLURAL = "modelbuilds"
SINGULAR = "modelbuild"
SHORT_NAMES = ["mb"]

# The keys of the provider blocks. Exactly one is set; adding a provider adds its key here.
PROVIDER_KEYS = ["twilioAutopilot", "datarobot"]


class TwilioAutopilotBuildSpec(ApiModel):
    assistant_sid: str = Field(
        pattern=r"^UA[0-9a-fA-F]{32}$",
        description="The Autopilot assistant that owns the build. Immutable.",
        json_schema_extra=immutable(
            "assistantSid is immutable: a build of another assistant needs a new ModelBuild"
        ),
    )
    unique_name: str | None = Field(
        default=None,
        max_length=64,
        description="The build's unique name. Derived from namespace, name and uid when omitted. "
        "Changing it renames the remote build in place.",
    )
    status_callback: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://",
        description="URL Twilio calls on status changes. Create-only upstream, so immutable here.",
    )


def _twilio_block_rules() -> dict[str, Any]:
    return {
        "x-kubernetes-validations": [
            {
                "rule": "has(self.statusCallback) == has(oldSelf.statusCallback) && "
                "(!has(self.statusCallback) || self.statusCallback == oldSelf.statusCallback)",
                # Reported on the field itself, so kubectl's error names spec.twilioAutopilot.statusCallback.
                "fieldPath": ".statusCallback",
                "message": "statusCallback is immutable (Twilio takes it only when the build is created): "
                "another callback needs a new ModelBuild",
            }
        ]
    }


class DataRobotBuildSpec(ApiModel):
    """A custom model version built from a DataRobot GenAI LLM blueprint (UPSTREAMS.md §4)."""

    llm_blueprint_id: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"^\S+$",
        description="The LLM blueprint to build the custom model version from.",
    )
    prompt_column_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description='Column of the prompt text (upstream default "promptText").',
    )
    target_column_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description='Column of the result text (upstream default "resultText").',
    )
    llm_test_configuration_ids: list[str] | None = Field(
        default=None,
        max_length=100,
        description="LLM test configurations to run against the new version.",
    )


class ModelBuildSpec(ApiModel):
    twilio_autopilot: TwilioAutopilotBuildSpec | None = Field(
        default=None,
        description="Build a Twilio Autopilot assistant model.",
        json_schema_extra=_twilio_block_rules(),
    )
    datarobot: DataRobotBuildSpec | None = Field(
        default=None,
        description="Build a custom model version from a DataRobot GenAI LLM blueprint. Immutable: the "
        "upstream cannot change a started build, so a different build needs a new resource.",
        json_schema_extra=immutable(
            "spec.datarobot is immutable: a different DataRobot build needs a new ModelBuild"
        ),
    )
    credentials_secret_ref: SecretRef = Field(description="Secret with the upstream credentials.")
    management_policy: ManagementPolicy = Field(
        default=ManagementPolicy.FULL, description=MANAGEMENT_POLICY_DESCRIPTION
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE, description="Delete removes the remote build; Orphan leaves it."
    )
    polling: Polling = Field(default_factory=Polling)


def _exactly_one_provider_rule() -> list[dict[str, str]]:
    present = ", ".join(f"has(self.{key})" for key in PROVIDER_KEYS)
    same = " && ".join(f"has(self.{key}) == has(oldSelf.{key})" for key in PROVIDER_KEYS)
    return [
        {
            "rule": f"[{present}].filter(x, x).size() == 1",
            "message": f"exactly one provider block must be set: {', '.join(PROVIDER_KEYS)}",
        },
        {
            "rule": same,
            "message": "the provider block cannot be changed after creation: another provider needs a new ModelBuild",
        },
    ]


SPEC_VALIDATIONS = _exactly_one_provider_rule()


class TwilioAutopilotBuildStatus(ApiModel):
    sid: str | None = None
    account_sid: str | None = None
    unique_name: str | None = None
    build_duration: int | None = None
    error_code: int | None = None
    date_created: str | None = None
    date_updated: str | None = None
    url: str | None = None


class DataRobotBuildStatus(ApiModel):
    status_id: str | None = Field(default=None, description="The build job's id (its status URL).")
    custom_model_id: str | None = Field(default=None, description="The custom model the build makes.")
    custom_model_version_id: str | None = Field(
        default=None, description="The custom model version, once the build completed."
    )
    location: str | None = Field(default=None, description="URL of the created version (the 303's Location).")
    status_type: str | None = Field(default=None, description="The job's statusType, verbatim.")
    message: str | None = Field(default=None, description="The job's message (set for failures).")


class ModelBuildStatus(CommonStatus):
    twilio_autopilot: TwilioAutopilotBuildStatus | None = None
    datarobot: DataRobotBuildStatus | None = None
