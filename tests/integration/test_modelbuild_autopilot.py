"""ModelBuild / twilioAutopilot end to end: the real operator, the emulated cluster, the fake Twilio."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest

from modelops_operator.core.kube import KubeClient
from modelops_operator.providers.base import ResourceRef
from modelops_operator.providers.twilio_autopilot.provider import derived_unique_name
from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, Stack
from tests.integration.conftest import (
    ASSISTANT,
    MB,
    PLURAL,
    condition,
    create_secret,
    event_reasons,
    get_mb,
    gone,
    modelbuild,
    request_reconcile,
    status_of,
    wait_condition,
    wait_event,
    wait_phase,
)
from tests.support.waiting import eventually

CREATE_PATH = rf"^/v1/Assistants/{ASSISTANT}/ModelBuilds$"


def creates(stack: Stack) -> int:
    return len([r for r in stack.autopilot.requests_matching("POST", CREATE_PATH) if r.status == 201])


async def test_full_lifecycle(stack: Stack) -> None:
    await create_secret(stack)
    stack.autopilot.stage_seconds = 1.5  # each stage outlasts a poll interval: "building" is seen too
    async with stack.operator():
        await stack.apply(modelbuild("bot"))
        running = await wait_phase(stack, "bot", "Running")
        assert running["status"]["remoteStatus"] in ("enqueued", "building")
        assert condition(running, "Reconciling")["status"] == "True"
        done = await wait_phase(stack, "bot", "Succeeded")
        await wait_event(stack, "bot", "Succeeded")  # posted by kopf in the background

    status = done["status"]
    meta = done["metadata"]
    sid = status["externalId"]
    assert sid.startswith("UG")
    assert meta["annotations"]["modelops.dev/external-id"] == sid
    assert "modelops.dev/finalizer" in meta["finalizers"]
    assert status["remoteStatus"] == "completed"
    assert status["observedGeneration"] == meta["generation"]
    mirrored = status["twilioAutopilot"]
    assert mirrored["sid"] == sid
    assert mirrored["accountSid"] == SANDBOX_ACCOUNT_SID
    expected_name = derived_unique_name(ResourceRef(namespace=stack.namespace, name="bot", uid=meta["uid"]))
    assert mirrored["uniqueName"] == expected_name
    assert mirrored["dateCreated"].endswith("Z") and mirrored["url"].endswith(sid)
    assert isinstance(mirrored["buildDuration"], int)
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }
    assert all(c["observedGeneration"] == meta["generation"] for c in status["conditions"])

    # Exactly one POST, with the derived unique name, form-encoded and authenticated.
    posts = stack.autopilot.requests_matching("POST", CREATE_PATH)
    assert len(posts) == 1
    assert posts[0].form == {"UniqueName": expected_name}
    assert posts[0].principal == SANDBOX_ACCOUNT_SID
    reasons = await event_reasons(stack, "bot")
    assert "Created" in reasons and "RemoteStatusChanged" in reasons and "Succeeded" in reasons
    events = await stack.cluster.events_for(stack.namespace, "bot")
    assert {e["source"]["component"] for e in events} == {"modelops-operator"}


async def test_no_status_write_when_nothing_changed(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator():
        await stack.apply(modelbuild("quiet", polling={"intervalSeconds": 1, "driftIntervalSeconds": 1}))
        done = await wait_phase(stack, "quiet", "Succeeded")
        version = done["metadata"]["resourceVersion"]
        polls = len(stack.autopilot.requests_matching("GET"))
        # Several drift checks happen (each is a GET) ...
        await eventually(
            lambda: len(stack.autopilot.requests_matching("GET")) >= polls + 3,
            timeout=10,
            what="three more drift checks",
        )
        # ... and none of them wrote to the resource.
        assert (await get_mb(stack, "quiet"))["metadata"]["resourceVersion"] == version  # type: ignore[index]


async def test_unique_name_update_renames_the_remote_build(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator():
        await stack.apply(modelbuild("rename", uniqueName="first-name"))
        done = await wait_phase(stack, "rename", "Succeeded")
        sid = done["status"]["externalId"]
        await stack.cluster.patch(
            MB,
            PLURAL,
            stack.namespace,
            "rename",
            {"spec": {"twilioAutopilot": {"uniqueName": "second-name"}}},
        )

        async def renamed() -> bool:
            status = await status_of(stack, "rename")
            return status.get("twilioAutopilot", {}).get("uniqueName") == "second-name"

        await eventually(renamed, what="status to mirror the new unique name")
    updates = stack.autopilot.requests_matching("POST", rf"/ModelBuilds/{sid}$")
    assert [r.form for r in updates] == [{"UniqueName": "second-name"}]
    assert stack.autopilot.build(ASSISTANT, sid)["unique_name"] == "second-name"  # type: ignore[index]
    assert creates(stack) == 1
    assert "Updated" in await event_reasons(stack, "rename")
    final = await get_mb(stack, "rename")
    assert final["status"]["observedGeneration"] == final["metadata"]["generation"] == 2  # type: ignore[index]


async def test_delete_with_policy_delete_removes_remote_build_before_the_finalizer(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator():
        await stack.apply(modelbuild("gone"))
        sid = (await wait_phase(stack, "gone", "Succeeded"))["status"]["externalId"]
        await stack.cluster.delete(MB, PLURAL, stack.namespace, "gone")
        await eventually(lambda: gone(stack, "gone"), what="the resource to disappear")
    assert stack.autopilot.build(ASSISTANT, sid) is None
    deletes = stack.autopilot.requests_matching("DELETE", rf"/ModelBuilds/{sid}$")
    assert [r.status for r in deletes] == [204]
    # The finalizer was released only after a read confirmed the deletion (404).
    confirm = [
        r for r in stack.autopilot.requests_matching("GET", rf"/ModelBuilds/{sid}$") if r.at > deletes[0].at
    ]
    assert confirm and confirm[-1].status == 404


async def test_delete_with_policy_orphan_keeps_remote_build(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator():
        await stack.apply(modelbuild("kept", deletionPolicy="Orphan"))
        sid = (await wait_phase(stack, "kept", "Succeeded"))["status"]["externalId"]
        await stack.cluster.delete(MB, PLURAL, stack.namespace, "kept")
        await eventually(lambda: gone(stack, "kept"), what="the resource to disappear")
    assert stack.autopilot.requests_matching("DELETE") == []
    assert stack.autopilot.build(ASSISTANT, sid)["status"] == "completed"  # type: ignore[index]


async def test_operator_killed_between_create_and_status_write_makes_one_build(stack: Stack) -> None:
    await create_secret(stack)
    gate = stack.autopilot.gate("POST", CREATE_PATH)
    first = await stack.start_operator()
    await stack.apply(modelbuild("crash"))
    await gate.wait_arrived()  # the fake has created the build; its answer is held back
    assert stack.autopilot.count_creates() == 1
    await first.kill()  # the operator dies before it learns the sid
    gate.release()
    obj = await get_mb(stack, "crash")
    assert "modelops.dev/create-pending-since" in obj["metadata"]["annotations"]  # type: ignore[index]
    assert "modelops.dev/external-id" not in obj["metadata"]["annotations"]  # type: ignore[index]

    async with stack.operator():
        done = await wait_phase(stack, "crash", "Succeeded")
    assert stack.autopilot.count_creates() == 1
    assert len(stack.autopilot.builds) == 1
    assert done["status"]["externalId"] == stack.autopilot.builds[0]["sid"]
    assert "Recovered" in await event_reasons(stack, "crash")


async def test_rate_limit_storm_creates_one_build_with_bounded_retries(stack: Stack) -> None:
    await create_secret(stack)
    stack.autopilot.faults.rate_limit(times=12, retry_after=None)
    async with stack.operator():
        await stack.apply(modelbuild("storm"))
        await wait_phase(stack, "storm", "Succeeded", timeout=40)
    assert creates(stack) == 1
    limited = [r for r in stack.autopilot.requests if r.status == 429]
    assert len(limited) == 12
    # Backoff with jitter: the storm's requests are spread out, not hammered.
    span = limited[-1].at - limited[0].at
    # With the test's 0.05 s backoff base, the jittered waits between 12 attempts (3 passes of 4 in-client
    # attempts, with lifecycle backoff between passes) add up to at least 0.8 s: never a tight loop.
    assert span >= 0.8, f"12 retries within {span:.2f}s"
    gaps = [b.at - a.at for a, b in itertools.pairwise(limited)]
    assert min(gaps) >= 0.02, f"two retries {min(gaps):.3f}s apart"
    assert len(stack.autopilot.requests_matching("POST", CREATE_PATH)) <= 12 + 1


async def test_rate_limit_retry_after_is_honoured(stack: Stack) -> None:
    await create_secret(stack)
    stack.autopilot.faults.rate_limit(times=1, retry_after=1.5, method="POST")
    async with stack.operator():
        await stack.apply(modelbuild("patient"))
        await wait_phase(stack, "patient", "Running")
    posts = stack.autopilot.requests_matching("POST", CREATE_PATH)
    assert [r.status for r in posts] == [429, 201]
    assert posts[1].at - posts[0].at >= 1.5


async def test_failed_build_is_failed_and_stalled_with_the_error_code(stack: Stack) -> None:
    await create_secret(stack)
    stack.autopilot.script("doomed", outcome="failed", error_code=23001)
    async with stack.operator():
        await stack.apply(modelbuild("doomed", uniqueName="doomed-1"))
        failed = await wait_phase(stack, "doomed", "Failed")
        stalled = await wait_condition(stack, "doomed", "Stalled", "True", "RemoteFailed")
        await wait_event(stack, "doomed", "RemoteFailed")
    assert "23001" in stalled["message"]
    assert failed["status"]["twilioAutopilot"]["errorCode"] == 23001
    assert condition(failed, "Ready")["status"] == "False"


async def test_adoption_of_an_existing_build(stack: Stack) -> None:
    await create_secret(stack)
    import httpx

    async with httpx.AsyncClient(auth=(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)) as client:
        made = await client.post(
            f"{stack.autopilot.url}/v1/Assistants/{ASSISTANT}/ModelBuilds",
            data={"UniqueName": "made-by-hand"},
        )
    sid = made.json()["sid"]
    before = creates(stack)
    async with stack.operator():
        await stack.apply(modelbuild("adopted", annotations={"modelops.dev/external-id": sid}))
        done = await wait_phase(stack, "adopted", "Succeeded")
        await wait_event(stack, "adopted", "Adopted")
    assert creates(stack) == before
    assert done["status"]["externalId"] == sid
    # Without a uniqueName in the spec, the adopted build keeps its own name.
    assert done["status"]["twilioAutopilot"]["uniqueName"] == "made-by-hand"
    assert stack.autopilot.requests_matching("POST", rf"/ModelBuilds/{sid}$") == []


async def test_adoption_of_a_missing_build_is_stalled(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator():
        await stack.apply(modelbuild("ghost", annotations={"modelops.dev/external-id": "UG" + "0" * 32}))
        stalled = await wait_condition(stack, "ghost", "Stalled", "True", "AdoptionFailed")
    assert "UG" + "0" * 32 in stalled["message"]
    assert creates(stack) == 0


async def test_missing_secret_then_created_recovers(stack: Stack) -> None:
    async with stack.operator():
        await stack.apply(modelbuild("early", secret="late-secret"))
        stalled = await wait_condition(stack, "early", "Stalled", "True", "CredentialsMissing")
        assert "late-secret" in stalled["message"] and stack.namespace in stalled["message"]
        assert ((await get_mb(stack, "early")) or {})["status"]["phase"] == "Pending"
        assert stack.autopilot.requests == []
        await create_secret(stack, "late-secret")
        await wait_phase(stack, "early", "Succeeded", timeout=30)
        await wait_event(stack, "early", "Recovered")
    assert creates(stack) == 1


async def test_wrong_credentials_stall_without_leaking_the_secret(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    leaked = "wrong-token-Zq9x7Kd2"
    await create_secret(stack, "bad", accountSid=SANDBOX_ACCOUNT_SID, authToken=leaked)
    async with stack.operator():
        await stack.apply(modelbuild("denied", secret="bad"))
        stalled = await wait_condition(stack, "denied", "Stalled", "True", "CredentialsInvalid")
        await wait_event(stack, "denied", "CredentialsInvalid")
    assert "20003" in stalled["message"] and "'bad'" in stalled["message"]
    obj = await get_mb(stack, "denied")
    events = await stack.cluster.events_for(stack.namespace, "denied")
    assert leaked not in repr(obj)
    assert leaked not in repr(events)
    assert leaked not in caplog.text
    assert creates(stack) == 0


async def test_remote_deletion_after_success_recreates_the_build(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator():
        await stack.apply(modelbuild("phoenix", polling={"intervalSeconds": 1, "driftIntervalSeconds": 1}))
        first = (await wait_phase(stack, "phoenix", "Succeeded"))["status"]["externalId"]
        stack.autopilot.delete_out_of_band(ASSISTANT, first)
        await wait_event(stack, "phoenix", "RemoteDeleted")

        async def recreated() -> bool:
            status = await status_of(stack, "phoenix")
            return status.get("phase") == "Succeeded" and status.get("externalId") not in (None, first)

        await eventually(recreated, what="a new build to complete")
    assert creates(stack) == 2
    second = (await get_mb(stack, "phoenix"))["status"]["externalId"]  # type: ignore[index]
    assert (await get_mb(stack, "phoenix"))["metadata"]["annotations"]["modelops.dev/external-id"] == second  # type: ignore[index]


async def test_timeout_is_stalled(stack: Stack) -> None:
    await create_secret(stack)
    stack.autopilot.script("forever", outcome="hang")
    async with stack.operator():
        await stack.apply(
            modelbuild("slow", uniqueName="forever-1", polling={"intervalSeconds": 1, "timeoutSeconds": 2})
        )
        stalled = await wait_condition(stack, "slow", "Stalled", "True", "Timeout")
    assert "building" in stalled["message"]
    assert ((await get_mb(stack, "slow")) or {})["status"]["phase"] == "Running"


async def test_paused_makes_no_remote_calls_until_resumed(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator():
        await stack.apply(modelbuild("held", annotations={"modelops.dev/paused": "true"}))
        await wait_condition(stack, "held", "Reconciling", "False", "Paused")
        assert stack.autopilot.requests == []
        await stack.cluster.patch(
            MB, PLURAL, stack.namespace, "held", {"metadata": {"annotations": {"modelops.dev/paused": None}}}
        )
        await wait_phase(stack, "held", "Succeeded")
    assert creates(stack) == 1


async def test_reconcile_requested_polls_now(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator():
        # A long drift interval: only the annotation can explain the next GET.
        await stack.apply(modelbuild("nudge", polling={"intervalSeconds": 1, "driftIntervalSeconds": 3600}))
        sid = (await wait_phase(stack, "nudge", "Succeeded"))["status"]["externalId"]
        stack.autopilot.delete_out_of_band(ASSISTANT, sid)
        await request_reconcile(stack, "nudge", "now")
        await wait_event(stack, "nudge", "RemoteDeleted", timeout=10)


async def test_the_operators_own_write_seen_before_its_answer_starts_no_second_pass(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load the watch often shows the operator its own metadata write (finalizer and marker, then the
    external id) before the write's answer arrives. That event must not queue another pass: at 10,000
    resources the extra passes were 10,000 reads of the builds just created."""
    original = KubeClient.merge_patch

    async def late_answer(
        self: KubeClient, path: str, patch: dict[str, Any], *, subresource: str | None = None
    ) -> dict[str, Any]:
        result = await original(self, path, patch, subresource=subresource)
        if subresource is None and f"/{PLURAL}/" in path:
            await asyncio.sleep(1.0)  # the fault: a slow answer; the watch has long delivered the write
        return result

    monkeypatch.setattr(KubeClient, "merge_patch", late_answer)
    await create_secret(stack)
    never = {"intervalSeconds": 3600, "driftIntervalSeconds": 3600}  # no poll explains a read
    async with stack.operator():
        await stack.apply(modelbuild("own-writes", polling=never))
        running = await wait_phase(stack, "own-writes", "Running", timeout=30)
        sid = running["status"]["externalId"]
        # The barrier: a change upstream that only a pass started after it can report, asked for by a person.
        stack.autopilot.force_status(ASSISTANT, sid, "failed", error_code=90000)
        await request_reconcile(stack, "own-writes", "barrier")
        await wait_phase(stack, "own-writes", "Failed", timeout=30)
    reads = stack.autopilot.requests_matching("GET", rf"/ModelBuilds/{sid}$")
    assert len(reads) == 1, [r.path for r in reads]  # the requested pass's, and no other
    assert creates(stack) == 1
