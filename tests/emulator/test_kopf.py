"""kopf itself against the cluster: finalizer, create/update/delete handlers, status, events."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from tests.emulator.backends import Backend
from tests.emulator.helpers import PLURAL, VERSION, Scope
from tests.support.waiting import eventually

FINALIZER = "example.com/widget-operator"


def build_operator(cluster: Backend, scope: Scope, journal: list[tuple[str, Any]]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return cluster.kopf_connection()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.posting.level = logging.INFO
        settings.watching.reconnect_backoff = 0.05
        settings.batching.idle_timeout = 0.5
        settings.batching.exit_timeout = 1.0

    @kopf.on.create(scope.group, VERSION, PLURAL, id="created", registry=registry)
    def created(spec: kopf.Spec, body: kopf.Body, **_: Any) -> dict[str, Any]:
        journal.append(("create", spec["size"]))
        kopf.info(body, reason="Created", message=f"created with size {spec['size']}")
        return {"size": spec["size"]}

    @kopf.on.update(scope.group, VERSION, PLURAL, id="updated", field="spec.size", registry=registry)
    def updated(old: Any, new: Any, **_: Any) -> None:
        journal.append(("update", (old, new)))

    @kopf.on.delete(scope.group, VERSION, PLURAL, id="deleted", registry=registry)
    def deleted(name: str, **_: Any) -> None:
        journal.append(("delete", name))

    return registry


async def test_kopf_operator_runs_the_whole_lifecycle(cluster: Backend, scope: Scope) -> None:
    await cluster.install_crd(scope.crd())
    journal: list[tuple[str, Any]] = []
    registry = build_operator(cluster, scope, journal)
    stop_flag = asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=False,
            namespaces=[scope.namespace],
            stop_flag=stop_flag,
        )
    )
    try:
        await cluster.create(scope.widget("w1", size=1))

        async def get() -> dict[str, Any]:
            return await cluster.get_or_none(scope.api_version, PLURAL, scope.namespace, "w1") or {}

        async def finalized() -> bool:
            return FINALIZER in ((await get()).get("metadata", {}).get("finalizers") or [])

        async def created_status() -> Any:
            return (await get()).get("status", {}).get("created")

        async def created_events() -> list[dict[str, Any]]:
            events = await cluster.list_objects("v1", "events", scope.namespace)
            return [e for e in events if e.get("reason") == "Created"]

        await eventually(finalized, what="finalizer")
        await eventually(lambda: ("create", 1) in journal, what="the create handler")
        status = await eventually(created_status, what="status.created")
        assert status == {"size": 1}

        await cluster.patch(scope.api_version, PLURAL, scope.namespace, "w1", {"spec": {"size": 2}})
        await eventually(lambda: ("update", (1, 2)) in journal, what="the update handler")

        events = await eventually(created_events, what="a kopf event about the create handler")
        assert events[0]["involvedObject"]["uid"] == (await get())["metadata"]["uid"]
        assert events[0]["message"] == "created with size 1"
        assert [e["reason"] for e in await cluster.events_for(scope.namespace, "w1")] == ["Created"]

        await cluster.delete(scope.api_version, PLURAL, scope.namespace, "w1")
        await eventually(lambda: ("delete", "w1") in journal, what="the delete handler")

        async def gone() -> bool:
            return not await get()

        await eventually(gone, what="the finalizer to be released and the object to disappear")
        assert [entry[0] for entry in journal] == ["create", "update", "delete"]
    finally:
        stop_flag.set()
        await asyncio.wait_for(operator, timeout=15)
