"""Assemble and run the operator: a fresh kopf registry with every kind's handlers, login, settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Collection
from typing import Any

import kopf
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelops_operator.api.common import GROUP
from modelops_operator.config import Settings
from modelops_operator.core.callbacks import callback_app
from modelops_operator.core.lifecycle import EventSink, Lifecycle, kopf_events
from modelops_operator.core.shard import LabelSelector
from modelops_operator.handlers import assistanttool, modelbuild, modelrun
from modelops_operator.runtime_context import RuntimeContext

log = logging.getLogger(__name__)


def build_registry(context: RuntimeContext) -> tuple[kopf.OperatorRegistry, list[Lifecycle]]:
    """A new registry per operator instance (tests run several, one after another, in one process)."""
    registry = kopf.OperatorRegistry()
    lifecycles = [
        modelbuild.register(registry, context),
        modelrun.register(registry, context),
        assistanttool.register(registry, context),
    ]

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
        # kopf keeps a worker (a task, its queue) per resource until it has been idle this long; the lifecycle
        # only queues work from an event, so a short wait keeps thousands of idle workers from piling up.
        settings.queueing.idle_timeout = 0.5
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = context.settings.http_timeout_seconds * 2

    @kopf.on.probe(registry=registry, id="upstreams")
    def probe(**_: Any) -> dict[str, int]:
        return {"upstreams": len(context._upstreams)}

    return registry, lifecycles


def metrics_app(context: RuntimeContext) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(context.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


async def serve(app: web.Application, host: str, port: int, what: str) -> web.AppRunner | None:
    """Serve an aiohttp app on the operator's event loop (0 for the port: not at all)."""
    if port == 0:
        return None
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("%s on http://%s:%d", what, host, port)
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
    shard: LabelSelector | None = None,
) -> None:
    """`metrics_host` is the address of every endpoint the operator serves (metrics, status callbacks);
    `shard`, the label selector of the resources this replica owns (with `namespaces`)."""
    context = RuntimeContext(settings=settings, connection=connection, events=events, shard=shard)
    registry, lifecycles = build_registry(context)
    runners = [
        await serve(metrics_app(context), metrics_host, settings.metrics_port, "metrics"),
        await serve(
            callback_app(lifecycles, context.metrics),
            metrics_host,
            settings.callback_port,
            "status callbacks",
        ),
    ]
    operator = asyncio.create_task(
        kopf.operator(
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
        ),
        name="kopf",
    )
    try:
        await asyncio.shield(operator)
    except asyncio.CancelledError:
        # Cancelled from outside (the process going down hard): the lifecycles' polling and deletion stop
        # at once, before kopf's own graceful shutdown, so nothing more is written after the cancellation.
        for lifecycle in lifecycles:
            lifecycle.halt()
        operator.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await operator
        raise
    finally:
        for runner in runners:
            if runner is not None:
                await runner.cleanup()
        await context.aclose()
