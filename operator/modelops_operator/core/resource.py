"""A typed view of one custom resource as the lifecycle needs it, plus its per-object operator memory."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelops_operator.api.common import (
    ANNOTATION_CREATE_PENDING,
    ANNOTATION_EXTERNAL_ID,
    ANNOTATION_PAUSED,
    GROUP,
    VERSION,
)
from modelops_operator.providers.base import ResourceRef


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def format_time(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()  # a batch key not worked out yet


@dataclass
class ObjectMemory:
    """In-memory facts about one object, fresher than the (possibly stale) body kopf hands to a handler."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The latest body from the watch, for work that runs outside kopf's handlers (polling, deletion).
    body: Mapping[str, Any] = field(default_factory=dict)
    # What of the object decides whether an event needs a pass (generation, the annotations people set).
    seen: tuple[Any, ...] | None = None
    # Set by an event that changed `seen`: wakes a deletion waiting out its backoff.
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    deleter: asyncio.Task[None] | None = None
    gone: bool = False
    batch_key: Any = UNKNOWN
    # Polls of a resource read on its own are spread over the interval (set once, from the uid).
    phased: bool = False
    # When the upstream last posted a genuine status callback for it (polling slows down meanwhile).
    last_callback_at: float | None = None
    status: dict[str, Any] | None = None
    external_id: str | None = None
    pending_since: datetime.datetime | None = None
    next_poll_at: float = 0.0
    not_before: float = 0.0
    failures: int = 0
    polls: int = 0
    last_warning: str | None = None
    # The generation the remote object last matched (tells drift from a spec edit); None until known.
    synced_generation: int | None = None


def memory_of(memo: Any) -> ObjectMemory:
    """kopf's per-object memo (a shallow copy of the operator memo) carries our ObjectMemory."""
    existing = getattr(memo, "modelops", None)
    if isinstance(existing, ObjectMemory):
        return existing
    created = ObjectMemory()
    memo.modelops = created
    return created


@dataclass(frozen=True)
class ObjectView:
    plural: str
    namespace: str
    name: str
    uid: str
    generation: int | None
    annotations: Mapping[str, str]
    spec: Mapping[str, Any]
    status: dict[str, Any]
    created_at: datetime.datetime | None
    deleting: bool
    body: Mapping[str, Any]
    finalizers: tuple[str, ...] = ()
    resource_version: str | None = None
    # Events go about `body`; a prefix names the resource when `body` is another object (its namespace).
    event_prefix: str = ""

    @classmethod
    def of(cls, body: Mapping[str, Any], plural: str, memory: ObjectMemory) -> ObjectView:
        meta = body.get("metadata") or {}
        return cls(
            plural=plural,
            namespace=meta.get("namespace") or "default",
            name=meta.get("name") or "",
            uid=meta.get("uid") or "",
            generation=meta.get("generation"),
            annotations=dict(meta.get("annotations") or {}),
            spec=dict(body.get("spec") or {}),
            status=dict(memory.status if memory.status is not None else (body.get("status") or {})),
            created_at=parse_time(meta.get("creationTimestamp")),
            deleting=bool(meta.get("deletionTimestamp")),
            body=body,
            finalizers=tuple(meta.get("finalizers") or ()),
            resource_version=meta.get("resourceVersion"),
        )

    @property
    def path(self) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{self.plural}/{self.name}"

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(namespace=self.namespace, name=self.name, uid=self.uid, created_at=self.created_at)

    @property
    def paused(self) -> bool:
        return self.annotations.get(ANNOTATION_PAUSED, "").strip().lower() == "true"

    def external_id(self, memory: ObjectMemory) -> str | None:
        return (
            memory.external_id
            or self.annotations.get(ANNOTATION_EXTERNAL_ID)
            or self.status.get("externalId")
        )

    def pending_since(self, memory: ObjectMemory) -> datetime.datetime | None:
        return memory.pending_since or parse_time(self.annotations.get(ANNOTATION_CREATE_PENDING))
