"""Credentials Secrets, read by name and kept for a short while.

Every pass of every resource needs its Secret; reading it each time is one API request per resource per
interval (and the operator never lists or watches Secrets: RBAC stays `get`). An entry is used for
`ttl` seconds, then read again (so a changed Secret, a new resourceVersion, is seen within `ttl`). An upstream
that rejects the credentials (401/403) drops the entry at once, so a corrected Secret is read on the next pass.
A Secret that is gone is gone at once for every resource that reads it after the entry expired.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from modelops_operator.core.kube import KubeClient, SecretData, SecretNotFound
from modelops_operator.metrics import Metrics


@dataclass
class _Entry:
    secret: SecretData
    read_at: float


class SecretCache:
    def __init__(
        self,
        kube: KubeClient,
        ttl: float,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._ttl = ttl
        self._metrics = metrics
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def read(self, namespace: str, name: str) -> dict[str, str]:
        key = (namespace, name)
        cached = self._fresh(key)
        if cached is not None:
            return cached
        # One read per Secret at a time: whoever waited meanwhile finds it cached.
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._fresh(key)
            if cached is not None:
                return cached
            self._count("miss")
            try:
                secret = await self._kube.read_secret(namespace, name)
            except SecretNotFound:
                self._entries.pop(key, None)
                raise
            if self._ttl > 0:
                self._entries[key] = _Entry(secret=secret, read_at=self._clock())
            return secret.values

    def _fresh(self, key: tuple[str, str]) -> dict[str, str] | None:
        entry = self._entries.get(key)
        if entry is not None and self._clock() - entry.read_at < self._ttl:
            self._count("hit")
            return entry.secret.values
        return None

    def drop(self, namespace: str, name: str) -> None:
        """The upstream rejected these credentials: read the Secret again next time."""
        self._entries.pop((namespace, name), None)

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.secret_reads.labels(result).inc()
