"""Retry timing: Retry-After wins, otherwise exponential with jitter, always bounded."""

from __future__ import annotations

import email.utils
import random

from modelops_operator.providers.backoff import Backoff, parse_retry_after


def test_retry_after_is_honoured_exactly() -> None:
    assert Backoff(base=1, cap=10).delay(attempt=5, retry_after=7.0) == 7.0


def test_retry_after_is_clamped() -> None:
    assert Backoff(max_retry_after=60).delay(1, retry_after=3600) == 60


def test_exponential_growth_with_jitter_within_bounds() -> None:
    backoff = Backoff(base=1, cap=8)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (9, 8)]:
        delays = [backoff.delay(attempt, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_parse_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
