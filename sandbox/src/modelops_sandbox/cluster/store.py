"""The object store: objects by key, one global resourceVersion counter, a bounded event history.

Objects are kept per storage key ``(group, plural)`` (all served versions of a resource share one
storage, as in a real cluster), then per namespace (``None`` for cluster-scoped objects), then by name,
so a lookup is O(1) and a namespaced list touches only that namespace of that resource. Lists come in the
order of a real server's storage keys, ``<namespace>/<name>`` as strings (so ``a-b/x`` sorts before ``a/y``).

Every write takes the next resourceVersion from a single monotonic counter, stamps it into the stored
object's ``metadata.resourceVersion``, appends a :class:`WatchEvent` to the resource's bounded history
and pushes it to the live watchers of that resource. Stored objects are never mutated in place after a
write (a write stores a new dict), so history entries and watch events can share them safely.

The store is synchronous on purpose: with no ``await`` inside, each operation is atomic in asyncio,
and a watch can take its replay snapshot and subscribe to live events without a race.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

StorageKey = tuple[str, str]  # (group, plural)
Obj = dict[str, Any]


@dataclass(frozen=True)
class WatchEvent:
    """One change of one object, as recorded in the history and sent to watchers."""

    resource_version: int
    type: str  # ADDED, MODIFIED, DELETED
    object: Obj
    old: Obj | None  # the previous state (for selector transitions on watches), None for ADDED


class Expired(Exception):
    """The requested resourceVersion is older than the retained history (a watch must relist)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(eq=False)
class Watcher:
    """A live subscription to one resource: replayed events first, then live ones; ``None`` ends it."""

    key: StorageKey
    replay: list[WatchEvent]
    resource_version: int  # the store's resourceVersion when the watch started
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _with_resource_version(obj: Obj, resource_version: int) -> Obj:
    stamped = dict(obj)
    stamped["metadata"] = dict(_meta(obj), resourceVersion=str(resource_version))
    return stamped


class ObjectStore:
    def __init__(self, *, history_limit: int = 10_000) -> None:
        self._resource_version = 0
        self._history_limit = history_limit
        self._objects: dict[StorageKey, dict[str | None, dict[str, Obj]]] = {}
        self._history: dict[StorageKey, collections.deque[WatchEvent]] = {}
        self._compacted: dict[StorageKey, int] = {}  # the newest resourceVersion dropped from history
        self._watchers: dict[StorageKey, set[Watcher]] = {}
        self._closed = False

    # --- reading -------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """The resourceVersion of the latest write to any object (what lists report)."""
        return self._resource_version

    def get(self, key: StorageKey, namespace: str | None, name: str) -> Obj | None:
        return self._objects.get(key, {}).get(namespace, {}).get(name)

    def objects(self, key: StorageKey, namespace: str | None = None) -> list[Obj]:
        """Objects of one resource in storage-key order; ``namespace=None`` means all of them."""
        by_namespace = self._objects.get(key, {})
        if namespace is not None:
            names = by_namespace.get(namespace, {})
            return [names[name] for name in sorted(names)]
        keyed = [
            (f"{ns}/{name}" if ns else name, obj)
            for ns, names in by_namespace.items()
            for name, obj in names.items()
        ]
        return [obj for _, obj in sorted(keyed, key=lambda item: item[0])]

    def count(self, key: StorageKey) -> int:
        return sum(len(names) for names in self._objects.get(key, {}).values())

    def occupied(self, namespace: str) -> bool:
        """Whether any object of any resource is in that namespace."""
        return any(by_namespace.get(namespace) for by_namespace in self._objects.values())

    def keys_in(self, namespace: str) -> list[StorageKey]:
        """The resources that have objects in that namespace."""
        return [key for key, by_namespace in self._objects.items() if by_namespace.get(namespace)]

    def keys(self) -> Iterator[StorageKey]:
        return iter(list(self._objects))

    # --- writing -------------------------------------------------------------------------------

    def create(self, key: StorageKey, obj: Obj) -> Obj:
        """Store a new object (the caller checked it does not exist); returns it with its resourceVersion."""
        stored = self._write(key, obj)
        self._publish(key, "ADDED", stored, None)
        return stored

    def update(self, key: StorageKey, obj: Obj) -> Obj:
        """Replace an existing object; returns the stored one with its new resourceVersion."""
        old = self.get(key, _meta(obj).get("namespace"), _meta(obj)["name"])
        stored = self._write(key, obj)
        self._publish(key, "MODIFIED", stored, old)
        return stored

    def delete(self, key: StorageKey, obj: Obj) -> Obj:
        """Remove an object; ``obj`` is its final state, sent in the DELETED event (new resourceVersion)."""
        meta = _meta(obj)
        namespace, name = meta.get("namespace"), meta["name"]
        old = self.get(key, namespace, name)
        self._resource_version += 1
        final = _with_resource_version(obj, self._resource_version)
        names = self._objects.get(key, {}).get(namespace, {})
        names.pop(name, None)
        if not names:
            self._objects.get(key, {}).pop(namespace, None)
        self._publish(key, "DELETED", final, old)
        return final

    def restart_history(self, key: StorageKey) -> None:
        """A resource starts being served (a CRD was established): its watch history begins now, and a watch
        from an older resourceVersion is answered 410 Expired, as by a real server's fresh watch cache."""
        self._history.pop(key, None)
        self._compacted[key] = self._resource_version

    def purge(self, key: StorageKey) -> list[Obj]:
        """Delete every object of a resource (e.g. when its CRD is deleted), with DELETED events."""
        return [self.delete(key, obj) for obj in self.objects(key)]

    def _write(self, key: StorageKey, obj: Obj) -> Obj:
        self._resource_version += 1
        stored = _with_resource_version(obj, self._resource_version)
        meta = _meta(stored)
        self._objects.setdefault(key, {}).setdefault(meta.get("namespace"), {})[meta["name"]] = stored
        return stored

    def _publish(self, key: StorageKey, type_: str, obj: Obj, old: Obj | None) -> None:
        event = WatchEvent(self._resource_version, type_, obj, old)
        history = self._history.get(key)
        if history is None:
            history = self._history[key] = collections.deque(maxlen=self._history_limit)
        if history.maxlen is not None and len(history) == history.maxlen:
            self._compacted[key] = history[0].resource_version
        history.append(event)
        for watcher in self._watchers.get(key, ()):
            watcher.queue.put_nowait(event)

    # --- watching ------------------------------------------------------------------------------

    def watch(self, key: StorageKey, since: int | None) -> Watcher:
        """
        Subscribe to a resource's changes.

        ``since=None`` replays the current objects as synthetic ADDED events (a fresh watch);
        ``since=N`` replays the recorded events newer than N, or raises :class:`Expired` if some
        of them were already dropped from the bounded history.
        """
        if since is None:
            replay = [WatchEvent(self._resource_version, "ADDED", obj, None) for obj in self.objects(key)]
        else:
            compacted = self._compacted.get(key, 0)
            if since < compacted:
                raise Expired(since, compacted + 1)
            replay = [event for event in self._history.get(key, ()) if event.resource_version > since]
        watcher = Watcher(key=key, replay=replay, resource_version=self._resource_version)
        if self._closed:
            watcher.queue.put_nowait(None)
        else:
            self._watchers.setdefault(key, set()).add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.key, set()).discard(watcher)

    def close(self) -> None:
        """End all live watches (used when the server shuts down)."""
        self._closed = True
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.queue.put_nowait(None)
        self._watchers.clear()
