"""kopf wiring shared by every kind: the same few handlers drive the generic lifecycle."""

from __future__ import annotations

from typing import Any

import kopf

from modelops_operator.api.common import ANNOTATION_PAUSED, ANNOTATION_RECONCILE_REQUESTED, GROUP, VERSION
from modelops_operator.config import Settings
from modelops_operator.core.lifecycle import TERMINAL_PHASES, Lifecycle


def _terminal(status: Any, **_: Any) -> bool:
    return (status or {}).get("phase") in TERMINAL_PHASES


def _not_terminal(status: Any, **_: Any) -> bool:
    return not _terminal(status)


def register_kind(registry: kopf.OperatorRegistry, lifecycle: Lifecycle, settings: Settings) -> None:
    """Register create/resume/update/annotation/timer/delete handlers of one kind in `registry`."""
    resource = (GROUP, VERSION, lifecycle.kind.plural)
    prefix = lifecycle.kind.singular

    async def on_change(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await lifecycle.reconcile(body, memo, trigger="event")

    async def on_request(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await lifecycle.reconcile(body, memo, trigger="requested")

    async def on_tick(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await lifecycle.reconcile(body, memo, trigger="timer")

    async def on_delete(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await lifecycle.delete(body, memo)

    kopf.on.create(*resource, registry=registry, id=f"{prefix}-create")(on_change)
    kopf.on.resume(*resource, registry=registry, id=f"{prefix}-resume")(on_change)
    kopf.on.update(*resource, registry=registry, id=f"{prefix}-spec", field="spec")(on_change)
    for annotation, handler in ((ANNOTATION_RECONCILE_REQUESTED, on_request), (ANNOTATION_PAUSED, on_change)):
        kopf.on.field(
            *resource,
            registry=registry,
            id=f"{prefix}-{annotation.rsplit('/', 1)[-1]}",
            field=("metadata", "annotations", annotation),
        )(handler)
    # Fast polling while the remote object is in progress, a slow drift check once it is terminal.
    kopf.timer(
        *resource,
        registry=registry,
        id=f"{prefix}-poll",
        interval=settings.poll_interval_seconds,
        when=_not_terminal,
    )(on_tick)
    if not lifecycle.poll_when_terminal:
        kopf.on.delete(*resource, registry=registry, id=f"{prefix}-delete")(on_delete)
        return
    kopf.timer(
        *resource,
        registry=registry,
        id=f"{prefix}-drift",
        interval=settings.drift_interval_seconds,
        initial_delay=settings.drift_interval_seconds,
        when=_terminal,
    )(on_tick)
    kopf.on.delete(*resource, registry=registry, id=f"{prefix}-delete")(on_delete)
