"""kopf wiring shared by every kind: every watch event goes to the generic lifecycle.

Only `kopf.on.event` is used: kopf then stores no per-handler progress, no diffbase and no finalizer of its
own, so it writes nothing to the resources. The lifecycle decides what an event means (a new resource, a
spec edit, an annotation a person set, a deletion), owns the finalizer, and polls on its own schedule.
"""

from __future__ import annotations

from typing import Any

import kopf

from modelops_operator.api.common import GROUP, VERSION
from modelops_operator.config import Settings
from modelops_operator.core.lifecycle import Lifecycle


def register_kind(registry: kopf.OperatorRegistry, lifecycle: Lifecycle, settings: Settings) -> None:
    """Register the event handler of one kind in `registry`, and stop its work when the operator stops."""
    del settings

    @kopf.on.event(
        GROUP, VERSION, lifecycle.kind.plural, registry=registry, id=f"{lifecycle.kind.singular}-event"
    )
    async def on_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await lifecycle.on_event(event.get("type"), body, memo)

    @kopf.on.cleanup(registry=registry, id=f"{lifecycle.kind.singular}-stop")
    async def stop(**_: Any) -> None:
        await lifecycle.stop()
