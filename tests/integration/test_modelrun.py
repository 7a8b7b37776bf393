"""ModelRun on the Models API end to end: the real operator, the emulated cluster, the fake Models API."""

from __future__ import annotations

from typing import Any

from modelops_sandbox.stack import SANDBOX_MODELS_API_KEY, Stack
from tests.integration.conftest import condition, get_mb, gone, wait_condition, wait_event, wait_phase
from tests.support.waiting import eventually

MR = "modelops.dev/v1alpha1"
PLURAL = "modelruns"
TRIGGER = r"^/v1/model-runs$"
GRAPH = {"stg_orders": [], "orders": ["stg_orders"], "revenue": ["orders"]}


async def secret(stack: Stack) -> None:
    await stack.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "models", "namespace": stack.namespace},
            "stringData": {"apiKey": SANDBOX_MODELS_API_KEY},
        }
    )


def modelrun(name: str, project: str = "shop", policy: str = "Delete", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": MR,
        "kind": "ModelRun",
        "metadata": {"name": name},
        "spec": {
            "modelsApi": {"projectName": project, "modelNames": list(GRAPH), **extra},
            "credentialsSecretRef": {"name": "models"},
            "deletionPolicy": policy,
            "polling": {"intervalSeconds": 1},
        },
    }


async def get_mr(stack: Stack, name: str) -> dict[str, Any] | None:
    return await get_mb(stack, name, PLURAL)


async def wait_run_phase(stack: Stack, name: str, phase: str, timeout: float = 20.0) -> dict[str, Any]:  # noqa: ASYNC109
    return await wait_phase(stack, name, phase, timeout=timeout, plural=PLURAL)


def triggers(stack: Stack) -> int:
    return len([r for r in stack.models_api.requests_matching("POST", TRIGGER) if r.status == 201])


async def test_successful_run_with_steps_and_tests(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.script(
        "shop",
        models=GRAPH,
        tests={"orders": [("not_null_id", "PASS"), ("unique_id", "PASS")], "revenue": [("positive", "PASS")]},
        rows_affected={"stg_orders": 10, "orders": 8, "revenue": 3},
    )
    async with stack.operator():
        await stack.apply(modelrun("nightly"))
        running = await wait_run_phase(stack, "nightly", "Running")
        assert condition(running, "Reconciling")["status"] == "True"
        done = await wait_run_phase(stack, "nightly", "Succeeded")
        await wait_event(stack, "nightly", "Succeeded")
    status = done["status"]
    assert status["runId"] == status["externalId"] == stack.models_api.runs[0]["id"]
    assert status["remoteStatus"] == "SUCCESS"
    assert status["startedAt"] and status["finishedAt"]
    assert [(s["name"], s["status"], s["rowsAffected"]) for s in status["steps"]] == [
        ("stg_orders", "SUCCESS", 10),
        ("orders", "SUCCESS", 8),
        ("revenue", "SUCCESS", 3),
    ]
    assert status["steps"][1]["tests"] == {"passed": 2, "failed": 0, "errored": 0}
    assert status["tests"] == {"passed": 3, "failed": 0, "errored": 0}
    assert status["stepsSummary"] == "3/3 succeeded"
    assert status["testsSummary"] == "3 passed, 0 failed, 0 errored"
    assert condition(done, "Ready")["status"] == "True"
    # One trigger with exactly the documented body, authenticated with the API key header.
    posts = stack.models_api.requests_matching("POST", TRIGGER)
    assert len(posts) == 1
    assert posts[0].json == {"project_name": "shop", "model_names": list(GRAPH)}
    assert posts[0].header("X-API-Key") is not None


async def test_finished_run_is_not_polled_again(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.script("shop", models=GRAPH)
    async with stack.operator():
        await stack.apply(modelrun("once"))
        done = await wait_run_phase(stack, "once", "Succeeded")
        run_id = done["status"]["runId"]
        seen = len(stack.models_api.requests_matching("GET", rf"/v1/model-runs/{run_id}$"))
        # A later change to an annotation wakes the operator; the timers must not poll a finished run.
        stack.models_api.clear_requests()
        await stack.cluster.patch(
            MR, PLURAL, stack.namespace, "once", {"metadata": {"labels": {"touched": "yes"}}}
        )
        await wait_event(stack, "once", "Succeeded")
    assert seen >= 1
    assert stack.models_api.requests_matching("GET", rf"/v1/model-runs/{run_id}") == []


async def test_failed_run_names_failed_steps_and_counts_tests(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.script(
        "shop",
        models=GRAPH,
        fail_models={"orders"},
        tests={"stg_orders": [("not_null_id", "PASS"), ("accepted_values", "FAIL"), ("fresh", "ERROR")]},
    )
    async with stack.operator():
        await stack.apply(modelrun("broken"))
        failed = await wait_run_phase(stack, "broken", "Failed")
        stalled = await wait_condition(
            stack, "broken", "Stalled", "True", "RemoteFailed", timeout=5, plural=PLURAL
        )
        await wait_event(stack, "broken", "StepFailed")
        await wait_event(stack, "broken", "RemoteFailed")
    by_name = {s["name"]: s["status"] for s in failed["status"]["steps"]}
    assert by_name == {"stg_orders": "SUCCESS", "orders": "FAILED", "revenue": "SKIPPED"}
    assert failed["status"]["tests"] == {"passed": 1, "failed": 1, "errored": 1}
    assert "orders" in stalled["message"] and "skipped: revenue" in stalled["message"]
    assert "1 failed, 1 errored" in stalled["message"]
    assert failed["status"]["errorMessage"]


async def test_delete_cancels_a_running_run_and_waits_for_it(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.script("shop", models=GRAPH, hang=True)
    async with stack.operator():
        await stack.apply(modelrun("long"))
        running = await wait_run_phase(stack, "long", "Running")
        run_id = running["status"]["runId"]
        await eventually(lambda: stack.models_api.run(run_id)["status"] == "RUNNING", what="the run to start")  # type: ignore[index]
        await stack.cluster.delete(MR, PLURAL, stack.namespace, "long")
        await eventually(lambda: gone(stack, "long", PLURAL), what="the resource to disappear")
    assert stack.models_api.run(run_id)["status"] == "CANCELLED"  # type: ignore[index]
    assert len(stack.models_api.requests_matching("POST", rf"/v1/model-runs/{run_id}/cancel$")) == 1


async def test_orphan_leaves_the_run_running(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.script("shop", models=GRAPH, hang=True)
    async with stack.operator():
        await stack.apply(modelrun("left", policy="Orphan"))
        run_id = (await wait_run_phase(stack, "left", "Running"))["status"]["runId"]
        await stack.cluster.delete(MR, PLURAL, stack.namespace, "left")
        await eventually(lambda: gone(stack, "left", PLURAL), what="the resource to disappear")
    assert stack.models_api.requests_matching("POST", r"/cancel$") == []
    assert stack.models_api.run(run_id)["status"] in ("PENDING", "RUNNING")  # type: ignore[index]


async def test_crash_between_trigger_and_status_write_makes_one_run(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.script("shop", models=GRAPH)
    gate = stack.models_api.gate("POST", TRIGGER)
    first = await stack.start_operator()
    await stack.apply(modelrun("crashy"))
    await gate.wait_arrived()
    await first.kill()
    gate.release()
    # Runs of other projects arrive meanwhile: recovery must page past them (250 runs, 100 per page).
    for _ in range(250):
        stack.models_api.seed_run("other-project", status="SUCCESS")
    async with stack.operator():
        done = await wait_run_phase(stack, "crashy", "Succeeded", timeout=30)
        await wait_event(stack, "crashy", "Recovered")
    assert triggers(stack) == 1
    ours = [r for r in stack.models_api.runs if r["project_name"] == "shop"]
    assert [r["id"] for r in ours] == [done["status"]["runId"]]
    pages = [r for r in stack.models_api.requests_matching("GET", TRIGGER) if "page_token" in r.query]
    assert len(pages) >= 2


async def test_two_candidates_after_a_crash_stall_and_name_both(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.script("shop", models=GRAPH, hang=True)
    gate = stack.models_api.gate("POST", TRIGGER)
    first = await stack.start_operator()
    await stack.apply(modelrun("twins"))
    await gate.wait_arrived()
    await first.kill()
    gate.release()
    other = stack.models_api.seed_run("shop", model_names=list(GRAPH), status="RUNNING")
    async with stack.operator():
        stalled = await wait_condition(stack, "twins", "Stalled", "True", "AmbiguousRemote", plural=PLURAL)
    ours = stack.models_api.runs
    assert triggers(stack) == 1
    assert other["id"] in stalled["message"]
    assert all(run["id"] in stalled["message"] for run in ours if run["project_name"] == "shop")
    assert "modelops.dev/external-id" in stalled["message"]


async def test_rate_limit_retry_after_is_honoured(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.script("shop", models=GRAPH)
    stack.models_api.faults.rate_limit(times=1, retry_after=1.5, method="GET")
    async with stack.operator():
        await stack.apply(modelrun("limited"))
        await wait_run_phase(stack, "limited", "Succeeded")
    requests = stack.models_api.requests
    limited = next(i for i, r in enumerate(requests) if r.status == 429)
    after = requests[limited + 1]
    assert after.at - requests[limited].at >= 1.5, "a request reached the upstream before Retry-After elapsed"


async def test_compile_error_is_stalled_with_the_upstream_message(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.fail_compile("bad-project", "model 'ghost' not found")
    async with stack.operator():
        await stack.apply(modelrun("uncompilable", project="bad-project"))
        stalled = await wait_condition(
            stack, "uncompilable", "Stalled", "True", "UpstreamRejected", plural=PLURAL
        )
    assert "Compilation failed: model 'ghost' not found" in stalled["message"]
    obj = await get_mr(stack, "uncompilable")
    assert obj["status"]["phase"] == "Pending"  # type: ignore[index]
    assert "modelops.dev/create-pending-since" not in obj["metadata"].get("annotations", {})  # type: ignore[index]
    assert triggers(stack) == 0


async def test_choosing_a_candidate_resolves_an_ambiguous_stall(stack: Stack) -> None:
    await secret(stack)
    stack.models_api.script("shop", models=GRAPH)
    gate = stack.models_api.gate("POST", TRIGGER)
    first = await stack.start_operator()
    await stack.apply(modelrun("chosen"))
    await gate.wait_arrived()
    await first.kill()
    gate.release()
    stack.models_api.seed_run("shop", model_names=list(GRAPH), status="SUCCESS")
    async with stack.operator():
        await wait_condition(stack, "chosen", "Stalled", "True", "AmbiguousRemote", plural=PLURAL)
        mine = [r["id"] for r in stack.models_api.runs if r.get("compile_diagnostics") is not None]
        assert len(mine) == 1  # runs triggered through the API carry compile diagnostics; seeded ones do not
        run_id = str(mine[0])
        # What the Stalled message tells a person to do: name the right run.
        await stack.cluster.patch(
            MR,
            PLURAL,
            stack.namespace,
            "chosen",
            {"metadata": {"annotations": {"modelops.dev/external-id": run_id}}},
        )
        done = await wait_run_phase(stack, "chosen", "Succeeded")
    assert done["status"]["runId"] == run_id
    assert triggers(stack) == 1
