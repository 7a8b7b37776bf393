"""The resource gauges (by kind and phase, by condition), kept exact as resources come and go.

Fed from every watch event (the status the API server stores) and every deletion, so the gauges count what
`kubectl get` would show, including resources whose status another replica wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelops_operator.metrics import Metrics


class ResourceGauges:
    def __init__(self, metrics: Metrics, kind: str) -> None:
        self._metrics = metrics
        self._kind = kind
        self._counted: dict[str, tuple[str, frozenset[tuple[str, str]]]] = {}

    def observe(self, uid: str, status: Mapping[str, Any] | None) -> None:
        status = status or {}
        phase = str(status.get("phase") or "")
        conditions = frozenset(
            (str(c.get("type")), str(c.get("status") or "Unknown"))
            for c in status.get("conditions") or []
            if isinstance(c, Mapping) and c.get("type")
        )
        now = (phase, conditions)
        before = self._counted.get(uid)
        if before == now:
            return
        if before is not None:
            self._add(before, -1)
        self._add(now, +1)
        self._counted[uid] = now

    def forget(self, uid: str) -> None:
        before = self._counted.pop(uid, None)
        if before is not None:
            self._add(before, -1)

    def _add(self, counted: tuple[str, frozenset[tuple[str, str]]], delta: int) -> None:
        phase, conditions = counted
        self._metrics.resources.labels(self._kind, phase).inc(delta)
        for type_, status in conditions:
            self._metrics.resource_conditions.labels(self._kind, type_, status).inc(delta)
