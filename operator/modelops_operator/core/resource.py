"""A typed view of one custom resource as the lifecycle needs it, plus its per-object operator memory."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import sys
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


@dataclass(slots=True)  # one per live resource: no per-instance __dict__
class ObjectMemory:
    """In-memory facts about one object, fresher than the (possibly stale) body kopf hands to a handler."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The latest body from the watch, for work that runs outside kopf's handlers (polling, deletion).
    body: Mapping[str, Any] = field(default_factory=dict)
    # What of the object decides whether an event needs a pass (generation, the annotations people set).
    seen: tuple[Any, ...] | None = None
    # The same, as of the operator's last pass: what it acted on, then each of its own writes. The watch may
    # deliver the operator's own write before the write's answer arrives; a pass queued by that event finds
    # nothing new here and is skipped.
    acted: tuple[Any, ...] | None = None
    # Set by an event that changed `seen`: wakes a deletion waiting out its backoff. Made only by a deletion
    # that waits (an asyncio.Event costs more than the rest of this record).
    changed: asyncio.Event | None = None
    deleter: asyncio.Task[None] | None = None
    gone: bool = False
    batch_key: Any = UNKNOWN
    # Polls of a resource read on its own are spread over the interval (set once, from the uid).
    phased: bool = False
    # When the upstream last posted a genuine status callback for it (polling slows down meanwhile).
    last_callback_at: float | None = None
    external_id: str | None = None
    pending_since: datetime.datetime | None = None
    next_poll_at: float = 0.0
    not_before: float = 0.0
    failures: int = 0
    polls: int = 0
    last_warning: str | None = None
    # The generation the remote object last matched (tells drift from a spec edit); None until known.
    synced_generation: int | None = None
    # What the last pass saw in its parent's list, as (external id, fingerprint of the listed item), and what
    # it scheduled: a list that shows the same terminal object again, with nothing changed on the resource,
    # needs no pass (at 10,000 resources those passes were most of the operator's work).
    listed_as: tuple[str, int] | None = None
    interval: float = 0.0
    terminal: bool = False

    def notify_changed(self) -> None:
        if self.changed is not None:
            self.changed.set()

    async def wait_changed(self, timeout: float) -> None:  # noqa: ASYNC109
        """Until an event changes the resource, or `timeout` seconds."""
        if self.changed is None:
            self.changed = asyncio.Event()
        self.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)


# Kept for every live resource but never read by the operator: the server's field ownership, and the copy of
# the whole manifest `kubectl apply` (client-side) stores.
_UNREAD_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
_INTERNED_UP_TO = 128  # characters: names, reasons, timestamps, ids; never messages


def compact_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as the operator keeps it between events (one per live resource): without what it never
    reads, as plain dicts whose keys and short strings are shared by every resource. Decoded JSON gives each
    object its own copy of every key; at 10,000 resources those copies were most of the operator's memory."""
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    annotations = meta.get("annotations")
    if annotations and not _UNREAD_ANNOTATIONS.isdisjoint(annotations):
        meta["annotations"] = {k: v for k, v in annotations.items() if k not in _UNREAD_ANNOTATIONS}
    kept: dict[str, Any] = _shared({**body, "metadata": meta})
    return kept


def _shared(value: Any) -> Any:
    if type(value) is str:
        return sys.intern(value) if len(value) <= _INTERNED_UP_TO else value
    if isinstance(value, Mapping):
        return {_shared(k): _shared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shared(v) for v in value]
    return value


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
            status=dict(body.get("status") or {}),
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
