"""Assemble and run the operator: a fresh kopf registry with every kind's handlers, login, settings."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Collection
from typing import Any

import kopf
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelops_operator.api.common import GROUP
from modelops_operator.config import Settings
from modelops_operator.core.lifecycle import EventSink, kopf_events
from modelops_operator.handlers import assistanttool, modelbuild, modelrun
from modelops_operator.runtime_context import RuntimeContext

log = logging.getLogger(__name__)


def build_registry(context: RuntimeContext) -> kopf.OperatorRegistry:
    """A new registry per operator instance (tests run several, one after another, in one process)."""
    registry = kopf.OperatorRegistry()
    modelbuild.register(registry, context)
    modelrun.register(registry, context)
    assistanttool.register(registry, context)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if context.connection is None:
            # kopf's own loaders: in-cluster service account first, then KUBECONFIG (no extra packages).
            context.connection = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(
                **kwargs
            )
        return context.connection

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # The lifecycle owns modelops.dev/finalizer. kopf adds or removes its own finalizer only for handlers
        # that need one, and the operator registers none; a name of its own keeps kopf's hands off ours.
        settings.persistence.finalizer = f"kopf.{GROUP}/unused"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=f"kopf.{GROUP}")
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=f"kopf.{GROUP}", key="last-handled-configuration"
        )
        # Our own Events say what happened; kopf's per-handler log events would only repeat them.
        settings.posting.level = logging.ERROR
        # `kubectl describe` shows this in the Events' "From" column.
        settings.posting.reporting_component = "modelops-operator"
        settings.posting.reporting_instance = socket.gethostname()
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = context.settings.http_timeout_seconds * 2

    @kopf.on.probe(registry=registry, id="upstreams")
    def probe(**_: Any) -> dict[str, int]:
        return {"upstreams": len(context._upstreams)}

    return registry


async def serve_metrics(context: RuntimeContext, host: str, port: int) -> web.AppRunner | None:
    if port == 0:
        return None

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(context.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("metrics on http://%s:%d/metrics", host, port)
    return runner


async def run_operator(
    settings: Settings,
    *,
    namespaces: Collection[str] = (),
    clusterwide: bool = False,
    connection: kopf.ConnectionInfo | None = None,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
    standalone: bool = True,
    peering_name: str | None = None,
    priority: int = 0,
    liveness_endpoint: str | None = None,
    metrics_host: str = "0.0.0.0",
    events: EventSink = kopf_events,
) -> None:
    context = RuntimeContext(settings=settings, connection=connection, events=events)
    registry = build_registry(context)
    runner = await serve_metrics(context, metrics_host, settings.metrics_port)
    try:
        await kopf.operator(
            registry=registry,
            clusterwide=clusterwide,
            namespaces=list(namespaces),
            standalone=standalone,
            peering_name=peering_name,
            priority=priority,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
            liveness_endpoint=liveness_endpoint,
            memo=kopf.Memo(),
        )
    finally:
        if runner is not None:
            await runner.cleanup()
        await context.aclose()
