"""The operator killed at each step of a create and of a delete, then restarted: one remote object per resource
(or, where the upstream cannot be asked, a Stalled message that says what to do), and every deletion completes
as its policy says.

Steps are reached exactly: the fakes' gates hold an upstream answer (after the upstream applied the request),
their `timeout` fault holds a request unprocessed, and a `Crasher` hold stops the operator at one of its own
Kubernetes writes; `Crasher` also freezes the killed operator, so nothing of it acts after the crash.

Already covered elsewhere, so not repeated: a crash while the upstream holds a committed create answer, for
each provider (`*killed*`/`*crash*` in test_modelbuild_autopilot, test_modelbuild_datarobot, test_modelrun,
test_assistanttool).
"""

from __future__ import annotations

import pytest

from modelops_sandbox.stack import Stack
from tests.integration.faults import (
    AUTOPILOT,
    DATAROBOT,
    EXTERNAL_ID,
    KINDS,
    MODELS_API,
    PENDING,
    SHORT_SETTLE,
    Crasher,
    Kind,
    annotate,
    annotations_of,
    by_id,
    delete,
    reasons,
    wait_gone,
    wait_phase,
    wait_reason,
    wait_warning,
)

LOOKUP_KINDS = [kind for kind in KINDS if kind.lookup]


async def started(stack: Stack, kind: Kind, name: str, *, policy: str = "Delete") -> str:
    """The resource applied and its remote object made; its external id. A run is left running (it is only
    cancelled while it runs), anything else finished."""
    await stack.apply(kind.manifest(name, policy=policy))
    phase = "Running" if kind is MODELS_API else kind.done
    return str((await wait_phase(stack, kind, name, phase))["status"]["externalId"])


async def resume_unconfirmed(stack: Stack, kind: Kind, name: str) -> None:
    """DataRobot cannot be asked whether a build started: the resource says so, names what to check and both
    ways on, and starts nothing by itself."""
    since = (await annotations_of(stack, kind, name))[PENDING]
    stalled = await wait_reason(stack, kind, name, "Stalled", "True", "CreateUnconfirmed")
    message = next(c for c in stalled["status"]["conditions"] if c["type"] == "Stalled")["message"]
    assert DATAROBOT.blueprint in message and since[:19] in message
    target = f"kubectl annotate modelbuild/{name} -n {stack.namespace}"
    assert f"{target} {EXTERNAL_ID}=<customModelId>" in message
    assert f"{target} {PENDING}-" in message
    assert stalled["status"]["phase"] == "Pending"


# --------------------------------------------------------------------------------------------------- create


@pytest.mark.parametrize("kind", by_id(*KINDS))
async def test_crash_after_the_marker_before_the_create_request(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, kind: Kind
) -> None:
    crasher = Crasher(monkeypatch)
    await kind.prepare(stack)
    held = crasher.after_marker(kind, "early")
    first = await stack.start_operator()
    await stack.apply(kind.manifest("early"))
    await held.wait()
    await crasher.crash(first)
    stored = await annotations_of(stack, kind, "early")
    assert PENDING in stored and EXTERNAL_ID not in stored
    assert kind.fake(stack).requests_matching(*kind.create) == []

    async with stack.operator(**SHORT_SETTLE):
        if not kind.lookup:
            await resume_unconfirmed(stack, kind, "early")
            assert kind.creates(stack) == 0
            # A person found nothing in DataRobot: removing the marker starts the build.
            await annotate(stack, kind, "early", {PENDING: None})
        done = await wait_phase(stack, kind, "early", kind.done)
    assert kind.creates(stack) == 1
    assert done["status"]["externalId"] == kind.remote_ids(stack)[0]


@pytest.mark.parametrize("kind", by_id(*KINDS))
async def test_create_answer_lost_on_the_wire_is_looked_up_not_repeated(stack: Stack, kind: Kind) -> None:
    """The upstream made the object and the connection dropped before its answer (no crash): the outcome is
    unknown, so the operator looks before creating again."""
    await kind.prepare(stack)
    gate = kind.fake(stack).gate(*kind.create)
    async with stack.operator():
        await stack.apply(kind.manifest("lost"))
        await gate.wait_arrived()
        gate.release(respond=False)
        if kind.lookup:
            done = await wait_phase(stack, kind, "lost", kind.done)
            assert "Recovered" in await reasons(stack, "lost")
        else:
            await resume_unconfirmed(stack, kind, "lost")
            # A person found the custom model in DataRobot and adopts it.
            await annotate(stack, kind, "lost", {EXTERNAL_ID: kind.remote_ids(stack)[0]})
            done = await wait_phase(stack, kind, "lost", kind.done)
    assert kind.creates(stack) == 1
    assert done["status"]["externalId"] == kind.remote_ids(stack)[0]


@pytest.mark.parametrize("kind", by_id(*KINDS))
async def test_crash_after_the_id_is_stored_before_the_status_write(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, kind: Kind
) -> None:
    crasher = Crasher(monkeypatch)
    await kind.prepare(stack)
    held = crasher.before_status(kind, "saved")
    first = await stack.start_operator()
    await stack.apply(kind.manifest("saved"))
    await held.wait()
    await crasher.crash(first)
    [remote] = kind.remote_ids(stack)
    assert (await annotations_of(stack, kind, "saved"))[EXTERNAL_ID] == remote
    assert (await kind.status(stack, "saved")).get("externalId") is None

    async with stack.operator():
        done = await wait_phase(stack, kind, "saved", kind.done)
    assert kind.creates(stack) == 1
    assert done["status"]["externalId"] == remote


# --------------------------------------------------------------------------------------------------- delete


@pytest.mark.parametrize("kind", by_id(*KINDS))
async def test_crash_before_the_delete_reaches_the_upstream(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, kind: Kind
) -> None:
    crasher = Crasher(monkeypatch)
    await kind.prepare(stack, long=kind is MODELS_API)
    fake = kind.fake(stack)
    first = await stack.start_operator()
    remote = await started(stack, kind, "doomed")
    # The delete is held at the upstream's door, unprocessed; the operator dies waiting for it.
    fake.faults.timeout(times=1, method=kind.delete[0], path=kind.delete[1])
    await delete(stack, kind, "doomed")
    await fake.wait_for_request(*kind.delete)
    await crasher.crash(first)
    assert kind.live(stack, remote)

    async with stack.operator():
        await wait_gone(stack, kind, "doomed")
    assert not kind.live(stack, remote)
    assert "Deleted" in await reasons(stack, "doomed")


@pytest.mark.parametrize("kind", by_id(*KINDS))
async def test_crash_when_the_upstream_deleted_but_its_answer_was_lost(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, kind: Kind
) -> None:
    crasher = Crasher(monkeypatch)
    await kind.prepare(stack, long=kind is MODELS_API)
    gate = kind.fake(stack).gate(*kind.delete)
    first = await stack.start_operator()
    remote = await started(stack, kind, "doomed")
    await delete(stack, kind, "doomed")
    await gate.wait_arrived()  # deleted (a run: cancelled) upstream; the answer is held back
    await crasher.crash(first)
    gate.release(respond=True)
    assert not kind.live(stack, remote)

    async with stack.operator():
        await wait_gone(stack, kind, "doomed")
    assert not kind.live(stack, remote)
    assert kind.creates(stack) == 1


@pytest.mark.parametrize(
    ("kind", "policy"),
    [*((kind, "Delete") for kind in KINDS), (AUTOPILOT, "Orphan")],
    ids=[*(f"{kind.id}-Delete" for kind in KINDS), "autopilot-Orphan"],
)
async def test_crash_after_the_remote_deletion_before_the_finalizer_is_released(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, kind: Kind, policy: str
) -> None:
    crasher = Crasher(monkeypatch)
    await kind.prepare(stack, long=kind is MODELS_API)
    first = await stack.start_operator()
    remote = await started(stack, kind, "doomed", policy=policy)
    held = crasher.before_release(kind, "doomed")
    await delete(stack, kind, "doomed")
    await held.wait()
    await crasher.crash(first)
    kept = policy == "Orphan"
    assert kind.live(stack, remote) == kept

    async with stack.operator():
        await wait_gone(stack, kind, "doomed")
    assert kind.live(stack, remote) == kept
    assert kind.creates(stack) == 1


# ------------------------------------------------------------------------------- create lost, then deleted


async def crash_with_a_committed_create_then_delete(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, kind: Kind, name: str
) -> str:
    """The create is committed upstream but its answer dies with the operator, and the resource is deleted
    before an operator is back; the pending marker's time."""
    crasher = Crasher(monkeypatch)
    await kind.prepare(stack, long=kind is MODELS_API)
    gate = kind.fake(stack).gate(*kind.create)
    first = await stack.start_operator()
    await stack.apply(kind.manifest(name))
    await gate.wait_arrived()
    await crasher.crash(first)
    gate.release(respond=True)
    assert len(kind.remote_ids(stack)) == 1
    since = (await annotations_of(stack, kind, name))[PENDING]
    await delete(stack, kind, name)
    return since


@pytest.mark.parametrize("kind", by_id(*LOOKUP_KINDS))
async def test_resource_deleted_while_down_after_a_lost_create_deletes_the_remote_object(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, kind: Kind
) -> None:
    """The remote object nobody recorded is found and deleted, not leaked."""
    await crash_with_a_committed_create_then_delete(stack, monkeypatch, kind, "brief")
    [remote] = kind.remote_ids(stack)

    async with stack.operator():
        await wait_gone(stack, kind, "brief")
    assert kind.creates(stack) == 1
    assert not kind.live(stack, remote)


async def test_datarobot_resource_deleted_while_down_after_a_lost_create_says_what_to_delete(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = DATAROBOT
    since = await crash_with_a_committed_create_then_delete(stack, monkeypatch, kind, "brief")

    async with stack.operator():
        await wait_gone(stack, kind, "brief")
        warning = await wait_warning(stack, "brief", "DeleteUnconfirmed")
    # Documented: DataRobot cannot be asked, so nothing is deleted and the resource goes. The Warning is all
    # that is left, so it must name what to look for and what to do with it: delete it in DataRobot by hand.
    message = warning["message"]
    assert kind.blueprint in message and since[:19] in message
    assert len(kind.remote_ids(stack)) == 1
    assert "kubectl annotate" not in message, message
    assert "delete" in message.lower().split("deleting nothing upstream", 1)[-1], message
