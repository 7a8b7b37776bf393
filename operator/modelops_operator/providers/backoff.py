"""Retry timing: exponential backoff with jitter, overridden by an upstream's Retry-After."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    cap: float = 30.0
    # A Retry-After longer than this is clamped, so a broken upstream cannot park a resource for hours.
    max_retry_after: float = 300.0

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number `attempt` (1-based).

        Retry-After, when present, is honoured as the minimum wait: the upstream knows its own limit.
        Otherwise "equal jitter" (uniform in [ceiling/2, ceiling], ceiling = min(cap, base * 2**(attempt-1)))
        spreads retries of many
        resources apart, so they do not return as a synchronized storm.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.cap, self.base * (2 ** max(attempt - 1, 0)))
        return (rng or random).uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)
