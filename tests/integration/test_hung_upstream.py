"""An upstream that never answers shows in `.status` and Events after one timeout (not after every attempt),
the resource keeps what it knew, and it recovers once the upstream answers again. A create whose answer never
comes stays safe: its pending marker is kept, and the next pass finds the build instead of making another."""

from __future__ import annotations

import time
from typing import Any

from modelops_sandbox.fakes.twilio_autopilot import MODEL_BUILDS_PATH
from modelops_sandbox.stack import Stack
from tests.integration.conftest import (
    condition,
    create_secret,
    get_mb,
    modelbuild,
    wait_event,
    wait_phase,
)
from tests.support.waiting import eventually

TIMEOUT = 1.0  # the operator's http_timeout_seconds in these tests
PENDING = "modelops.dev/create-pending-since"


def retrying_after_timeout(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    reconciling = condition(obj, "Reconciling")
    said = reconciling.get("reason") == "Retrying" and f"no answer within {TIMEOUT:g}s" in reconciling.get(
        "message", ""
    )
    return reconciling if said else None


async def test_a_hung_read_shows_in_status_within_about_one_timeout(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator(http_timeout_seconds=TIMEOUT):
        await stack.apply(modelbuild("hung"))
        done = await wait_phase(stack, "hung", "Succeeded")
        sid = done["status"]["externalId"]
        hang = stack.autopilot.faults.timeout(times=None, method="GET")  # the list and the fetch
        first = await eventually(
            lambda: next((r for r in stack.autopilot.requests if r.fault == "timeout"), None),
            timeout=10,
            interval=0.01,
            what="the first request the fake leaves unanswered",
        )

        async def probe() -> dict[str, Any] | None:
            return retrying_after_timeout(await get_mb(stack, "hung"))

        reconciling = await eventually(probe, timeout=10, interval=0.02, what="Retrying after a timeout")
        shown_after = time.monotonic() - first.at
        # One timeout, then the status write; every in-request retry would add another full timeout.
        assert shown_after < 2 * TIMEOUT, f"the hang showed in .status only after {shown_after:.1f}s"
        event = await wait_event(stack, "hung", "UpstreamUnavailable")
        assert event["type"] == "Warning" and f"no answer within {TIMEOUT:g}s" in event["message"]
        kept = await get_mb(stack, "hung")
        assert kept is not None
        assert (kept["status"]["phase"], kept["status"]["externalId"]) == ("Succeeded", sid)
        assert condition(kept, "Ready")["status"] == "True"
        assert "retrying in" in reconciling["message"]

        stack.autopilot.faults.remove(hang)

        async def recovered() -> bool:
            reconciling = condition(await get_mb(stack, "hung"), "Reconciling")
            return reconciling.get("status") == "False" and reconciling.get("reason") == "Succeeded"

        await eventually(recovered, timeout=20, what="recovery once the upstream answers")


async def test_a_create_whose_answer_never_comes_makes_one_build(stack: Stack) -> None:
    await create_secret(stack)
    # The fake creates the build, then holds its answer for ever: the outcome is unknown to the operator.
    held = stack.autopilot.gate("POST", MODEL_BUILDS_PATH)
    async with stack.operator(http_timeout_seconds=TIMEOUT):
        await stack.apply(modelbuild("unanswered"))
        await held.wait_arrived()

        async def probe() -> dict[str, Any] | None:
            obj = await get_mb(stack, "unanswered")
            return obj if retrying_after_timeout(obj) else None

        retrying = await eventually(probe, timeout=10, interval=0.02, what="Retrying after a create timeout")
        # Not cleared: the upstream may have acted on the create (it did).
        assert PENDING in retrying["metadata"]["annotations"]
        done = await wait_phase(stack, "unanswered", "Succeeded")
        await wait_event(stack, "unanswered", "Recovered")
    assert stack.autopilot.count_creates() == 1
    assert done["status"]["externalId"] == stack.autopilot.builds[0]["sid"]
