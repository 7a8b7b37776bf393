"""The HTTP policy shared by every upstream client.

One `UpstreamHTTP` per upstream per operator: it owns the httpx client (connection pooling, timeouts),
a concurrency limit (so many resources cannot storm one rate limit together), retry with backoff and
jitter that honours Retry-After, and the classification of failures into the types of `errors`.

A timeout is not retried within a request, and no logical request outlives `HttpPolicy.deadline_seconds`:
a hung upstream surfaces to the lifecycle (and so in `.status` and Events) after one timeout, and the
lifecycle's own backoff tries again. Success bodies are checked against pydantic models of the upstream's
contract (`parse_model`, `validate_model`): a body that does not match is a `MalformedResponseError`
naming what is missing or wrong, never something taken for state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from modelops_operator.metrics import Metrics
from modelops_operator.providers.backoff import Backoff, parse_retry_after
from modelops_operator.providers.errors import (
    MalformedResponseError,
    TransientUpstreamError,
    UpstreamError,
    classify_status,
    describe_validation,
)

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
# What the operator acts on in an answer (an id, a status word): present, and not "".
NonEmpty = Annotated[str, StringConstraints(min_length=1)]

# One logical request (every attempt, and the waits between them) may take this many attempt timeouts: room
# for one retry after a slow failure, while a hung upstream still shows in `.status` within about a timeout.
DEADLINE_TIMEOUTS = 2.0


class HttpPolicy(BaseModel):
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=4, ge=1)
    backoff_base_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)
    max_retry_after_seconds: float = Field(default=300.0, ge=0)
    concurrency: int = Field(default=8, ge=1)

    @property
    def deadline_seconds(self) -> float:
        """The longest one logical request may take, retries, waits and queueing for a connection included."""
        return self.timeout_seconds * DEADLINE_TIMEOUTS

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
            # No more connections than requests in flight (the semaphore): the pool scans its connections on
            # every request, and idle ones only cost.
            limits=httpx.Limits(
                max_connections=policy.concurrency, max_keepalive_connections=policy.concurrency
            ),
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
        A timeout is never retried here, and the whole (attempts, waits, queueing for a connection) ends
        within `HttpPolicy.deadline_seconds`.
        """
        budget = self.policy.deadline_seconds
        limit = asyncio.timeout(budget)
        try:
            async with limit:
                return await self._attempts(
                    method,
                    path,
                    route,
                    auth,
                    headers,
                    params,
                    data,
                    json,
                    idempotent,
                    ok,
                    retry_statuses,
                    deadline=time.monotonic() + budget,
                )
        except TimeoutError:
            if not limit.expired():
                raise
            # Attempts and waits are fitted into the deadline; what still gets here is queueing for a free
            # connection, or an answer trickling in (httpx's timeout applies to each read, not to the whole).
            # The outcome is unknown, as for any timeout: a create keeps its pending marker.
            raise TransientUpstreamError(
                upstream=self.name, message=f"no complete answer within {budget:g}s", code="timeout"
            ) from None

    async def _attempts(
        self,
        method: str,
        path: str,
        route: str,
        auth: httpx.Auth | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        data: Mapping[str, Any] | None,
        json: Any,
        idempotent: bool,
        ok: Collection[int],
        retry_statuses: Collection[int] | None,
        *,
        deadline: float,
    ) -> httpx.Response:
        """Attempts until one succeeds, or an error is not retried here; a retry is made only when it (its
        wait and a full attempt timeout) fits before `deadline` (a `time.monotonic()` reading)."""
        backoff = self.policy.backoff
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send_once(
                    method, path, route, auth, headers, params, data, json, ok, retry_statuses
                )
            except TransientUpstreamError as error:
                if not self._retry_within(error, attempt, idempotent):
                    raise
                delay = backoff.delay(attempt, error.retry_after)
                if time.monotonic() + delay + self.policy.timeout_seconds > deadline:
                    # Another attempt might not end within the deadline: hand the error (and its Retry-After)
                    # to the lifecycle, whose backoff waits with the reason in `.status`.
                    raise
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

    def _retry_within(self, error: UpstreamError, attempt: int, idempotent: bool) -> bool:
        """Whether to try again within this request. Never after a timeout: another full timeout would only
        hide the hang from `.status` (the lifecycle retries it). A non-idempotent request only where the
        upstream cannot have acted on it."""
        if attempt >= self.policy.max_attempts or error.code == "timeout":
            return False
        return idempotent or _never_processed(error)

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


def parse_model(upstream: str, response: httpx.Response, model: type[ModelT], what: str) -> ModelT:
    """Decode a success body and validate it against `model` (see `validate_model`)."""
    return validate_model(upstream, parse_json(upstream, response), model, what, status=response.status_code)


def validate_model(
    upstream: str, body: Any, model: type[ModelT], what: str, *, status: int | None = None
) -> ModelT:
    """`body` as `model`, or a `MalformedResponseError` that names what is missing or wrong, prefixed with
    `what` (e.g. "model build: field 'sid' is required; field 'status' is required").

    A 200 from a proxy or a broken gateway is no answer of the upstream's: taking it for state would
    overwrite what the operator knows with nothing, so it is a transient error, retried later.
    """
    if not isinstance(body, dict):
        raise MalformedResponseError(
            upstream=upstream,
            message=f"{what}: expected a JSON object, got {_json_type(body)}",
            status=status,
            code="malformed",
        )
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise MalformedResponseError(
            upstream=upstream, message=f"{what}: {describe_validation(exc)}", status=status, code="malformed"
        ) from exc


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else type(value).__name__


def _never_processed(error: UpstreamError) -> bool:
    return error.status == 429 or error.code == "connect"


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
