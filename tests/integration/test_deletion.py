"""Deletion held up (credentials gone, an upstream outage) says so in `.status`, with the way out, and goes on
by itself; a namespace torn down with its Secret first ends, with an Event naming what was left upstream."""

from __future__ import annotations

import time
from typing import Any

import pytest

from modelops_sandbox.runner import EXPECT_ANNOTATION, load_examples, script_sandbox_world
from modelops_sandbox.stack import Stack
from tests.integration.conftest import (
    ASSISTANT,
    MB,
    PLURAL,
    create_secret,
    event_reasons,
    gone,
    modelbuild,
    status_of,
    wait_condition,
    wait_phase,
)
from tests.integration.test_rbac import PLURALS, REPO
from tests.support.realcluster import OPERATOR_NAMESPACE, RealCluster
from tests.support.waiting import eventually


async def test_a_deletion_waiting_for_its_secret_is_stalled_and_resumes_within_seconds(stack: Stack) -> None:
    await create_secret(stack)
    # No cached credentials: the Secret's deletion is seen at once (else within MODELOPS_SECRET_CACHE_SECONDS).
    async with stack.operator(secret_cache_seconds=0):
        await stack.apply(modelbuild("held"))
        sid = (await wait_phase(stack, "held", "Succeeded"))["status"]["externalId"]
        await stack.cluster.delete("v1", "secrets", stack.namespace, "twilio")
        await stack.cluster.delete(MB, PLURAL, stack.namespace, "held")
        stalled = await wait_condition(stack, "held", "Stalled", "True", "CredentialsMissing")
        assert (await status_of(stack, "held"))["phase"] == "Deleting"
        assert f"Cannot delete remote object {sid}" in stalled["message"]
        assert "Create it again" in stalled["message"] and "spec.deletionPolicy: Orphan" in stalled["message"]
        assert stack.autopilot.build(ASSISTANT, sid) is not None  # nothing deleted without credentials
        # The operator keeps reading the Secret (at most every few seconds), so its return is seen within
        # seconds, not at the next drift check.
        await create_secret(stack)
        returned = time.monotonic()
        await eventually(lambda: gone(stack, "held"), timeout=15, what="the deletion to finish")
        assert time.monotonic() - returned < 10
    assert stack.autopilot.build(ASSISTANT, sid) is None
    assert "Deleted" in await event_reasons(stack, "held")


async def test_a_deletion_during_an_outage_shows_the_reason_in_status(stack: Stack) -> None:
    await create_secret(stack)
    async with stack.operator():
        await stack.apply(modelbuild("outage"))
        sid = (await wait_phase(stack, "outage", "Succeeded"))["status"]["externalId"]
        fault = stack.autopilot.faults.server_error(503, times=None, method="DELETE")
        await stack.cluster.delete(MB, PLURAL, stack.namespace, "outage")

        async def explained() -> dict[str, Any] | None:
            status = await status_of(stack, "outage")
            reconciling = next((c for c in status.get("conditions", []) if c["type"] == "Reconciling"), {})
            return status if reconciling.get("reason") == "Retrying" else None

        status = await eventually(explained, what="the outage in the status")
        assert status["phase"] == "Deleting"
        assert f"Deleting remote object {sid}: upstream temporarily unavailable" in status["message"]
        assert "HTTP 503" in status["message"]
        stack.autopilot.faults.remove(fault)
        await eventually(lambda: gone(stack, "outage"), timeout=20, what="the deletion after the outage")
    assert stack.autopilot.build(ASSISTANT, sid) is None


# ------------------------------------------------------------------------------------------ namespace teardown
# On a control plane of its own, with the chart's default scope (all namespaces): in the per-namespace scope
# the operator's Role lives in the namespace itself and goes with it (see the README's namespace teardown).


@pytest.fixture
async def teardown_stack(cluster_wide_stack: Stack[RealCluster]) -> Stack[RealCluster]:
    return cluster_wide_stack


async def namespace_gone(stack: Stack) -> bool:
    return await stack.cluster.get_or_none("v1", "namespaces", None, stack.namespace) is None


async def test_namespace_teardown_deletes_every_remote_object(
    teardown_stack: Stack[RealCluster], emitted_events: list[dict[str, str]]
) -> None:
    """Every kind with the Delete policy, the namespace deleted with its Secrets in it: it ends with the
    namespace gone and every remote object deleted (the credentials were read moments before)."""
    stack = teardown_stack
    script_sandbox_world(stack)  # type: ignore[arg-type]
    manifests = load_examples(REPO / "examples")
    resources = [m for m in manifests if m["kind"] in PLURALS]
    async with stack.operator(clusterwide=True):
        for manifest in manifests:
            await stack.apply(manifest)
        for manifest in resources:
            expected = manifest["metadata"]["annotations"][EXPECT_ANNOTATION]
            await wait_phase(stack, manifest["metadata"]["name"], expected, plural=PLURALS[manifest["kind"]])
        assert stack.autopilot.builds and stack.datarobot.custom_models and stack.assistants.tools
        await stack.cluster.delete("v1", "namespaces", None, stack.namespace)
        await eventually(lambda: namespace_gone(stack), timeout=60, what="the namespace to be deleted")
    assert stack.autopilot.builds == []
    assert stack.datarobot.custom_models == []
    assert stack.assistants.tools == []
    deleted = [e for e in emitted_events if e["reason"] == "Deleted"]
    # Said about the namespace (its own Events cannot be created any more), naming each resource.
    assert deleted and all(e["message"].startswith(tuple(f"{kind} " for kind in PLURALS)) for e in deleted)


async def test_namespace_teardown_after_its_secret_ends_with_an_event_naming_what_was_left(
    teardown_stack: Stack[RealCluster], emitted_events: list[dict[str, str]]
) -> None:
    stack = teardown_stack
    await create_secret(stack)
    async with stack.operator(clusterwide=True, secret_cache_seconds=0):
        await stack.apply(modelbuild("left"))
        sid = (await wait_phase(stack, "left", "Succeeded"))["status"]["externalId"]
        await stack.cluster.delete("v1", "secrets", stack.namespace, "twilio")
        started = time.monotonic()
        await stack.cluster.delete("v1", "namespaces", None, stack.namespace)
        await eventually(lambda: namespace_gone(stack), timeout=30, what="the namespace to be deleted")
        assert time.monotonic() - started < 30
    [event] = [e for e in emitted_events if e["reason"] == "Orphaned"]
    assert event["type"] == "Warning" and event["name"] == stack.namespace  # about the namespace
    assert event["message"].startswith(f"ModelBuild {stack.namespace}/left: ")
    assert f"left remote object {sid} in place" in event["message"]
    assert "Delete it upstream by hand" in event["message"]
    assert stack.autopilot.build(ASSISTANT, sid) is not None
    # It is there to read, in the operator's own namespace.
    posted = await stack.cluster.list_objects(
        "v1", "events", OPERATOR_NAMESPACE, field_selector="reason=Orphaned"
    )
    assert any(f"left remote object {sid}" in e["message"] for e in posted)
