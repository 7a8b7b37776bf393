"""kopf itself against the emulated cluster: finalizer, create/update/delete handlers, status, events."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import API_VERSION, GROUP, PLURAL, VERSION, eventually, widget, widget_crd

FINALIZER = "example.com/widget-operator"


def build_operator(cluster: EmulatedCluster, journal: list[tuple[str, Any]]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=cluster.url, insecure=True, default_namespace="default")

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.posting.level = logging.INFO
        settings.watching.reconnect_backoff = 0.05
        settings.batching.idle_timeout = 0.5
        settings.batching.exit_timeout = 1.0

    @kopf.on.create(GROUP, VERSION, PLURAL, id="created", registry=registry)
    def created(spec: kopf.Spec, body: kopf.Body, **_: Any) -> dict[str, Any]:
        journal.append(("create", spec["size"]))
        kopf.info(body, reason="Created", message=f"created with size {spec['size']}")
        return {"size": spec["size"]}

    @kopf.on.update(GROUP, VERSION, PLURAL, id="updated", field="spec.size", registry=registry)
    def updated(old: Any, new: Any, **_: Any) -> None:
        journal.append(("update", (old, new)))

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="deleted", registry=registry)
    def deleted(name: str, **_: Any) -> None:
        journal.append(("delete", name))

    return registry


async def test_kopf_operator_runs_the_whole_lifecycle(cluster: EmulatedCluster) -> None:
    await cluster.apply(widget_crd())
    journal: list[tuple[str, Any]] = []
    registry = build_operator(cluster, journal)
    stop_flag = asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=registry, standalone=True, clusterwide=False, namespaces=["default"], stop_flag=stop_flag
        )
    )
    try:
        await cluster.create(widget("w1", size=1))

        def get() -> dict[str, Any] | None:
            return cluster.get_object(GROUP, VERSION, PLURAL, "default", "w1")

        await eventually(
            lambda: FINALIZER in ((get() or {}).get("metadata", {}).get("finalizers") or []), what="finalizer"
        )
        await eventually(lambda: ("create", 1) in journal, what="the create handler")
        status = await eventually(
            lambda: (get() or {}).get("status", {}).get("created"), what="status.created"
        )
        assert status == {"size": 1}

        await cluster.patch(API_VERSION, PLURAL, "default", "w1", {"spec": {"size": 2}})
        await eventually(lambda: ("update", (1, 2)) in journal, what="the update handler")

        events = await eventually(
            lambda: [
                e for e in cluster.objects("", "v1", "events", "default") if e.get("reason") == "Created"
            ],
            what="a kopf event about the create handler",
        )
        assert events[0]["involvedObject"]["uid"] == (get() or {})["metadata"]["uid"]
        assert events[0]["message"] == "created with size 1"
        assert [e["reason"] for e in await cluster.events_for("default", "w1")] == ["Created"]

        await cluster.delete(API_VERSION, PLURAL, "default", "w1")
        await eventually(lambda: ("delete", "w1") in journal, what="the delete handler")
        await eventually(
            lambda: get() is None, what="the finalizer to be released and the object to disappear"
        )
        assert [entry[0] for entry in journal] == ["create", "update", "delete"]
    finally:
        stop_flag.set()
        await asyncio.wait_for(operator, timeout=15)
