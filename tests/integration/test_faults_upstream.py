"""Upstream faults during each phase of a resource's life (create, observe, update, delete), for every provider:
the status says Retrying (never a wrong phase), a Warning names the fault, nothing is duplicated, 429s are
spaced as Retry-After asks, and the resource recovers once the fault ends.

The grid is representative, not complete: every fault meets every provider and every phase meets every
provider, each cell once. Cells already covered elsewhere are left out (test_malformed_answers: a 200 of the
wrong shape on observe; test_hung_upstream: Autopilot hangs on observe and create; test_modelbuild_*,
test_modelrun, test_assistanttool: 429/5xx on creates and Retry-After on Autopilot creates and Models API
reads; test_deletion: a 503 on an Autopilot delete).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from modelops_sandbox.fakes.base import FakeUpstream, FaultHandle, FaultRule
from modelops_sandbox.fakes.models_api import STEPS_PATH
from modelops_sandbox.fakes.twilio_assistants import TOOL_PATH
from modelops_sandbox.fakes.twilio_autopilot import MODEL_BUILD_PATH
from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, Stack
from tests.integration.conftest import ASSISTANT, MB, condition, create_secret, get_mb
from tests.integration.faults import (
    ASSISTANTS,
    AUTOPILOT,
    DATAROBOT,
    EXTERNAL_ID,
    MODELS_API,
    PENDING,
    SHORT_SETTLE,
    Kind,
    annotate,
    annotations_of,
    delete,
    wait_gone,
    wait_phase,
    wait_reason,
    wait_status,
)
from tests.support.waiting import eventually

StatusWrites = list[tuple[dict[str, Any], dict[str, Any]]]
Events = list[dict[str, str]]

TIMEOUT = SHORT_SETTLE["http_timeout_seconds"]  # where a fault outlasts it (a request ends within 2 of them)
RETRY_AFTER = 0.3
SLOW_SECONDS = 3 * TIMEOUT  # how late a slow upstream answers
HTML_502 = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    "</center><hr><center>nginx</center></body></html>"
)


@dataclass(frozen=True)
class Fault:
    """One way an upstream misbehaves, injected on one route until removed (`slow`: for one request)."""

    id: str
    inject: Callable[[FakeUpstream, str, str, int], FaultHandle]  # (fake, method, path, success status)
    settings: dict[str, Any] = field(default_factory=dict)
    # The upstream acts on the request (late), though the client never sees its answer.
    processed: bool = False

    def __str__(self) -> str:
        return self.id


RATE_LIMITED = Fault(
    "429", lambda fake, m, p, _: fake.faults.rate_limit(times=None, retry_after=RETRY_AFTER, method=m, path=p)
)
SERVER_ERROR = Fault("503", lambda fake, m, p, _: fake.faults.server_error(503, times=None, method=m, path=p))
INTERNAL_ERROR = Fault(
    "500", lambda fake, m, p, _: fake.faults.server_error(500, times=None, method=m, path=p)
)
HUNG = Fault(
    "timeout",
    lambda fake, m, p, _: fake.faults.timeout(times=None, method=m, path=p),
    settings={"http_timeout_seconds": TIMEOUT},
)
RESET = Fault("reset", lambda fake, m, p, _: fake.faults.reset(times=None, method=m, path=p))
HTML_PAGE = Fault(
    "html-502",
    lambda fake, m, p, _: fake.faults.respond(
        502, HTML_502, times=None, method=m, path=p, headers={"Content-Type": "text/html; charset=utf-8"}
    ),
)
INVALID_JSON = Fault(
    "invalid-json",
    lambda fake, m, p, ok: fake.faults.add(
        FaultRule(method=m, path=p, status=ok, kind="malformed", times=None)
    ),
)
WRONG_SHAPE = Fault(
    "wrong-shape",
    lambda fake, m, p, ok: fake.faults.respond(ok, {"unexpected": ["shape"]}, times=None, method=m, path=p),
)
SLOW = Fault(
    "slow",
    # Late, then the real handler acts and answers (to a client long gone).
    lambda fake, m, p, _: fake.faults.slow(SLOW_SECONDS, times=1, method=m, path=p),
    settings={"http_timeout_seconds": TIMEOUT},
    processed=True,
)


def cells(*pairs: tuple[Kind, Fault]) -> list[Any]:
    """Grid cells as params named provider-fault."""
    return [pytest.param(kind, fault, id=f"{kind.id}-{fault.id}") for kind, fault in pairs]


def retrying(stored: dict[str, Any]) -> bool:
    return condition({"status": stored}, "Reconciling").get("reason") == "Retrying"


async def wait_stored(
    writes: StatusWrites, start: int, accept: Callable[[dict[str, Any]], bool], what: str
) -> None:
    """Some status the API server stored since the `start`-th write satisfies `accept` (a state a reader saw,
    however briefly)."""
    await eventually(lambda: any(accept(stored) for _, stored in writes[start:]), what=what)


def phases_since(writes: StatusWrites, start: int) -> set[Any]:
    return {stored.get("phase") for _, stored in writes[start:]}


async def settled(stack: Stack, kind: Kind, fault: Fault) -> None:
    """A slow upstream commits its late request only after the delay: until then, a duplicate cannot show.
    Returns once the delay has passed since the first create (or a duplicate shows up before)."""
    if not fault.processed:
        return
    first = kind.fake(stack).requests_matching(*kind.create)
    arrived = min((r.at for r in first), default=time.monotonic())
    late = arrived + SLOW_SECONDS + 0.3
    await eventually(
        lambda: kind.creates(stack) > 1 or time.monotonic() > late,
        timeout=SLOW_SECONDS + 5,
        what="the late answer",
    )


def warned(events: Events, name: str) -> list[str]:
    return [e["message"] for e in events if e["name"] == name and e["reason"] == "UpstreamUnavailable"]


def assert_spaced(fake: FakeUpstream, handle: FaultHandle, method: str, path: str) -> None:
    """Every request the 429s answered came at least Retry-After after the one before, and the whole upstream
    saw no more than about two requests per Retry-After while it lasted (bounded, not a tight loop)."""
    limited = [r for r in fake.requests_matching(method, path) if r.status == 429]
    assert len(limited) == handle.hits >= 3
    gaps = [b.at - a.at for a, b in itertools.pairwise(limited)]
    assert min(gaps) >= RETRY_AFTER - 0.02, f"a retry came {min(gaps):.3f}s after a 429 asking {RETRY_AFTER}s"
    span = limited[-1].at - limited[0].at
    during = [r for r in fake.requests if limited[0].at <= r.at <= limited[-1].at]
    assert len(during) <= 2 * (span / RETRY_AFTER + 1), f"{len(during)} requests in {span:.2f}s"


# --------------------------------------------------------------------------------------------------- create


@pytest.mark.parametrize(
    ("kind", "fault"),
    cells(
        (AUTOPILOT, HTML_PAGE),
        (AUTOPILOT, INVALID_JSON),
        (MODELS_API, INTERNAL_ERROR),
        (MODELS_API, SLOW),
        (ASSISTANTS, RESET),
        (ASSISTANTS, WRONG_SHAPE),
        (ASSISTANTS, SLOW),
    ),
)
async def test_fault_during_create_is_retried_after_a_lookup_and_makes_one_object(
    stack: Stack, status_writes: StatusWrites, emitted_events: Events, kind: Kind, fault: Fault
) -> None:
    """A create without a usable answer may have happened: the marker stays, the next pass looks the object up,
    and a lookup that finds nothing is trusted only once the first request certainly ended."""
    await kind.prepare(stack)
    fake = kind.fake(stack)
    async with stack.operator(**{**SHORT_SETTLE, **fault.settings}):
        handle = fault.inject(fake, *kind.create, kind.create_ok)
        await stack.apply(kind.manifest("made"))
        await wait_stored(status_writes, 0, retrying, "Reconciling=Retrying")
        assert PENDING in (await annotations_of(stack, kind, "made"))  # the outcome is unknown: kept
        fake.faults.remove(handle)
        done = await wait_phase(stack, kind, "made", kind.done)
        await settled(stack, kind, fault)
    assert phases_since(status_writes, 0) <= {"Pending", "Running", kind.done}
    assert warned(emitted_events, "made")
    assert kind.creates(stack) == 1
    assert kind.remote_ids(stack) == [done["status"]["externalId"]]
    # No create went out while an earlier one could still be in flight (a logical request ends within two
    # HTTP timeouts): a late answer would otherwise make a second object.
    posts = sorted(r.at for r in fake.requests_matching(*kind.create))
    assert all(b - a >= 2 * TIMEOUT for a, b in itertools.pairwise(posts)), posts


@pytest.mark.parametrize("fault", [HUNG, HTML_PAGE, SLOW], ids=str)
async def test_datarobot_start_without_an_answer_asks_a_person_and_starts_nothing(
    stack: Stack, status_writes: StatusWrites, emitted_events: Events, fault: Fault
) -> None:
    """DataRobot has no lookup: a start without an answer (a hang, a gateway's 502 page, an answer too late)
    may have started a build, so the resource is Stalled with what to check, and only a person resumes it."""
    kind = DATAROBOT
    await kind.prepare(stack)
    fake = kind.fake(stack)
    async with stack.operator(**fault.settings):
        handle = fault.inject(fake, *kind.create, kind.create_ok)
        await stack.apply(kind.manifest("unsure"))
        stalled = await wait_reason(stack, kind, "unsure", "Stalled", "True", "CreateUnconfirmed")
        fake.faults.remove(handle)
        started = 1 if fault.processed else 0
        await eventually(lambda: kind.creates(stack) == started, what=f"{started} build(s) upstream")
        assert stalled["status"]["phase"] == "Pending"
        assert len(fake.requests_matching(*kind.create)) == 1  # nothing started blindly
        # What the message says to do: adopt the build found, or start one when there is none.
        if fault.processed:
            await annotate(stack, kind, "unsure", {EXTERNAL_ID: kind.remote_ids(stack)[0]})
        else:
            await annotate(stack, kind, "unsure", {PENDING: None})
        await wait_phase(stack, kind, "unsure", kind.done)
    assert kind.creates(stack) == 1
    assert warned(emitted_events, "unsure")
    assert phases_since(status_writes, 0) <= {"Pending", "Running", kind.done}


async def test_models_api_rate_limit_right_after_the_trigger_makes_one_run(
    stack: Stack, status_writes: StatusWrites
) -> None:
    kind = MODELS_API
    await kind.prepare(stack)
    fake = kind.fake(stack)
    async with stack.operator():
        # The token bucket runs dry just after the trigger got in: the follow-up reads are limited.
        handle = fake.faults.rate_limit(times=None, retry_after=RETRY_AFTER, method="GET", path=STEPS_PATH)
        await stack.apply(kind.manifest("limited"))
        await wait_stored(status_writes, 0, retrying, "Reconciling=Retrying")
        # Long enough for a pass or two to give up on the 429s (a second run shows up at once if it is made).
        await eventually(lambda: handle.hits >= 8 or kind.creates(stack) > 1, timeout=10, what="the 429s")
        fake.faults.remove(handle)
        await wait_phase(stack, kind, "limited", kind.done)
    trace = [
        f"{r.method} {r.path.split('/')[-1][:8]} {r.status}"
        for r in fake.requests
        if r.method == "POST" or r.status == 429
    ]
    assert kind.creates(stack) == 1, f"{kind.creates(stack)} runs triggered for one ModelRun: {trace}"


# -------------------------------------------------------------------------------------------------- observe


@pytest.mark.parametrize(
    ("kind", "fault"),
    cells(
        (AUTOPILOT, RESET),
        (DATAROBOT, WRONG_SHAPE),
        (DATAROBOT, INVALID_JSON),
        (MODELS_API, HUNG),
        (MODELS_API, RATE_LIMITED),
        (MODELS_API, INVALID_JSON),
        (ASSISTANTS, HTML_PAGE),
    ),
)
async def test_fault_while_observing_keeps_what_was_known_and_recovers(
    stack: Stack, status_writes: StatusWrites, emitted_events: Events, kind: Kind, fault: Fault
) -> None:
    # The remote object stays in progress (a tool is in sync at once: its drift check is the read).
    await kind.prepare(stack, long=True)
    fake = kind.fake(stack)
    phase = kind.done if kind is ASSISTANTS else "Running"
    async with stack.operator(**fault.settings):
        await stack.apply(kind.manifest("watched"))
        external_id = (await wait_phase(stack, kind, "watched", phase))["status"]["externalId"]
        start = len(status_writes)
        handle = fault.inject(fake, *kind.observe, 200)
        await wait_stored(status_writes, start, retrying, "Reconciling=Retrying")
        await eventually(lambda: warned(emitted_events, "watched"), what="a Warning UpstreamUnavailable")
        if fault is RATE_LIMITED:
            await eventually(lambda: handle.hits >= 4, what="four 429s")
        fake.faults.remove(handle)

        def recovered(obj: dict[str, Any]) -> bool:
            reconciling = condition(obj, "Reconciling")
            return reconciling.get("reason") != "Retrying" and obj["status"].get("phase") == phase

        await wait_status(stack, kind, "watched", recovered, "recovered")
    # What the resource knew stayed: same phase, same remote object, in every state a reader could see.
    for _, stored in status_writes[start:]:
        assert (stored.get("phase"), stored.get("externalId")) == (phase, external_id), stored
    if kind is ASSISTANTS:  # a finished object stays Ready while its drift check cannot reach the upstream
        assert all(condition({"status": s}, "Ready")["status"] == "True" for _, s in status_writes[start:])
    if fault is RATE_LIMITED:
        assert_spaced(fake, handle, *kind.observe)
    assert kind.creates(stack) == 1


# --------------------------------------------------------------------------------------------------- update


@dataclass(frozen=True)
class Edit:
    """A spec change that the operator pushes with one call, and how to tell the upstream has it."""

    route: tuple[str, str]
    spec: dict[str, Any]
    applied: Callable[[Stack, str], bool]


EDITS = {
    "autopilot": Edit(
        ("POST", MODEL_BUILD_PATH),
        {"twilioAutopilot": {"uniqueName": "renamed-build"}},
        lambda stack, sid: (
            (stack.autopilot.build(ASSISTANT, sid) or {}).get("unique_name") == "renamed-build"
        ),
    ),
    "assistants": Edit(
        ("PUT", TOOL_PATH),
        {"description": "Finds an order"},
        lambda stack, tool: (stack.assistants.tool(tool) or {}).get("description") == "Finds an order",
    ),
}


@pytest.mark.parametrize(
    ("kind", "fault"), cells((AUTOPILOT, RATE_LIMITED), (ASSISTANTS, HUNG), (ASSISTANTS, INVALID_JSON))
)
async def test_fault_while_updating_keeps_the_resource_ready_and_pushes_the_edit_later(
    stack: Stack, status_writes: StatusWrites, emitted_events: Events, kind: Kind, fault: Fault
) -> None:
    edit = EDITS[kind.id]
    await kind.prepare(stack)
    fake = kind.fake(stack)
    async with stack.operator(**fault.settings):
        await stack.apply(kind.manifest("edited"))
        external_id = (await wait_phase(stack, kind, "edited", kind.done))["status"]["externalId"]
        start = len(status_writes)
        handle = fault.inject(fake, *edit.route, 200)
        await stack.cluster.patch(MB, kind.plural, stack.namespace, "edited", {"spec": edit.spec})
        await wait_stored(status_writes, start, retrying, "Reconciling=Retrying")
        attempts = 4 if fault is RATE_LIMITED else 2
        await eventually(lambda: handle.hits >= attempts, what=f"{attempts} attempts at the edit")
        assert not edit.applied(stack, external_id)
        fake.faults.remove(handle)

        def synced(obj: dict[str, Any]) -> bool:
            reconciling = condition(obj, "Reconciling")
            return (
                obj["status"].get("observedGeneration") == 2
                and reconciling.get("status") == "False"
                and reconciling.get("reason") != "Retrying"
            )

        await wait_status(stack, kind, "edited", synced, "the edit observed")
    assert edit.applied(stack, external_id)
    assert phases_since(status_writes, start) <= {kind.done, "Running"}
    assert warned(emitted_events, "edited")
    if fault is RATE_LIMITED:
        assert_spaced(fake, handle, *edit.route)
    assert kind.creates(stack) == 1


async def test_an_edit_not_pushed_yet_is_not_reported_as_reconciled(
    stack: Stack, status_writes: StatusWrites
) -> None:
    kind, edit = ASSISTANTS, EDITS["assistants"]
    await kind.prepare(stack)
    async with stack.operator():
        await stack.apply(kind.manifest("pending-edit"))
        external_id = (await wait_phase(stack, kind, "pending-edit", kind.done))["status"]["externalId"]
        start = len(status_writes)
        handle = stack.assistants.faults.server_error(
            503, times=None, method=edit.route[0], path=edit.route[1]
        )
        await stack.cluster.patch(MB, kind.plural, stack.namespace, "pending-edit", {"spec": edit.spec})
        await wait_stored(status_writes, start, retrying, "Reconciling=Retrying")
        await eventually(lambda: handle.hits >= 2, what="two attempts at the edit")
    assert not edit.applied(stack, external_id)
    # kstatus: a resource whose observedGeneration is its generation is Current unless Reconciling or Stalled is
    # True. Until the upstream has the edit, generation 2 must not look Current.
    for _, stored in status_writes[start:]:
        if stored.get("observedGeneration") == 2:
            conditions = {c["type"]: (c["status"], c["reason"]) for c in stored.get("conditions", [])}
            said = f"phase {stored.get('phase')}, conditions {conditions}, message {stored.get('message')!r}"
            assert "True" in (conditions["Reconciling"][0], conditions["Stalled"][0]), (
                f"generation 2 reads as Current while the upstream still has generation 1: {said}"
            )


# --------------------------------------------------------------------------------------------------- delete


@pytest.mark.parametrize(
    ("kind", "fault"),
    cells(
        (AUTOPILOT, SLOW),
        (DATAROBOT, RATE_LIMITED),
        (MODELS_API, RESET),
        (MODELS_API, HTML_PAGE),
        (ASSISTANTS, SERVER_ERROR),
    ),
)
async def test_fault_while_deleting_says_deleting_retrying_and_finishes(
    stack: Stack, status_writes: StatusWrites, kind: Kind, fault: Fault
) -> None:
    await kind.prepare(stack, long=kind is MODELS_API)  # a run is cancelled only while it runs
    fake = kind.fake(stack)
    async with stack.operator(**fault.settings):
        await stack.apply(kind.manifest("doomed"))
        phase = "Running" if kind is MODELS_API else kind.done
        external_id = (await wait_phase(stack, kind, "doomed", phase))["status"]["externalId"]
        start = len(status_writes)
        handle = fault.inject(fake, *kind.delete, 200)
        await delete(stack, kind, "doomed")

        def deleting(stored: dict[str, Any]) -> bool:
            return stored.get("phase") == "Deleting" and retrying(stored)

        await wait_stored(status_writes, start, deleting, "Deleting, Reconciling=Retrying")
        if fault is RATE_LIMITED:
            await eventually(lambda: handle.hits >= 4, what="four 429s")
        fake.faults.remove(handle)
        await wait_gone(stack, kind, "doomed")
    assert not kind.live(stack, external_id)
    assert phases_since(status_writes, start) <= {"Deleting", phase}
    if fault is RATE_LIMITED:
        assert_spaced(fake, handle, *kind.delete)
    assert kind.creates(stack) == 1


async def test_deleting_a_build_whose_credentials_were_always_refused_is_not_held_up(stack: Stack) -> None:
    kind = AUTOPILOT
    await create_secret(stack, "twilio", accountSid=SANDBOX_ACCOUNT_SID, authToken="not-the-token")
    async with stack.operator():
        await stack.apply(kind.manifest("refused"))
        await wait_reason(stack, kind, "refused", "Stalled", "True", "CredentialsInvalid")
        assert stack.autopilot.requests_matching(*kind.create) == []  # nothing was ever created
        await delete(stack, kind, "refused")

        async def ended() -> str | None:
            obj = await get_mb(stack, "refused", kind.plural)
            if obj is None:
                return "deleted"
            held = (
                obj["status"].get("phase") == "Deleting" and condition(obj, "Stalled").get("status") == "True"
            )
            return f"held: {obj['status'].get('message')}" if held else None

        outcome: str | None = await eventually(ended, what="the deletion to end or be held")
    assert outcome == "deleted"
