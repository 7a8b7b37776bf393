"""The AssistantTool drift comparison: what counts as a difference, and what must not (no false drift)."""

from __future__ import annotations

import datetime
from typing import Any

from modelops_operator.api.assistanttool import AssistantToolSpec
from modelops_operator.providers.base import RemoteState
from modelops_operator.providers.twilio_assistants.client import Tool
from modelops_operator.providers.twilio_assistants.provider import (
    IN_SYNC,
    OUT_OF_SYNC,
    attachment_changes,
    created_at,
    desired_write,
    observation_of,
    status_fields_of,
    tool_differences,
)

A, B, C = "aia_asst_a", "aia_asst_b", "aia_asst_c"
URL = "https://tools.example.com/lookup"


def spec(**fields: Any) -> AssistantToolSpec:
    values: dict[str, Any] = {
        "name": "order-lookup",
        "credentialsSecretRef": {"name": "twilio"},
        "meta": {"url": URL, "method": "POST"},
        "assistantIds": [A, B],
    }
    values.update(fields)
    return AssistantToolSpec.model_validate(values)


def tool(**fields: Any) -> Tool:
    """A tool as the upstream's fetch renders it for `spec()` (no policy, description never set)."""
    values: dict[str, Any] = {
        "id": "aia_tool_1",
        "name": "order-lookup",
        "description": "",
        "type": "WEBHOOK",
        "enabled": True,
        "requires_auth": False,
        "meta": {"url": URL, "method": "POST"},
        "url": "https://assistants.example/v1/Tools/aia_tool_1",
        "date_created": "2026-01-01T12:00:00Z",
        "date_updated": "2026-01-01T12:00:00Z",
        "policies": [],
    }
    values.update(fields)
    return Tool.model_validate(values)


def remote_policy(**fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "aia_plcy_1",
        "name": "",
        "description": "",
        "account_sid": "AC" + "0" * 32,
        "user_sid": "US" + "0" * 32,
        "type": "CUSTOM",
        "policy_details": {"allow": ["orders"]},
        "date_created": "2026-01-01T12:00:00Z",
        "date_updated": "2026-01-01T12:00:00Z",
    }
    values.update(fields)
    return values


def test_a_tool_as_created_is_in_sync() -> None:
    assert tool_differences(spec(), tool(), {A, B}) == ()


def test_none_and_empty_strings_are_alike() -> None:
    assert tool_differences(spec(description=None), tool(description=""), {A, B}) == ()
    assert tool_differences(spec(description=""), tool(description=None), {A, B}) == ()
    assert (
        tool_differences(spec(meta={"url": URL, "method": "POST", "inputSchema": ""}), tool(), {A, B}) == ()
    )


def test_each_field_is_named() -> None:
    assert tool_differences(spec(), tool(description="changed"), {A, B}) == ("description",)
    assert tool_differences(spec(), tool(enabled=False), {A, B}) == ("enabled",)
    assert tool_differences(spec(), tool(name="other"), {A, B}) == ("name",)
    assert tool_differences(spec(), tool(meta={"url": URL, "method": "GET"}), {A, B}) == ("meta",)
    assert tool_differences(
        spec(), tool(meta={"url": URL, "method": "POST", "input_schema": "{id: string}"}), {A, B}
    ) == ("meta",)
    assert tool_differences(spec(description="new", enabled=False), tool(), {A, B}) == (
        "description",
        "enabled",
    )


def test_a_spec_without_meta_or_policy_ignores_the_remote_ones() -> None:
    # The API can update a meta or a policy but cannot remove either: no drift that could never be corrected.
    remote = tool(meta={"url": "https://elsewhere.example", "method": "GET"}, policies=[remote_policy()])
    assert tool_differences(spec(meta=None), remote, {A, B}) == ()


def test_only_the_policy_fields_the_spec_sets_are_compared() -> None:
    wanted = spec(policy={"policyDetails": {"allow": ["orders"]}})
    # The upstream fills type (CUSTOM) and renders a missing name/description as "": not drift.
    assert tool_differences(wanted, tool(policies=[remote_policy()]), {A, B}) == ()
    named = spec(policy={"policyDetails": {"allow": ["orders"]}, "name": "orders-only", "type": "CUSTOM"})
    assert tool_differences(named, tool(policies=[remote_policy(name="orders-only")]), {A, B}) == ()
    assert tool_differences(named, tool(policies=[remote_policy(name="renamed")]), {A, B}) == ("policy",)
    assert tool_differences(named, tool(policies=[remote_policy(type="OTHER")]), {A, B}) == ("policy",)


def test_policy_details_and_a_missing_policy_are_drift() -> None:
    wanted = spec(policy={"policyDetails": {"allow": ["orders"]}})
    changed = remote_policy(policy_details={"allow": ["orders", "refunds"]})
    assert tool_differences(wanted, tool(policies=[changed]), {A, B}) == ("policy",)
    assert tool_differences(wanted, tool(policies=[]), {A, B}) == ("policy",)


def test_attachments_name_what_to_attach_and_detach() -> None:
    assert tool_differences(spec(), tool(), {A}) == (f"attachments (+{B})",)
    assert tool_differences(spec(), tool(), {A, B, C}) == (f"attachments (-{C})",)
    assert tool_differences(spec(description="x"), tool(), {B, C}) == (
        "description",
        f"attachments (+{A}, -{C})",
    )
    assert attachment_changes([A, B], [B, C]) == ([A], [C])
    assert attachment_changes([], []) == ([], [])


def test_observation_in_and_out_of_sync() -> None:
    synced = observation_of(spec(), tool(), {B, A})
    assert synced.up_to_date and synced.state is RemoteState.SUCCEEDED
    assert synced.remote_status == IN_SYNC and synced.differences == ()
    assert synced.status_fields["attachedAssistantIds"] == [A, B]
    drifted = observation_of(spec(), tool(enabled=False), {A})
    assert not drifted.up_to_date and drifted.state is RemoteState.RUNNING
    assert drifted.remote_status == OUT_OF_SYNC
    assert drifted.differences == ("enabled", f"attachments (+{B})")


def test_status_fields_have_camel_case_keys_and_the_policies_as_fetched() -> None:
    fields = status_fields_of(tool(requires_auth=True, policies=[remote_policy()]), {B, A})
    assert fields == {
        "id": "aia_tool_1",
        "requiresAuth": True,
        "url": "https://assistants.example/v1/Tools/aia_tool_1",
        "dateCreated": "2026-01-01T12:00:00Z",
        "dateUpdated": "2026-01-01T12:00:00Z",
        "attachedAssistantIds": [A, B],
        "policies": [
            {
                "id": "aia_plcy_1",
                "name": "",
                "description": "",
                "type": "CUSTOM",
                "policyDetails": {"allow": ["orders"]},
                "dateCreated": "2026-01-01T12:00:00Z",
                "dateUpdated": "2026-01-01T12:00:00Z",
            }
        ],
    }
    # A create's answer carries no policies and the attachments are unknown: the status keeps what it has.
    partial = status_fields_of(tool(policies=None), None)
    assert "policies" not in partial and "attachedAssistantIds" not in partial


def test_the_desired_object_is_complete() -> None:
    body = desired_write(
        spec(
            description=None,
            enabled=False,
            meta={"url": URL, "method": "GET", "inputSchema": "{id: string}"},
            policy={"policyDetails": {"allow": []}, "name": "p"},
        )
    ).body()
    assert body == {
        "name": "order-lookup",
        "type": "WEBHOOK",
        "enabled": False,
        "description": "",  # clears a description set out of band
        "meta": {"url": URL, "method": "GET", "input_schema": "{id: string}"},
        "policy": {"policy_details": {"allow": []}, "name": "p"},
    }
    assert "assistant_id" not in body  # attachments are their own calls


def test_creation_dates_parse() -> None:
    assert created_at(tool()) == datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
    assert created_at(tool(date_created=None)) is None
    assert created_at(tool(date_created="yesterday")) is None
