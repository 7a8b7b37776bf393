"""ModelBuild / datarobot end to end: the real operator, the emulated cluster, the fake DataRobot."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelops_sandbox.fakes.base import FaultRule
from modelops_sandbox.fakes.datarobot import CUSTOM_MODEL_VERSIONS_PATH, STATUS_PATH, STATUS_TYPE
from modelops_sandbox.stack import SANDBOX_DATAROBOT_TOKEN, Stack
from tests.integration.conftest import (
    MB,
    PLURAL,
    condition,
    create_secret,
    event_reasons,
    get_mb,
    gone,
    status_of,
    wait_condition,
    wait_event,
    wait_phase,
)
from tests.support.waiting import eventually

SECRET = "datarobot"
PENDING = "modelops.dev/create-pending-since"
EXTERNAL_ID = "modelops.dev/external-id"


def drbuild(
    name: str,
    blueprint: str,
    *,
    annotations: dict[str, str] | None = None,
    policy: str = "Delete",
    polling: dict[str, int] | None = None,
    **datarobot: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": MB,
        "kind": "ModelBuild",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "datarobot": {"llmBlueprintId": blueprint, **datarobot},
            "credentialsSecretRef": {"name": SECRET},
            "deletionPolicy": policy,
            "polling": polling or {"intervalSeconds": 1},
        },
    }


async def secret(stack: Stack) -> None:
    await create_secret(stack, SECRET, token=SANDBOX_DATAROBOT_TOKEN)


def started(stack: Stack) -> int:
    """Builds the fake accepted (a 202), whatever was deleted since."""
    return stack.datarobot.count_creates()


async def annotate(stack: Stack, name: str, annotations: dict[str, str | None]) -> None:
    await stack.cluster.patch(MB, PLURAL, stack.namespace, name, {"metadata": {"annotations": annotations}})


async def test_success_via_303(stack: Stack) -> None:
    await secret(stack)
    # Stages longer than a poll interval (the first poll comes within two), so the job is seen in progress.
    stack.datarobot.script("bp-ok", stage_seconds=2.0)
    async with stack.operator():
        await stack.apply(drbuild("qa", "bp-ok"))
        running = await wait_phase(stack, "qa", "Running")
        assert condition(running, "Reconciling")["status"] == "True"
        done = await wait_phase(stack, "qa", "Succeeded")
        await wait_event(stack, "qa", "Succeeded")

    status = done["status"]
    model = status["externalId"]
    assert done["metadata"]["annotations"][EXTERNAL_ID] == model
    assert status["remoteStatus"] == "COMPLETED"
    version = stack.datarobot.version_id_of(model)
    assert status["datarobot"] == {
        "statusId": stack.datarobot.status_id_of(model),
        "customModelId": model,
        "customModelVersionId": version,
        "location": f"{stack.datarobot.url}/api/v2/customModels/{model}/versions/{version}/",
        "statusType": STATUS_TYPE,
    }
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }
    posts = stack.datarobot.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)
    assert len(posts) == 1
    assert posts[0].json == {
        "llmBlueprintId": "bp-ok",
        "promptColumnName": "promptText",
        "targetColumnName": "resultText",
    }
    assert posts[0].header("Authorization") == "Bearer REDACTED"
    # The job went through its stages and the 303 was never followed.
    polled = [r.status for r in stack.datarobot.requests_matching("GET", STATUS_PATH)]
    assert polled[-1] == 303 and 200 in polled
    assert stack.datarobot.requests_matching("GET", r"/versions/") == []
    reasons = await event_reasons(stack, "qa")
    assert "Created" in reasons and "RemoteStatusChanged" in reasons


async def test_success_via_200_completed(stack: Stack) -> None:
    await secret(stack)
    stack.datarobot.script("bp-plain", completion="200")
    async with stack.operator():
        await stack.apply(
            drbuild(
                "plain",
                "bp-plain",
                promptColumnName="question",
                targetColumnName="answer",
                llmTestConfigurationIds=["tc-1", "tc-2"],
            )
        )
        done = await wait_phase(stack, "plain", "Succeeded")
    model = done["status"]["externalId"]
    assert done["status"]["remoteStatus"] == "COMPLETED"
    # A 200 names no version: it is read from the custom model.
    assert done["status"]["datarobot"]["customModelVersionId"] == stack.datarobot.version_id_of(model)
    assert [r.status for r in stack.datarobot.requests_matching("GET", STATUS_PATH)][-1] == 200
    assert stack.datarobot.requests_matching("POST")[0].json == {
        "llmBlueprintId": "bp-plain",
        "promptColumnName": "question",
        "targetColumnName": "answer",
        "llmTestConfigurationIds": ["tc-1", "tc-2"],
    }


@pytest.mark.parametrize(
    ("outcome", "phase", "reason"),
    [
        ("ERROR", "Failed", "RemoteFailed"),
        ("ABORTED", "Canceled", "RemoteCanceled"),
        ("EXPIRED", "Failed", "RemoteFailed"),
    ],
)
async def test_failed_job_is_stalled_with_the_upstream_message(
    stack: Stack, outcome: str, phase: str, reason: str
) -> None:
    await secret(stack)
    said = f"upstream says {outcome.lower()}: vector database missing"
    stack.datarobot.script("bp-doomed", outcome=outcome, message=said)  # type: ignore[arg-type]
    async with stack.operator():
        await stack.apply(drbuild("doomed", "bp-doomed"))
        failed = await wait_phase(stack, "doomed", phase)
        stalled = await wait_condition(stack, "doomed", "Stalled", "True", reason)
        event = await wait_event(stack, "doomed", reason)
    assert said in stalled["message"] and outcome in stalled["message"]
    assert said in event["message"] and event["type"] == "Warning"
    assert failed["status"]["remoteStatus"] == outcome
    assert failed["status"]["datarobot"]["message"] == said
    assert condition(failed, "Ready")["status"] == "False"
    assert condition(failed, "Reconciling")["status"] == "False"


async def test_422_on_the_status_url_is_a_readable_stall(stack: Stack) -> None:
    await secret(stack)
    detail = {"detail": [{"loc": ["path", "statusId"], "msg": "value is not a valid uuid", "type": "uuid"}]}
    stack.datarobot.faults.respond(422, detail, method="GET", path=STATUS_PATH)
    async with stack.operator():
        await stack.apply(drbuild("bad-id", "bp-422"))
        stalled = await wait_condition(stack, "bad-id", "Stalled", "True", "UpstreamRejected")
    assert "HTTP 422" in stalled["message"]
    assert "statusId: value is not a valid uuid" in stalled["message"]
    assert "{" not in stalled["message"]  # parsed, not the raw body
    assert started(stack) == 1


async def test_422_on_the_start_is_a_readable_stall_and_clears_the_marker(stack: Stack) -> None:
    await secret(stack)
    detail = {"detail": [{"loc": ["body", "llmTestConfigurationIds", 0], "msg": "unknown test", "type": "x"}]}
    stack.datarobot.faults.respond(422, detail, method="POST", path=CUSTOM_MODEL_VERSIONS_PATH)
    async with stack.operator():
        await stack.apply(drbuild("rejected", "bp-422", llmTestConfigurationIds=["nope"]))
        stalled = await wait_condition(stack, "rejected", "Stalled", "True", "UpstreamRejected")
    assert "llmTestConfigurationIds.0: unknown test" in stalled["message"]
    assert PENDING not in ((await get_mb(stack, "rejected")) or {})["metadata"].get("annotations", {})
    assert started(stack) == 0


async def test_crash_between_start_and_status_write_asks_a_person_then_adopts(stack: Stack) -> None:
    await secret(stack)
    gate = stack.datarobot.gate("POST", CUSTOM_MODEL_VERSIONS_PATH)
    first = await stack.start_operator()
    await stack.apply(drbuild("crash", "bp-crash"))
    await gate.wait_arrived()  # the fake has started the build; its answer is held back
    await first.kill()  # the operator dies before it learns the ids
    gate.release()
    assert started(stack) == 1
    model = stack.datarobot.custom_models[0]["id"]
    annotations = ((await get_mb(stack, "crash")) or {})["metadata"]["annotations"]
    assert PENDING in annotations and EXTERNAL_ID not in annotations

    async with stack.operator():
        stalled = await wait_condition(stack, "crash", "Stalled", "True", "CreateUnconfirmed")
        await wait_event(stack, "crash", "CreateUnconfirmed")
        assert (await status_of(stack, "crash"))["phase"] == "Pending"
        # What to check and both ways to resume, spelled out.
        assert "bp-crash" in stalled["message"] and annotations[PENDING][:19] in stalled["message"]
        assert (
            f"kubectl annotate modelbuild/crash -n {stack.namespace} {EXTERNAL_ID}=<customModelId>"
            in stalled["message"]
        )
        assert f"kubectl annotate modelbuild/crash -n {stack.namespace} {PENDING}-" in stalled["message"]
        assert started(stack) == 1  # nothing started blindly

        await annotate(stack, "crash", {EXTERNAL_ID: model})
        done = await wait_phase(stack, "crash", "Succeeded")
        await wait_event(stack, "crash", "Adopted")
    assert started(stack) == 1
    assert done["status"]["externalId"] == model
    assert done["status"]["datarobot"]["customModelVersionId"] == stack.datarobot.version_id_of(model)
    assert condition(done, "Stalled")["status"] == "False"


async def test_unconfirmed_start_resumes_when_the_marker_is_removed(stack: Stack) -> None:
    await secret(stack)
    # The connection drops after the request was sent: the operator cannot know whether a build started.
    stack.datarobot.faults.reset(method="POST", path=CUSTOM_MODEL_VERSIONS_PATH)
    async with stack.operator():
        await stack.apply(drbuild("lost", "bp-lost"))
        await wait_condition(stack, "lost", "Stalled", "True", "CreateUnconfirmed")
        assert started(stack) == 0
        # A person checked DataRobot and found nothing: removing the marker lets the operator start one.
        await annotate(stack, "lost", {PENDING: None})
        done = await wait_phase(stack, "lost", "Succeeded")
    assert started(stack) == 1
    assert done["status"]["externalId"] == stack.datarobot.custom_models[0]["id"]
    assert "Created" in await event_reasons(stack, "lost")


async def test_a_202_that_does_not_parse_is_not_a_refusal(stack: Stack) -> None:
    await secret(stack)
    # The upstream accepted something but its answer is garbage: starting again could duplicate the build.
    stack.datarobot.faults.add(
        FaultRule(method="POST", path=CUSTOM_MODEL_VERSIONS_PATH, status=202, kind="malformed")
    )
    async with stack.operator():
        await stack.apply(drbuild("garbled", "bp-garbled"))
        stalled = await wait_condition(stack, "garbled", "Stalled", "True", "CreateUnconfirmed")
    assert "bp-garbled" in stalled["message"]
    assert len(stack.datarobot.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)) == 1


async def test_delete_removes_the_custom_model_before_the_finalizer(stack: Stack) -> None:
    await secret(stack)
    async with stack.operator():
        await stack.apply(drbuild("gone", "bp-gone"))
        model = (await wait_phase(stack, "gone", "Succeeded"))["status"]["externalId"]
        await stack.cluster.delete(MB, PLURAL, stack.namespace, "gone")
        await eventually(lambda: gone(stack, "gone"), what="the resource to disappear")
    assert stack.datarobot.custom_model(model) is None
    deletes = stack.datarobot.requests_matching("DELETE", rf"^/api/v2/customModels/{model}/$")
    assert [r.status for r in deletes] == [204]
    confirm = [
        r
        for r in stack.datarobot.requests_matching("GET", rf"^/api/v2/customModels/{model}/$")
        if r.at > deletes[0].at
    ]
    assert confirm and confirm[-1].status == 404


async def test_orphan_keeps_the_custom_model(stack: Stack) -> None:
    await secret(stack)
    async with stack.operator():
        await stack.apply(drbuild("kept", "bp-kept", policy="Orphan"))
        model = (await wait_phase(stack, "kept", "Succeeded"))["status"]["externalId"]
        await stack.cluster.delete(MB, PLURAL, stack.namespace, "kept")
        await eventually(lambda: gone(stack, "kept"), what="the resource to disappear")
        await wait_event(stack, "kept", "Orphaned")
    assert stack.datarobot.requests_matching("DELETE") == []
    assert (stack.datarobot.custom_model(model) or {}).get("latestVersion") is not None


async def test_delete_while_the_job_runs_waits_for_it_to_end(stack: Stack) -> None:
    await secret(stack)
    stack.datarobot.script("bp-slow", stage_seconds=1.0)  # INITIALIZED 1 s, RUNNING 1 s, then 303
    async with stack.operator():
        await stack.apply(drbuild("busy", "bp-slow"))
        model = (await wait_phase(stack, "busy", "Running"))["status"]["externalId"]
        await stack.cluster.delete(MB, PLURAL, stack.namespace, "busy")
        await eventually(lambda: gone(stack, "busy"), timeout=20, what="the resource to disappear")
    post = stack.datarobot.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)[0]
    deletes = stack.datarobot.requests_matching("DELETE", rf"^/api/v2/customModels/{model}/$")
    assert [r.status for r in deletes] == [204]
    # The job was asked about while deleting, and the model was deleted only once the job had ended.
    polls = [r for r in stack.datarobot.requests_matching("GET", STATUS_PATH) if r.at < deletes[0].at]
    assert polls[-1].status == 303
    assert deletes[0].at >= post.at + 2 * 1.0
    assert stack.datarobot.custom_model(model) is None


async def test_413_429_503_are_retried_and_make_one_build(stack: Stack) -> None:
    await secret(stack)
    faults = stack.datarobot.faults
    faults.rate_limit(times=1, retry_after=None, method="POST", path=CUSTOM_MODEL_VERSIONS_PATH)
    faults.server_error(503, times=1, method="POST", path=CUSTOM_MODEL_VERSIONS_PATH, retry_after=0.2)
    faults.server_error(413, times=1, method="POST", path=CUSTOM_MODEL_VERSIONS_PATH)
    faults.server_error(503, times=2, method="GET", path=STATUS_PATH)
    faults.rate_limit(times=1, retry_after=None, method="GET", path=STATUS_PATH)
    async with stack.operator():
        await stack.apply(drbuild("storm", "bp-storm"))
        done = await wait_phase(stack, "storm", "Succeeded")
    posts = stack.datarobot.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)
    assert [r.status for r in posts] == [429, 503, 413, 202]
    assert started(stack) == 1 and len(stack.datarobot.custom_models) == 1
    assert done["status"]["externalId"] == stack.datarobot.custom_models[0]["id"]
    assert condition(done, "Stalled")["status"] == "False"
    assert "CreateUnconfirmed" not in await event_reasons(stack, "storm")


async def test_adoption_of_an_existing_custom_model(stack: Stack) -> None:
    await secret(stack)
    async with httpx.AsyncClient(headers={"Authorization": f"Token {SANDBOX_DATAROBOT_TOKEN}"}) as client:
        made = await client.post(
            f"{stack.datarobot.url}/api/v2/genai/customModelVersions/", json={"llmBlueprintId": "bp-hand"}
        )
    assert made.status_code == 202
    model = made.json()["customModelId"]
    async with stack.operator():
        await stack.apply(drbuild("adopted", "bp-hand", annotations={EXTERNAL_ID: model}))
        done = await wait_phase(stack, "adopted", "Succeeded")
        await wait_event(stack, "adopted", "Adopted")
    assert started(stack) == 1
    assert done["status"]["externalId"] == model
    assert done["status"]["datarobot"] == {
        "customModelId": model,
        "customModelVersionId": stack.datarobot.version_id_of(model),
    }


async def test_remote_deletion_after_success_recreates_the_build(stack: Stack) -> None:
    await secret(stack)
    async with stack.operator():
        await stack.apply(
            drbuild("phoenix", "bp-phoenix", polling={"intervalSeconds": 1, "driftIntervalSeconds": 1})
        )
        first = (await wait_phase(stack, "phoenix", "Succeeded"))["status"]["externalId"]
        stack.datarobot.delete_out_of_band(first)
        await wait_event(stack, "phoenix", "RemoteDeleted")

        async def recreated() -> bool:
            status = await status_of(stack, "phoenix")
            return status.get("phase") == "Succeeded" and status.get("externalId") not in (None, first)

        await eventually(recreated, what="a new build to complete")
    assert started(stack) == 2
    status = await status_of(stack, "phoenix")
    second = status["externalId"]
    assert ((await get_mb(stack, "phoenix")) or {})["metadata"]["annotations"][EXTERNAL_ID] == second
    assert status["datarobot"]["statusId"] == stack.datarobot.status_id_of(second)
    assert status["datarobot"]["customModelVersionId"] == stack.datarobot.version_id_of(second)


async def test_a_recreated_build_never_shows_its_new_id_beside_the_old_phase(
    stack: Stack, status_writes: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    await secret(stack)
    async with stack.operator():
        await stack.apply(
            drbuild("atomic", "bp-atomic", polling={"intervalSeconds": 1, "driftIntervalSeconds": 1})
        )
        first = (await wait_phase(stack, "atomic", "Succeeded"))["status"]["externalId"]
        stack.datarobot.delete_out_of_band(first)

        async def recreated() -> bool:
            status = await status_of(stack, "atomic")
            return status.get("phase") == "Succeeded" and status.get("externalId") not in (None, first)

        await eventually(recreated, what="a new build to complete")
    seen = [stored for _, stored in status_writes]
    # Every state a reader could have seen: the old build, or the new one with its own phase and fields.
    for stored in seen:
        block = stored.get("datarobot") or {}
        if stored.get("externalId") not in (None, first):
            assert block.get("customModelId") == stored["externalId"], stored
            if stored.get("phase") == "Succeeded":
                assert block.get("customModelVersionId") == stack.datarobot.version_id_of(
                    stored["externalId"]
                )
        elif stored.get("externalId") == first:
            assert block.get("customModelId") == first
    # The switch from the old build to the new one was a single write.
    switch = next(stored for stored in seen if stored.get("externalId") not in (None, first))
    assert (
        switch["phase"] == "Running"
        and {c["type"]: c["status"] for c in switch["conditions"]}["Ready"] == "False"
    )
