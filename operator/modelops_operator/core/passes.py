"""The passes that watch events ask for, queued: a fixed set of workers runs them, one per resource at a time.

kopf calls a handler per event and keeps that handler's whole call stack alive while it waits; ten thousand
resources applied together would mean ten thousand stacks waiting for a turn. Instead, an event only records
that its resource needs a pass (a set entry, deduplicated: a resource queued twice runs once, with the
stronger trigger) and kopf's handler returns at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from modelops_operator.core.resource import ObjectMemory

log = logging.getLogger(__name__)

# A person's explicit request outranks an ordinary event for the same resource, and an event (which may create
# or update) outranks a status callback (which only observes).
_RANK = {"callback": -1, "event": 0, "requested": 1}


class PassQueue:
    def __init__(self, run: Callable[[ObjectMemory, str], Awaitable[None]], workers: int) -> None:
        self._run = run
        self._workers = workers
        self._queued: OrderedDict[int, tuple[ObjectMemory, str]] = OrderedDict()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False  # halted or stopped: an operator going down takes no new work

    def submit(self, memory: ObjectMemory, trigger: str) -> None:
        if self._closed:
            return
        key = id(memory)
        queued = self._queued.get(key)
        if queued is not None and _RANK.get(queued[1], 0) >= _RANK.get(trigger, 0):
            return
        self._queued[key] = (memory, trigger)
        self._ready.set()
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._work(), name=f"modelops-pass-{index}")
                for index in range(self._workers)
            ]

    def __len__(self) -> int:
        return len(self._queued)

    async def _work(self) -> None:
        while True:
            if not self._queued:
                self._ready.clear()
                await self._ready.wait()
                continue
            _, (memory, trigger) = self._queued.popitem(last=False)
            try:
                await self._run(memory, trigger)
            except Exception:
                log.exception("a pass failed; the resource is tried again at its next poll")

    def halt(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()

    async def stop(self) -> None:
        self.halt()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
