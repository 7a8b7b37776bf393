"""The HTTP policy shared by every upstream client.

One `UpstreamHTTP` per upstream per operator: it owns the httpx client (connection pooling, timeouts),
a concurrency limit (so many resources cannot storm one rate limit together), retry with backoff and
jitter that honours Retry-After, and the classification of failures into the types of `errors`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, Field

from modelops_operator.metrics import Metrics
from modelops_operator.providers.backoff import Backoff, parse_retry_after
from modelops_operator.providers.errors import (
    MalformedResponseError,
    TransientUpstreamError,
    UpstreamError,
    classify_status,
)

log = logging.getLogger(__name__)


class HttpPolicy(BaseModel):
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=4, ge=1)
    backoff_base_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)
    max_retry_after_seconds: float = Field(default=300.0, ge=0)
    concurrency: int = Field(default=8, ge=1)

    @property
    def backoff(self) -> Backoff:
        return Backoff(
            base=self.backoff_base_seconds,
            cap=self.backoff_max_seconds,
            max_retry_after=self.max_retry_after_seconds,
        )


class UpstreamHTTP:
    """Sends requests to one upstream with the shared policy. Knows nothing of Kubernetes or kopf."""

    def __init__(
        self,
        name: str,
        base_url: str,
        policy: HttpPolicy,
        *,
        metrics: Metrics | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._metrics = metrics
        self._semaphore = asyncio.Semaphore(policy.concurrency)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(policy.timeout_seconds),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": "modelops-operator"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        route: str,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool,
        ok: Collection[int] = (200,),
        retry_statuses: Collection[int] | None = None,
    ) -> httpx.Response:
        """Send one logical request, retrying transient failures within the policy's attempt budget.

        `route` is the path template (e.g. ``/v1/Tools/{id}``), the metrics' label: never a concrete id.
        `ok` lists the statuses returned to the caller; anything else becomes an `UpstreamError`.
        Non-idempotent requests (creates) are retried only where the upstream cannot have acted on them:
        a 429 (rejected before processing) or a connection that never opened. Otherwise the caller must look
        the object up before trying again, or it could create a duplicate.
        """
        backoff = self.policy.backoff
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send_once(
                    method, path, route, auth, headers, params, data, json, ok, retry_statuses
                )
            except TransientUpstreamError as error:
                if attempt >= self.policy.max_attempts or not (idempotent or _never_processed(error)):
                    raise
                delay = backoff.delay(attempt, error.retry_after)
                log.info(
                    "%s %s %s failed (%s); retry %d/%d in %.2fs",
                    self.name,
                    method,
                    path,
                    error,
                    attempt,
                    self.policy.max_attempts - 1,
                    delay,
                )
                if self._metrics is not None:
                    self._metrics.upstream_retries.labels(self.name).inc()
                    cause = "retry_after" if error.retry_after is not None else "backoff"
                    self._metrics.upstream_wait.labels(self.name, cause).inc(delay)
                await asyncio.sleep(delay)

    async def _send_once(
        self,
        method: str,
        path: str,
        route: str,
        auth: httpx.Auth | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        json: Any,
        ok: Collection[int],
        retry_statuses: Collection[int] | None,
    ) -> httpx.Response:
        started = time.monotonic()
        outcome = "error"
        try:
            async with self._semaphore:
                try:
                    response = await self._client.request(
                        method,
                        self.url(path),
                        auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                        headers=headers,
                        params=params,
                        data=data,
                        json=json,
                    )
                except httpx.ConnectError as exc:
                    outcome = "connect-error"
                    raise TransientUpstreamError(
                        upstream=self.name, message=f"cannot connect: {_describe(exc)}", code="connect"
                    ) from exc
                except httpx.TimeoutException as exc:
                    outcome = "timeout"
                    raise TransientUpstreamError(
                        upstream=self.name,
                        message=f"no answer within {self.policy.timeout_seconds:g}s ({type(exc).__name__})",
                        code="timeout",
                    ) from exc
                except httpx.TransportError as exc:
                    outcome = "transport-error"
                    raise TransientUpstreamError(
                        upstream=self.name, message=f"connection failed: {_describe(exc)}", code="transport"
                    ) from exc
            outcome = str(response.status_code)
            if response.status_code in ok:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            error = classify_status(
                self.name,
                response.status_code,
                response.content,
                response.headers.get("Content-Type"),
                retry_after,
            )
            if retry_statuses is not None and response.status_code in retry_statuses:
                error = TransientUpstreamError(
                    upstream=error.upstream,
                    message=error.message,
                    status=error.status,
                    code=error.code,
                    retry_after=error.retry_after,
                )
            raise error
        finally:
            if self._metrics is not None:
                label = f"{method} {route}"
                self._metrics.upstream_requests.labels(self.name, label, outcome).inc()
                self._metrics.upstream_duration.labels(self.name, label).observe(time.monotonic() - started)


def parse_json(upstream: str, response: httpx.Response) -> Any:
    """Decode a success body; a 2xx that is not JSON is a transient fault (a proxy page, a truncated body)."""
    try:
        return response.json()
    except ValueError as exc:
        raise MalformedResponseError(
            upstream=upstream,
            message=f"HTTP {response.status_code} with a body that is not JSON",
            status=response.status_code,
            code="malformed",
        ) from exc


def _never_processed(error: UpstreamError) -> bool:
    return error.status == 429 or error.code == "connect"


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
