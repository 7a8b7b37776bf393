"""The shared HTTP policy's time bounds: a timeout is not retried within a request (the lifecycle retries it,
with the reason in `.status`), and one logical request never outlives `HttpPolicy.deadline_seconds`, retries,
waits and Retry-After included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from modelops_operator.providers.errors import TransientUpstreamError
from modelops_operator.providers.http import HttpPolicy, UpstreamHTTP

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]

POLICY = HttpPolicy(timeout_seconds=0.5, max_attempts=4, backoff_base_seconds=0.01, backoff_max_seconds=0.02)
# Far above every bound under test: a request that outlives it was not bounded at all.
GUARD_SECONDS = 4.0


class Upstream:
    """A scripted upstream behind httpx's MockTransport that counts the attempts it receives."""

    def __init__(self, handler: Handler) -> None:
        self.calls = 0
        self._handler = handler

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self._handler(request)

    def client(self, policy: HttpPolicy = POLICY) -> UpstreamHTTP:
        return UpstreamHTTP(
            "scripted", "http://upstream.invalid", policy, transport=httpx.MockTransport(self)
        )


async def send(http: UpstreamHTTP, *, idempotent: bool = True) -> tuple[TransientUpstreamError, float]:
    """The error one logical GET ends in, and how long it took."""
    started = time.monotonic()
    with pytest.raises(TransientUpstreamError) as caught:
        async with asyncio.timeout(GUARD_SECONDS):
            await http.request("GET", "/thing", route="/thing", idempotent=idempotent)
    return caught.value, time.monotonic() - started


@pytest.mark.parametrize("idempotent", [True, False])
async def test_a_timeout_is_not_retried_within_the_request(idempotent: bool) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    upstream = Upstream(hang)
    error, _ = await send(upstream.client(), idempotent=idempotent)
    assert upstream.calls == 1
    assert error.code == "timeout" and error.status is None  # unknown outcome: a create keeps its marker
    assert "no answer within 0.5s" in str(error)


async def test_slow_failures_are_retried_only_within_the_deadline() -> None:
    async def slow_503(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        return httpx.Response(503, json={"message": "overloaded"})

    upstream = Upstream(slow_503)
    error, took = await send(upstream.client())
    assert error.status == 503
    # 0.3 s + 0.3 s, then another attempt (up to 0.5 s) would cross the 1 s deadline: the lifecycle retries.
    assert upstream.calls == 2
    assert took <= POLICY.deadline_seconds


async def test_quick_failures_still_use_every_attempt() -> None:
    async def quick_503(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"message": "overloaded"})

    upstream = Upstream(quick_503)
    await send(upstream.client())
    assert upstream.calls == POLICY.max_attempts


async def test_a_retry_after_beyond_the_deadline_is_left_to_the_caller() -> None:
    async def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "30"}, json={"message": "slow down"})

    upstream = Upstream(limited)
    error, took = await send(upstream.client())
    assert upstream.calls == 1
    assert error.retry_after == 30  # the lifecycle's backoff honours it, with the reason in .status
    assert took < 1.0


async def test_a_request_that_never_completes_ends_at_the_deadline() -> None:
    # httpx's timeouts apply to each read, so an answer trickling in (here: a transport that never returns)
    # is bounded only by the deadline of the whole request.
    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    upstream = Upstream(never)
    error, took = await send(upstream.client())
    assert upstream.calls == 1
    assert error.code == "timeout"
    assert "no complete answer within 1s" in str(error)
    assert POLICY.deadline_seconds <= took < POLICY.deadline_seconds + 0.5


async def test_queueing_for_a_connection_counts_against_the_deadline() -> None:
    async def answer_late(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.8 if request.url.path == "/first" else 0.4)
        return httpx.Response(200, json={})

    upstream = Upstream(answer_late)
    http = upstream.client(POLICY.model_copy(update={"concurrency": 1}))
    first = asyncio.create_task(http.request("GET", "/first", route="/first", idempotent=True))
    await asyncio.sleep(0)  # the first request takes the only slot
    # 0.8 s queued behind it, then 0.4 s of its own: past the 1 s deadline.
    error, took = await send(http)
    assert error.code == "timeout"
    assert took < POLICY.deadline_seconds + 0.5
    assert (await first).status_code == 200


def test_the_deadline_is_twice_the_timeout() -> None:
    assert HttpPolicy(timeout_seconds=30).deadline_seconds == 60
