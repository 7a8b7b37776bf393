"""Polling owned by the lifecycle: one list per parent per interval, and per-object reads spread out.

Every tracked resource has its next poll time (set by the lifecycle after each pass). Each round, the due
resources are grouped by their provider's `Batch.key`: a group is answered by one `fetch()` (one list of the
parent, all pages), shared by every resource of that parent, due or not; resources whose provider has no
batch are read one by one, each at its own phase of the interval, so a thousand resources created together
do not poll together. Groups come and go with their resources: a group is nothing but the key its members
share in a round.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from modelops_operator.core.resource import UNKNOWN, ObjectMemory
from modelops_operator.providers.base import Batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listed:
    """What one batch fetch answered for a member: the items by external id, or the error it raised."""

    items: Mapping[str, Any] | None = None
    error: BaseException | None = None


class Polled(Protocol):
    """What the poller needs of the lifecycle."""

    def wants_poll(self, memory: ObjectMemory, now: float) -> bool:
        """Its next poll is due."""

    async def batch_of(self, memory: ObjectMemory) -> tuple[str, Batch] | None:
        """(upstream, batch) of the resource's provider, or None: read on its own. Sets
        `memory.batch_key` (None: never batched) once it can be known (it has a remote object)."""

    async def poll(self, memory: ObjectMemory, listed: Listed | None) -> None:
        """Observe the resource now if it wants to be (it may be in backoff, paused, stalled), with `listed`
        as its parent's list when there is one."""


class Poller:
    def __init__(
        self,
        lifecycle: Polled,
        *,
        tick: float,
        on_batch: Callable[[str, int], None] = lambda upstream, size: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lifecycle = lifecycle
        self._tick = tick
        self._on_batch = on_batch
        self._clock = clock
        self._members: dict[str, ObjectMemory] = {}
        self._busy: set[str] = set()
        # Per parent: a list in flight, and when the last one started (one list per parent per tick at most).
        self._listing: set[Hashable] = set()
        self._listed_at: dict[Hashable, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._closed = False  # halted or stopped: no polling loop is started again

    def track(self, uid: str, memory: ObjectMemory) -> None:
        if self._closed:
            return
        self._members[uid] = memory
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._run(), name="modelops-poller")

    def member(self, uid: str) -> ObjectMemory | None:
        return self._members.get(uid)

    def drop(self, uid: str) -> None:
        self._members.pop(uid, None)

    def __len__(self) -> int:
        return len(self._members)

    def halt(self) -> None:
        self._closed = True
        for task in [*self._tasks, *([self._loop] if self._loop else [])]:
            task.cancel()

    async def stop(self) -> None:
        self._closed = True
        tasks = [*self._tasks, *([self._loop] if self._loop else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loop = None

    async def _run(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:  # a round must never end polling for good
                log.exception("a polling round failed")
            await asyncio.sleep(self._tick)

    async def _round(self) -> None:
        now = self._clock()
        members = list(self._members.items())
        groups: dict[Hashable, list[tuple[str, ObjectMemory]]] = {}
        for uid, memory in members:
            if uid in self._busy:
                continue
            due = self._lifecycle.wants_poll(memory, now)
            if memory.batch_key is UNKNOWN and due:
                # Worked out when first due (once it has a remote object), then kept: a round stays cheap.
                await self._lifecycle.batch_of(memory)
            if memory.batch_key is None or memory.batch_key is UNKNOWN:
                if due:
                    self._start([uid], functools.partial(self._lifecycle.poll, memory, None))
                continue
            groups.setdefault(memory.batch_key, []).append((uid, memory))
        for key, group in groups.items():
            if key in self._listing or now - self._listed_at.get(key, -1e9) < self._tick:
                continue  # this parent's list is under way, or was just made: its members wait for it
            due_members = [memory for _, memory in group if self._lifecycle.wants_poll(memory, now)]
            if not due_members:
                continue
            # A fresh batch (fresh credentials) from a due member; its parent's other members ride along.
            found = await self._lifecycle.batch_of(due_members[0])
            if found is None or found[1].key != key:
                for _, memory in group:
                    memory.batch_key = UNKNOWN  # the spec or the credentials changed: sort it out next round
                continue
            upstream, batch = found
            self._listing.add(key)
            self._listed_at[key] = now
            riders = [memory for _, memory in group]
            self._start(
                [uid for uid, _ in group], functools.partial(self._batch, upstream, batch, riders), key=key
            )

    def _start(
        self, uids: list[str], work: Callable[[], Awaitable[None]], *, key: Hashable | None = None
    ) -> None:
        """Run `work` in a task of its own. A factory, not a coroutine: a task cancelled before it starts
        (the operator stopping) leaves no coroutine behind that was never awaited."""
        self._busy.update(uids)

        async def run() -> None:
            try:
                await work()
            except Exception:
                log.exception("polling failed")
            finally:
                self._busy.difference_update(uids)
                self._listing.discard(key)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _batch(self, upstream: str, batch: Batch, members: list[ObjectMemory]) -> None:
        try:
            listed = Listed(items=await batch.fetch())
        except Exception as error:  # every member takes the failure as its own (its backoff, its status)
            listed = Listed(error=error)
        self._on_batch(upstream, len(members))
        await asyncio.gather(*(self._lifecycle.poll(memory, listed) for memory in members))
