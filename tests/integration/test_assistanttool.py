"""AssistantTool end to end: the real operator, the emulated cluster, the fake Twilio Assistants."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest

from modelops_operator.api.assistanttool import AssistantToolSpec
from modelops_operator.providers.base import Request, ResourceRef
from modelops_operator.providers.credentials import TwilioCredentials
from modelops_operator.providers.errors import PermanentUpstreamError
from modelops_operator.providers.http import UpstreamHTTP
from modelops_operator.providers.twilio_assistants.client import UPSTREAM, TwilioAssistantsClient
from modelops_operator.providers.twilio_assistants.provider import TwilioAssistantsProvider
from modelops_sandbox.fakes.twilio_assistants import TOOL_PATH, TOOLS_PATH
from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, OperatorHandle, Stack
from tests.integration.conftest import (
    condition,
    create_secret,
    event_reasons,
    get_mb,
    gone,
    wait_condition,
    wait_event,
)
from tests.integration.conftest import status_of as status_in
from tests.integration.conftest import wait_phase as wait_for_phase
from tests.support.waiting import eventually

API = "modelops.dev/v1alpha1"
PLURAL = "assistanttools"
A, B, C = "aia_asst_01alpha", "aia_asst_02bravo", "aia_asst_03charlie"
WEBHOOK = {"url": "https://tools.example.com/orders", "method": "POST", "inputSchema": "{orderId: string}"}
POLICY = {"policyDetails": {"allowedOrigins": ["https://shop.example.com"]}}


def tool_resource(name: str, *, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": f"{name}-tool",
        "description": "Looks up an order",
        "enabled": True,
        "meta": WEBHOOK,
        "assistantIds": [A, B],
        "credentialsSecretRef": {"name": "twilio"},
        "polling": {"intervalSeconds": 1, "driftIntervalSeconds": 1},
    }
    values.update(spec)
    return {
        "apiVersion": API,
        "kind": "AssistantTool",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": values,
    }


async def get_tool(stack: Stack, name: str) -> dict[str, Any] | None:
    return await get_mb(stack, name, PLURAL)


async def status_of(stack: Stack, name: str) -> dict[str, Any]:
    return await status_in(stack, name, PLURAL)


async def wait_phase(stack: Stack, name: str, phase: str, timeout: float = 15.0) -> dict[str, Any]:  # noqa: ASYNC109
    return await wait_for_phase(stack, name, phase, timeout=timeout, plural=PLURAL)


async def wait_stalled(stack: Stack, name: str, reason: str) -> dict[str, Any]:
    return await wait_condition(stack, name, "Stalled", "True", reason, timeout=15, plural=PLURAL)


async def events(stack: Stack, name: str, reason: str) -> list[str]:
    return [
        e.get("message", "")
        for e in await stack.cluster.events_for(stack.namespace, name)
        if e.get("reason") == reason
    ]


async def ready_tool(stack: Stack, name: str, **spec: Any) -> str:
    await stack.apply(tool_resource(name, **spec))
    return str((await wait_phase(stack, name, "Ready"))["status"]["id"])


def attached_to(stack: Stack, tool_id: str) -> set[str]:
    return {a for a in (A, B, C) if tool_id in stack.assistants.attachments(a)}


def created(stack: Stack) -> int:
    return len([r for r in stack.assistants.requests_matching("POST", TOOLS_PATH) if r.status == 201])


@contextlib.asynccontextmanager
async def operator(stack: Stack) -> AsyncIterator[OperatorHandle]:
    """The operator for one test. Cancelled at the end (a graceful stop waits ~5 s for kopf's shutdown)."""
    handle = await stack.start_operator()
    try:
        yield handle
    finally:
        await handle.kill()


@pytest.fixture
async def secret(stack: Stack) -> AsyncIterator[None]:
    await create_secret(stack)
    yield


# ------------------------------------------------------------------------------------------------- create


@pytest.mark.usefixtures("secret")
async def test_create_with_policy_and_two_attachments(stack: Stack) -> None:
    async with operator(stack):
        tool_id = await ready_tool(stack, "lookup", policy=POLICY)
        ready = await status_of(stack, "lookup")
        fetches = len(stack.assistants.requests_matching("GET", TOOL_PATH))
        # Drift checks run (each fetches the tool) and find nothing to correct: no false drift, and no status
        # write at all (any write would move lastSyncedAt).
        await eventually(
            lambda: len(stack.assistants.requests_matching("GET", TOOL_PATH)) >= fetches + 2,
            timeout=10,
            what="two more drift checks",
        )
        assert (await status_of(stack, "lookup")) == ready
        assert stack.assistants.requests_matching("PUT") == []

    obj = await get_tool(stack, "lookup")
    assert obj is not None
    status = obj["status"]
    assert tool_id.startswith("aia_tool_")
    assert status["externalId"] == tool_id
    assert obj["metadata"]["annotations"]["modelops.dev/external-id"] == tool_id
    assert status["remoteStatus"] == "in sync"
    assert status["requiresAuth"] is True
    assert status["attachedAssistantIds"] == [A, B]
    assert status["url"].endswith(f"/v1/Tools/{tool_id}")
    assert status["dateCreated"].endswith("Z") and status["dateUpdated"].endswith("Z")
    [policy] = status["policies"]
    assert policy["id"].startswith("aia_plcy_")
    assert policy["policyDetails"] == POLICY["policyDetails"]
    assert policy["type"] == "CUSTOM"  # the upstream's default, not drift
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }
    assert status["observedGeneration"] == obj["metadata"]["generation"]

    # One POST with the full object; attachments as their own calls.
    [post] = stack.assistants.requests_matching("POST", TOOLS_PATH)
    assert post.json == {
        "name": "lookup-tool",
        "type": "WEBHOOK",
        "enabled": True,
        "description": "Looks up an order",
        "meta": {"url": WEBHOOK["url"], "method": "POST", "input_schema": "{orderId: string}"},
        "policy": {"policy_details": POLICY["policyDetails"]},
    }
    assert post.principal == SANDBOX_ACCOUNT_SID
    assert attached_to(stack, tool_id) == {A, B}
    assert len(stack.assistants.tools) == 1
    reasons = await event_reasons(stack, "lookup")
    assert "Created" in reasons
    assert "Updated" not in reasons and "DriftCorrected" not in reasons


# -------------------------------------------------------------------------------------- updates and drift


@pytest.mark.usefixtures("secret")
async def test_editing_description_and_enabled_puts_the_full_object(stack: Stack) -> None:
    async with operator(stack):
        tool_id = await ready_tool(stack, "edit", policy=POLICY)
        await stack.cluster.patch(
            API,
            PLURAL,
            stack.namespace,
            "edit",
            {"spec": {"description": "Finds an order", "enabled": False}},
        )

        async def applied() -> bool:
            remote = stack.assistants.tool(tool_id) or {}
            status = await status_of(stack, "edit")
            return (
                remote.get("description") == "Finds an order"
                and remote.get("enabled") is False
                and status.get("observedGeneration") == 2
                and status.get("phase") == "Ready"
            )

        await eventually(applied, what="the edit to reach the remote tool")
        [message] = await eventually(lambda: events(stack, "edit", "Updated"), what="an Updated event")

    [put] = stack.assistants.requests_matching("PUT", TOOL_PATH)
    assert put.json == {
        "name": "edit-tool",
        "type": "WEBHOOK",
        "enabled": False,
        "description": "Finds an order",
        "meta": {"url": WEBHOOK["url"], "method": "POST", "input_schema": "{orderId: string}"},
        "policy": {"policy_details": POLICY["policyDetails"]},
    }
    assert message == f"Updated remote object {tool_id} to match the spec: description, enabled"
    assert "DriftCorrected" not in await event_reasons(stack, "edit")
    assert created(stack) == 1


@pytest.mark.usefixtures("secret")
async def test_remote_drift_is_corrected_with_events(stack: Stack) -> None:
    prefix = "Corrected drift on "
    async with operator(stack):
        tool_id = await ready_tool(stack, "drift", policy=POLICY)
        prefix += f"{tool_id}: "
        # Someone uses the console: edits the description, removes the policy, detaches one assistant.
        stack.assistants.edit_out_of_band(tool_id, description="edited in the console", policy=None)
        stack.assistants.detach_out_of_band(B, tool_id)

        def restored() -> bool:
            remote = stack.assistants.tool(tool_id) or {}
            return (
                remote.get("description") == "Looks up an order"
                and [p["policy_details"] for p in remote.get("policies") or []] == [POLICY["policyDetails"]]
                and attached_to(stack, tool_id) == {A, B}
            )

        await eventually(restored, what="the drift to be corrected")
        await wait_phase(stack, "drift", "Ready")
        # A drift check already under way may see part of the edits; the rest is corrected on the next one.
        messages = await eventually(lambda: events(stack, "drift", "DriftCorrected"), what="DriftCorrected")
        assert all(m.startswith(prefix) for m in messages)
        named = {item for m in messages for item in m.removeprefix(prefix).split(", ")}
        assert named == {"description", "policy", f"attachments (+{B})"}

        # Later someone disables it: corrected again, with its own Event.
        stack.assistants.edit_out_of_band(tool_id, enabled=False)
        await eventually(
            lambda: _has(events(stack, "drift", "DriftCorrected"), prefix + "enabled"), what="enabled again"
        )
        assert (stack.assistants.tool(tool_id) or {}).get("enabled") is True

    # Drift that happened while no operator ran is still drift (read from the status after a restart).
    stack.assistants.edit_out_of_band(tool_id, description="edited while the operator was down")
    stack.assistants.detach_out_of_band(A, tool_id)
    async with operator(stack):
        await eventually(
            lambda: _has(
                events(stack, "drift", "DriftCorrected"), prefix + f"description, attachments (+{A})"
            ),
            what="the drift found after the restart to be corrected",
        )
        await wait_phase(stack, "drift", "Ready")
    assert attached_to(stack, tool_id) == {A, B}
    obj = await get_tool(stack, "drift")
    assert obj is not None and obj["metadata"]["generation"] == 1
    assert "Updated" not in await event_reasons(stack, "drift")
    assert created(stack) == 1


async def _count(reasons: Awaitable[list[str]], reason: str, count: int) -> bool:
    return (await reasons).count(reason) == count


async def _has(messages: Awaitable[list[str]], wanted: str) -> bool:
    return wanted in await messages


@pytest.mark.usefixtures("secret")
async def test_attachment_on_an_assistant_the_status_lists_is_detached(stack: Stack) -> None:
    """Attachments are checked on the assistants of the spec and of the status (the only ones knowable)."""
    http = UpstreamHTTP(UPSTREAM, stack.assistants.url, stack.settings().http_policy())
    provider = TwilioAssistantsProvider(TwilioAssistantsClient(http))
    credentials = TwilioCredentials.from_secret(
        {"accountSid": SANDBOX_ACCOUNT_SID, "authToken": SANDBOX_AUTH_TOKEN}
    )
    spec = AssistantToolSpec.model_validate(tool_resource("direct")["spec"])

    def request(saved: dict[str, Any]) -> Request[AssistantToolSpec, TwilioCredentials]:
        ref = ResourceRef(namespace=stack.namespace, name="direct", uid="u-1")
        return Request(resource=ref, spec=spec, credentials=credentials, pending_since=None, saved=saved)

    try:
        made = await provider.create(request({}))
        tool_id = made.external_id
        assert made.up_to_date and made.status_fields["attachedAssistantIds"] == [A, B]
        stack.assistants.attach_out_of_band(C, tool_id)
        # C is not in the spec; the status lists it (attached when last seen): the extra attachment shows ...
        saved = {"attachedAssistantIds": [A, B, C]}
        seen = await provider.observe(request(saved), tool_id)
        assert seen is not None and not seen.up_to_date
        assert seen.differences == (f"attachments (-{C})",)
        fixed = await provider.update(request(saved), seen)
        assert fixed.up_to_date and fixed.status_fields["attachedAssistantIds"] == [A, B]
        assert attached_to(stack, tool_id) == {A, B}
        assert stack.assistants.requests_matching("PUT") == []  # only attachments differed
        # ... while on an assistant the resource never knew, it cannot be seen (documented limitation).
        stack.assistants.attach_out_of_band(C, tool_id)
        unseen = await provider.observe(request({"attachedAssistantIds": [A, B]}), tool_id)
        assert unseen is not None and unseen.up_to_date
    finally:
        await http.aclose()


async def test_a_failed_attachment_after_the_post_does_not_fail_the_create(stack: Stack) -> None:
    """Once the POST succeeded nothing may escape `create` (the lifecycle could otherwise create again)."""
    stack.assistants.implicit_assistants = False
    stack.assistants.add_assistant(A)  # B does not exist
    http = UpstreamHTTP(UPSTREAM, stack.assistants.url, stack.settings().http_policy())
    provider = TwilioAssistantsProvider(TwilioAssistantsClient(http))
    credentials = TwilioCredentials.from_secret(
        {"accountSid": SANDBOX_ACCOUNT_SID, "authToken": SANDBOX_AUTH_TOKEN}
    )
    spec = AssistantToolSpec.model_validate(tool_resource("half")["spec"])
    ref = ResourceRef(namespace=stack.namespace, name="half", uid="u-2")
    request = Request(resource=ref, spec=spec, credentials=credentials, pending_since=None, saved={})
    try:
        made = await provider.create(request)
        assert not made.up_to_date  # the next poll completes it
        assert stack.assistants.count_creates() == 1
        seen = await provider.observe(request, made.external_id)
        assert seen is not None and seen.differences == (f"attachments (+{B})",)
        with pytest.raises(
            PermanentUpstreamError, match=f"cannot attach tool {made.external_id} to assistant {B}"
        ):
            await provider.update(request, seen)
    finally:
        await http.aclose()


@pytest.mark.usefixtures("secret")
async def test_attachment_list_changes_in_the_spec(stack: Stack) -> None:
    async with operator(stack):
        tool_id = await ready_tool(stack, "attach")
        await stack.cluster.patch(API, PLURAL, stack.namespace, "attach", {"spec": {"assistantIds": [B, C]}})

        async def reattached() -> bool:
            status = await status_of(stack, "attach")
            return status.get("attachedAssistantIds") == [B, C] and status.get("phase") == "Ready"

        await eventually(reattached, what="the status to list the new attachments")
        [message] = await eventually(lambda: events(stack, "attach", "Updated"), what="an Updated event")
    assert attached_to(stack, tool_id) == {B, C}
    assert message == f"Updated remote object {tool_id} to match the spec: attachments (+{C}, -{A})"
    assert stack.assistants.requests_matching("PUT") == []  # the tool itself did not change
    assert created(stack) == 1


@pytest.mark.usefixtures("secret")
async def test_remote_deletion_creates_the_tool_again(stack: Stack) -> None:
    async with operator(stack):
        first = await ready_tool(stack, "phoenix", policy=POLICY)
        stack.assistants.delete_out_of_band(first)
        await wait_event(stack, "phoenix", "RemoteDeleted")

        async def recreated() -> str | None:
            status = await status_of(stack, "phoenix")
            second = status.get("id")
            ok = (
                status.get("phase") == "Ready"
                and second not in (None, first)
                and status.get("externalId") == second
            )
            return second if ok else None

        second = await eventually(recreated, what="a new tool in sync")
        await eventually(
            lambda: _count(event_reasons(stack, "phoenix"), "Created", 2), what="two Created events"
        )
    assert created(stack) == 2
    assert [t["id"] for t in stack.assistants.tools] == [second]
    assert attached_to(stack, second) == {A, B}
    assert (await status_of(stack, "phoenix"))["attachedAssistantIds"] == [A, B]
    annotations = (await get_tool(stack, "phoenix"))["metadata"]["annotations"]  # type: ignore[index]
    assert annotations["modelops.dev/external-id"] == second


# ---------------------------------------------------------------------------------------- crash recovery


@pytest.mark.usefixtures("secret")
async def test_operator_killed_between_post_and_status_write_makes_one_tool(stack: Stack) -> None:
    gate = stack.assistants.gate("POST", TOOLS_PATH)
    first = await stack.start_operator()
    await stack.apply(tool_resource("crash"))
    await gate.wait_arrived()  # the fake has created the tool; its answer is held back
    await first.kill()  # the operator dies before it learns the id
    gate.release()
    annotations = (await get_tool(stack, "crash"))["metadata"]["annotations"]  # type: ignore[index]
    assert "modelops.dev/create-pending-since" in annotations
    assert "modelops.dev/external-id" not in annotations
    [orphan] = stack.assistants.tools
    assert attached_to(stack, orphan["id"]) == set()

    async with operator(stack):
        done = await wait_phase(stack, "crash", "Ready")
        await wait_event(stack, "crash", "Recovered")
    assert stack.assistants.count_creates() == 1
    assert done["status"]["id"] == done["status"]["externalId"] == orphan["id"]
    assert attached_to(stack, orphan["id"]) == {A, B}  # the attachments the crash skipped are made


@pytest.mark.usefixtures("secret")
async def test_two_candidates_after_a_crash_stall_naming_both(stack: Stack) -> None:
    gate = stack.assistants.gate("POST", TOOLS_PATH)
    first = await stack.start_operator()
    await stack.apply(tool_resource("twins"))
    await gate.wait_arrived()
    await first.kill()
    gate.release()
    # Meanwhile someone else creates a tool with the same name.
    async with httpx.AsyncClient(auth=(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)) as client:
        made = await client.post(
            f"{stack.assistants.url}/v1/Tools",
            json={"name": "twins-tool", "type": "WEBHOOK", "enabled": True},
        )
    assert made.status_code == 201
    ids = [t["id"] for t in stack.assistants.tools]
    assert len(ids) == 2

    async with operator(stack):
        stalled = await wait_stalled(stack, "twins", "AmbiguousRemote")
    assert all(tool_id in stalled["message"] for tool_id in ids)
    assert "modelops.dev/external-id" in stalled["message"]
    assert (await status_of(stack, "twins"))["phase"] == "Pending"
    assert stack.assistants.count_creates() == 2  # nothing more


# ------------------------------------------------------------------------------------------------ delete


@pytest.mark.usefixtures("secret")
async def test_delete_policy_delete_detaches_then_deletes_before_the_finalizer(stack: Stack) -> None:
    stack.assistants.require_detach_before_delete = True
    async with operator(stack):
        tool_id = await ready_tool(stack, "gone", deletionPolicy="Delete")
        await stack.cluster.delete(API, PLURAL, stack.namespace, "gone")
        await eventually(lambda: gone(stack, "gone", PLURAL), what="the resource to disappear")
        await wait_event(stack, "gone", "Deleted")
    assert stack.assistants.tools == []
    assert attached_to(stack, tool_id) == set()
    [delete] = stack.assistants.requests_matching("DELETE", rf"^/v1/Tools/{tool_id}$")
    assert delete.status == 204
    detaches = stack.assistants.requests_matching("DELETE", rf"^/v1/Assistants/[^/]+/Tools/{tool_id}$")
    assert sorted(r.path.split("/")[3] for r in detaches) == [A, B]
    assert all(r.at <= delete.at for r in detaches)
    # The finalizer was released only after a read confirmed the deletion (404).
    confirm = [
        r for r in stack.assistants.requests_matching("GET", rf"^/v1/Tools/{tool_id}$") if r.at > delete.at
    ]
    assert confirm and confirm[-1].status == 404


@pytest.mark.usefixtures("secret")
async def test_delete_policy_orphan_keeps_the_tool_and_its_attachments(stack: Stack) -> None:
    async with operator(stack):
        tool_id = await ready_tool(stack, "kept", deletionPolicy="Orphan")
        await stack.cluster.delete(API, PLURAL, stack.namespace, "kept")
        await eventually(lambda: gone(stack, "kept", PLURAL), what="the resource to disappear")
    assert stack.assistants.requests_matching("DELETE") == []
    assert stack.assistants.tool(tool_id) is not None
    assert attached_to(stack, tool_id) == {A, B}


# ---------------------------------------------------------------------------------------- upstream errors


@pytest.mark.usefixtures("secret")
async def test_rate_limits_and_server_errors_end_with_one_tool(stack: Stack) -> None:
    assistants = stack.assistants
    assistants.faults.rate_limit(times=2, retry_after=None, method="POST", path=TOOLS_PATH)
    assistants.faults.server_error(500, times=1, method="POST", path=TOOLS_PATH)
    assistants.faults.server_error(503, times=2, method="GET", path=TOOL_PATH)
    assistants.faults.rate_limit(times=1, retry_after=None, method="POST", path=r"^/v1/Assistants/")
    async with operator(stack):
        tool_id = await ready_tool(stack, "storm")
        await wait_event(stack, "storm", "UpstreamUnavailable")
    assert created(stack) == 1 and assistants.count_creates() == 1
    posts = assistants.requests_matching("POST", TOOLS_PATH)
    assert [r.status for r in posts] == [429, 429, 500, 201]
    # After the 500 (the upstream might have created it) the operator looked before posting again.
    lookups = [r for r in assistants.requests_matching("GET", TOOLS_PATH) if posts[2].at < r.at < posts[3].at]
    assert lookups
    assert [r.status for r in assistants.requests if r.status >= 500].count(503) == 2
    assert attached_to(stack, tool_id) == {A, B}


@pytest.mark.usefixtures("secret")
async def test_upstream_400_is_failed_and_stalled_with_its_message(stack: Stack) -> None:
    async with operator(stack):
        # Passes the CRD's pattern, but the upstream wants an absolute URL with a host.
        await stack.apply(tool_resource("rejected", meta={"url": "https://", "method": "POST"}))
        failed = await wait_phase(stack, "rejected", "Failed")
        stalled = await wait_stalled(stack, "rejected", "UpstreamRejected")
        await wait_event(stack, "rejected", "UpstreamRejected")
        assert "HTTP 400" in stalled["message"]
        assert "meta.url is not an absolute http(s) URL" in stalled["message"]
        assert condition(failed, "Ready")["status"] == "False"
        assert "modelops.dev/create-pending-since" not in failed["metadata"].get("annotations", {})
        assert stack.assistants.count_creates() == 0
        # A corrected spec (a new generation) tries again.
        await stack.cluster.patch(API, PLURAL, stack.namespace, "rejected", {"spec": {"meta": WEBHOOK}})
        await wait_phase(stack, "rejected", "Ready")
    assert stack.assistants.count_creates() == 1
