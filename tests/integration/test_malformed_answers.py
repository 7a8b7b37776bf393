"""A 200 whose body is not what the upstream's contract says (a proxy's page, a broken gateway's `{}`) is no
answer: the resource keeps what it knew (phase, external id, mirrored fields), a Warning Event names what was
missing or wrong, `.status` says Retrying, and the resource recovers by itself once the upstream answers again.

One test per provider, on the read the operator makes of a finished object (the drift check, or a requested
reconcile of a finished run), with the fake answering 200 and a body lacking what the operator relies on.
"""

from __future__ import annotations

from typing import Any

import pytest

from modelops_sandbox.fakes.datarobot import CUSTOM_MODEL_PATH
from modelops_sandbox.fakes.models_api import MODEL_RUN_PATH, STEPS_PATH
from modelops_sandbox.fakes.twilio_assistants import TOOL_PATH
from modelops_sandbox.fakes.twilio_autopilot import MODEL_BUILDS_PATH
from modelops_sandbox.stack import SANDBOX_DATAROBOT_TOKEN, SANDBOX_MODELS_API_KEY, Stack
from tests.integration.conftest import (
    MB,
    PLURAL,
    condition,
    create_secret,
    get_mb,
    modelbuild,
    request_reconcile,
    wait_phase,
)
from tests.support.waiting import eventually

StatusWrites = list[tuple[dict[str, Any], dict[str, Any]]]

TOOLS = "assistanttools"
RUNS = "modelruns"


async def warning_naming(stack: Stack, name: str, plural: str, *fragments: str) -> str:
    """The message of the UpstreamUnavailable Warning that names every fragment."""

    async def probe() -> str | None:
        for event in await stack.cluster.events_for(stack.namespace, name):
            message = str(event.get("message", ""))
            if (
                event.get("type") == "Warning"
                and event.get("reason") == "UpstreamUnavailable"
                and all(fragment in message for fragment in fragments)
            ):
                return message
        return None

    try:
        return await eventually(probe, timeout=20, what=f"a Warning UpstreamUnavailable naming {fragments}")
    except AssertionError as error:
        raise AssertionError(f"{error}; {await described(stack, name, plural)}") from None


async def described(stack: Stack, name: str, plural: str) -> str:
    """What became of the resource: where an answer was taken for state, it shows here."""
    obj = await get_mb(stack, name, plural)
    status = (obj or {}).get("status") or {}
    seen = {key: status.get(key) for key in ("phase", "externalId", "remoteStatus", "stepsSummary")}
    return f"status now {seen}, Reconciling {condition(obj, 'Reconciling')}"


async def wait_retrying(stack: Stack, name: str, plural: str) -> dict[str, Any]:
    """The resource says it is retrying, and still shows what it knew: Ready (a finished object)."""

    async def probe() -> dict[str, Any] | None:
        obj = await get_mb(stack, name, plural)
        return obj if condition(obj, "Reconciling").get("reason") == "Retrying" else None

    retrying = await eventually(probe, timeout=20, what=f"{name} Reconciling reason Retrying")
    assert condition(retrying, "Ready")["status"] == "True"
    return retrying


async def wait_recovered(stack: Stack, name: str, plural: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        obj = await get_mb(stack, name, plural)
        reconciling = condition(obj, "Reconciling")
        recovered = reconciling.get("status") == "False" and reconciling.get("reason") != "Retrying"
        return obj if recovered and condition(obj, "Ready").get("status") == "True" else None

    return await eventually(probe, timeout=20, what=f"{name} to recover")


def stored_since(writes: StatusWrites, start: int) -> list[dict[str, Any]]:
    """The statuses the API server stored after the `start`-th status write."""
    return [stored for _, stored in writes[start:]]


def assert_kept(writes: StatusWrites, start: int, phase: str, external_id: str) -> None:
    for stored in stored_since(writes, start):
        assert (stored.get("phase"), stored.get("externalId")) == (phase, external_id), stored


# ------------------------------------------------------------------------------------------- Twilio Autopilot


@pytest.mark.parametrize("body", [{}, {"unexpected": 1}])
async def test_autopilot_fetch_answering_a_non_build(
    stack: Stack, status_writes: StatusWrites, body: dict[str, Any]
) -> None:
    await create_secret(stack)
    # One read per resource (no list): the drift check is the fetch the fault answers.
    async with stack.operator(coalesce_polling=False):
        await stack.apply(modelbuild("proxied"))
        done = await wait_phase(stack, "proxied", "Succeeded")
        sid = done["status"]["externalId"]
        start = len(status_writes)
        fault = stack.autopilot.faults.respond(
            200, body, times=None, method="GET", path=rf"/ModelBuilds/{sid}$"
        )
        message = await warning_naming(
            stack, "proxied", PLURAL, "model build", "field 'sid' is required", "field 'status' is required"
        )
        retrying = await wait_retrying(stack, "proxied", PLURAL)
        assert (retrying["status"]["phase"], retrying["status"]["externalId"]) == ("Succeeded", sid)
        assert retrying["status"]["twilioAutopilot"]["sid"] == sid
        assert fault.hits >= 1
        stack.autopilot.faults.remove(fault)
        recovered = await wait_recovered(stack, "proxied", PLURAL)
    assert (recovered["status"]["phase"], recovered["status"]["externalId"]) == ("Succeeded", sid)
    assert_kept(status_writes, start, "Succeeded", sid)
    assert "HTTP 200" in message


async def test_autopilot_list_with_an_item_that_is_not_a_build(
    stack: Stack, status_writes: StatusWrites
) -> None:
    await create_secret(stack)
    async with stack.operator():  # coalesced: the drift check is the assistant's list
        await stack.apply(modelbuild("listed"))
        done = await wait_phase(stack, "listed", "Succeeded")
        sid = done["status"]["externalId"]
        start = len(status_writes)
        page = {
            "meta": {"key": "model_builds", "page": 0, "page_size": 50, "next_page_url": None},
            "model_builds": [{"unique_name": "no-sid-no-status"}],
        }
        fault = stack.autopilot.faults.respond(200, page, times=None, method="GET", path=MODEL_BUILDS_PATH)
        # An item skipped silently would be a build believed not to exist: the whole page is refused.
        await warning_naming(
            stack, "listed", PLURAL, "model build list: page 1, item 0", "field 'sid' is required"
        )
        await wait_retrying(stack, "listed", PLURAL)
        stack.autopilot.faults.remove(fault)
        await wait_recovered(stack, "listed", PLURAL)
    assert_kept(status_writes, start, "Succeeded", sid)


# ----------------------------------------------------------------------------------------- Twilio Assistants


def tool_resource(name: str) -> dict[str, Any]:
    return {
        "apiVersion": MB,
        "kind": "AssistantTool",
        "metadata": {"name": name},
        "spec": {
            "name": f"{name}-tool",
            "description": "Looks up an order",
            "enabled": True,
            "meta": {"url": "https://tools.example.com/orders", "method": "POST"},
            "assistantIds": ["aia_asst_01alpha"],
            "credentialsSecretRef": {"name": "twilio"},
            "polling": {"intervalSeconds": 1, "driftIntervalSeconds": 1},
        },
    }


@pytest.mark.parametrize("only_id", [False, True], ids=["empty", "only-the-id"])
async def test_assistants_fetch_answering_a_non_tool(
    stack: Stack, status_writes: StatusWrites, only_id: bool
) -> None:
    await create_secret(stack)
    async with stack.operator():
        await stack.apply(tool_resource("gatewayed"))
        ready = await wait_phase(stack, "gatewayed", "Ready", plural=TOOLS)
        tool_id = ready["status"]["externalId"]
        start = len(status_writes)
        # Only the id: without name, type and enabled the tool would read as drifted, and be "corrected".
        body = {"id": tool_id} if only_id else {}
        fault = stack.assistants.faults.respond(200, body, times=None, method="GET", path=TOOL_PATH)
        missing = ["field 'name' is required", "field 'type' is required", "field 'enabled' is required"]
        await warning_naming(
            stack, "gatewayed", TOOLS, "tool:", *(missing if only_id else ["field 'id' is required"])
        )
        await wait_retrying(stack, "gatewayed", TOOLS)
        assert stack.assistants.requests_matching("PUT", TOOL_PATH) == []  # nothing was "corrected"
        stack.assistants.faults.remove(fault)
        await wait_recovered(stack, "gatewayed", TOOLS)
    assert_kept(status_writes, start, "Ready", tool_id)
    assert stack.assistants.requests_matching("PUT", TOOL_PATH) == []


# ---------------------------------------------------------------------------------------------- Models API


def modelrun(name: str) -> dict[str, Any]:
    return {
        "apiVersion": MB,
        "kind": "ModelRun",
        "metadata": {"name": name},
        "spec": {
            "modelsApi": {"projectName": "shop", "modelNames": ["stg_orders", "orders"]},
            "credentialsSecretRef": {"name": "models"},
            "polling": {"intervalSeconds": 1},
        },
    }


async def request_reconcile_until(stack: Stack, name: str, done: Any) -> dict[str, Any]:
    """A finished run is not polled: ask for a pass (again, until `done(obj)`: a request that comes while the
    resource is in backoff is not acted on)."""
    asked = [0]

    async def probe() -> dict[str, Any] | None:
        asked[0] += 1
        await request_reconcile(stack, name, f"ask-{asked[0]}", RUNS)
        obj = await get_mb(stack, name, RUNS)
        return obj if done(obj) else None

    try:
        return await eventually(probe, timeout=20, interval=0.5, what=f"a requested reconcile of {name}")
    except AssertionError as error:
        raise AssertionError(f"{error}; {await described(stack, name, RUNS)}") from None


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        (MODEL_RUN_PATH, {}, ["model run:", "field 'id' is required", "field 'status' is required"]),
        # Without its `data`, the step list would read as a run without steps (and wipe them from .status).
        (STEPS_PATH, {"unexpected": 1}, ["step list:", "field 'data' is required"]),
        (STEPS_PATH, {"data": [{"model_name": "orders"}]}, ["field 'data[0].id' is required"]),
    ],
    ids=["run", "steps", "step-item"],
)
async def test_models_api_answering_a_non_run(
    stack: Stack, status_writes: StatusWrites, path: str, body: dict[str, Any], named: list[str]
) -> None:
    await create_secret(stack, "models", apiKey=SANDBOX_MODELS_API_KEY)
    stack.models_api.script("shop", models={"stg_orders": [], "orders": ["stg_orders"]})
    async with stack.operator():
        await stack.apply(modelrun("nightly"))
        done = await wait_phase(stack, "nightly", "Succeeded", plural=RUNS)
        run_id, steps = done["status"]["externalId"], done["status"]["steps"]
        start = len(status_writes)
        fault = stack.models_api.faults.respond(200, body, times=None, method="GET", path=path)

        def retrying(obj: dict[str, Any] | None) -> bool:
            return condition(obj, "Reconciling").get("reason") == "Retrying"

        await request_reconcile_until(stack, "nightly", retrying)
        await warning_naming(stack, "nightly", RUNS, *named)
        kept = await get_mb(stack, "nightly", RUNS)
        assert kept is not None and kept["status"]["steps"] == steps
        stack.models_api.faults.remove(fault)

        def recovered(obj: dict[str, Any] | None) -> bool:
            return condition(obj, "Reconciling").get("reason") == "Succeeded"

        final = await request_reconcile_until(stack, "nightly", recovered)
    assert final["status"]["steps"] == steps
    assert_kept(status_writes, start, "Succeeded", run_id)
    assert all(stored.get("steps") == steps for stored in stored_since(status_writes, start))
    assert fault.hits >= 1


# ------------------------------------------------------------------------------------------------ DataRobot


async def test_datarobot_custom_model_answering_a_non_model(
    stack: Stack, status_writes: StatusWrites
) -> None:
    await create_secret(stack, "datarobot", token=SANDBOX_DATAROBOT_TOKEN)
    build = {
        "apiVersion": MB,
        "kind": "ModelBuild",
        "metadata": {"name": "qa"},
        "spec": {
            "datarobot": {"llmBlueprintId": "bp-any"},
            "credentialsSecretRef": {"name": "datarobot"},
            "polling": {"intervalSeconds": 1, "driftIntervalSeconds": 1},
        },
    }
    async with stack.operator():
        await stack.apply(build)
        done = await wait_phase(stack, "qa", "Succeeded")
        model = done["status"]["externalId"]
        start = len(status_writes)
        fault = stack.datarobot.faults.respond(200, {}, times=None, method="GET", path=CUSTOM_MODEL_PATH)
        await warning_naming(stack, "qa", PLURAL, "custom model: field 'id' is required")
        await wait_retrying(stack, "qa", PLURAL)
        stack.datarobot.faults.remove(fault)
        await wait_recovered(stack, "qa", PLURAL)
    assert_kept(status_writes, start, "Succeeded", model)
