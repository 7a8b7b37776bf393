"""A small framework for fake upstream HTTP APIs, shared by every fake the project ships.

A fake is an :class:`aiohttp.web.Application` served on a real TCP port. The framework adds what tests and the
sandbox need around the upstream's own handlers:

* request recording (:class:`RecordedRequest`, bounded, credentials redacted);
* fault injection (:class:`FaultRule` in :attr:`FakeUpstream.faults`), checked before the real handler;
* hooks to wait deterministically for requests (:meth:`FakeUpstream.wait_for_request`, ``on_request``);
* gates that hold one response after the handler has applied its effect (:meth:`FakeUpstream.gate`);
* a :class:`Clock` so remote lifecycles progress lazily, and can be driven by a :class:`ManualClock` in tests.

Subclasses add their routes in ``__init__`` (after ``super().__init__()``) with :meth:`FakeUpstream.route`,
and may override :meth:`FakeUpstream.authenticate`, :meth:`FakeUpstream.error_body`,
:meth:`FakeUpstream.on_start` and :meth:`FakeUpstream.on_stop`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import dataclasses
import datetime as dt
import json as jsonlib
import logging
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "Clock",
    "FakeUpstream",
    "FaultHandle",
    "FaultKind",
    "FaultRule",
    "FaultSet",
    "Gate",
    "ManualClock",
    "RecordedRequest",
    "RequestContext",
    "RequestHook",
]

logger = logging.getLogger(__name__)

FaultKind = Literal["respond", "timeout", "malformed", "reset"]
"""What a fault does: answer a canned response, never answer, answer garbage, or drop the connection."""

REDACTED = "REDACTED"
MALFORMED_BODY = b'{"truncated": "this body is not valid JS'


# --------------------------------------------------------------------------------------------------- clocks


class Clock:
    """Source of time for remote lifecycles. The default is the real monotonic clock (seconds)."""

    def now(self) -> float:
        return time.monotonic()


class ManualClock(Clock):
    """A clock that only moves when told to: lifecycles progress exactly as far as a test advances it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
        return self._now


# ------------------------------------------------------------------------------------------------ recording


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it, and the status it answered.

    ``status`` is 0 when no response was sent (``timeout`` and ``reset`` faults); a gated request is recorded
    with the status its handler produced, before the gate holds it. ``fault`` names the fault kind that
    answered instead of the real handler (None otherwise).
    ``principal`` is the authenticated identity when the fake's authenticator set one (never a secret).
    ``query`` keeps the last value of a repeated key; ``query_string`` is the raw query string.
    """

    method: str
    path: str
    query: Mapping[str, str]
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    form: dict[str, str] | None
    json: Any | None
    at: float
    status: int
    fault: FaultKind | None = None
    principal: str | None = None

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        return self.headers.get(name)


RequestHook = Callable[[RecordedRequest], Awaitable[None]]


@dataclasses.dataclass
class RequestContext:
    """Per-request state available to handlers through :meth:`FakeUpstream.context`."""

    request: web.Request
    body: bytes
    form: dict[str, str] | None
    json: Any | None
    arrived: float
    principal: str | None = None
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)


_CURRENT: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "modelops_fake_request", default=None
)


def _parse_form(content_type: str, body: bytes) -> dict[str, str] | None:
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return dict(pairs)  # the last value of a repeated key wins


def _parse_json(content_type: str, body: bytes) -> Any | None:
    if "json" not in content_type or not body:
        return None
    try:
        return jsonlib.loads(body)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------- faults


@dataclasses.dataclass(frozen=True)
class FaultRule:
    """A fault, matched on method and path before the real handler runs.

    * ``kind="respond"``: after ``delay`` seconds, answer ``status`` with ``body`` and ``headers`` (a dict
      body is sent as JSON, a str as text/plain, bytes as-is; ``body=None`` uses the upstream's error shape).
      With ``status=None`` the rule only delays and then passes the request on to the real handler.
    * ``kind="timeout"``: never answer (the request is held until the fake stops).
    * ``kind="malformed"``: answer ``status`` (default 200) with a truncated, non-JSON body labelled as JSON.
    * ``kind="reset"``: close the connection (TCP reset) without any response.

    ``method`` (case-insensitive) and ``path`` (regex, ``re.search`` on the path without query) narrow the
    match; None matches everything. ``times`` is how many requests the rule applies to (None: forever).
    """

    method: str | None = None
    path: str | None = None
    status: int | None = None
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0
    times: int | None = 1
    kind: FaultKind = "respond"

    def __post_init__(self) -> None:
        if self.kind not in ("respond", "timeout", "malformed", "reset"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None (forever)")
        if self.kind == "respond" and self.status is None and self.delay == 0:
            raise ValueError("a 'respond' fault needs a status, a delay, or both")
        if self.path is not None:
            re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None


class FaultHandle:
    """An active fault: how often it fired and how many uses are left."""

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self.hits = 0
        self.remaining: int | None = rule.times

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def __repr__(self) -> str:
        return f"FaultHandle({self.rule!r}, hits={self.hits}, remaining={self.remaining})"


def _retry_after_value(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class FaultSet:
    """The ordered fault rules of one fake. The first active matching rule (in the order added) applies."""

    def __init__(self, error_body: Callable[[int], bytes | str | dict[str, Any]]) -> None:
        self._error_body = error_body
        self._handles: list[FaultHandle] = []

    def add(self, rule: FaultRule) -> FaultHandle:
        handle = FaultHandle(rule)
        self._handles.append(handle)
        return handle

    def remove(self, handle: FaultHandle) -> None:
        with contextlib.suppress(ValueError):
            self._handles.remove(handle)

    def clear(self) -> None:
        self._handles.clear()

    @property
    def active(self) -> list[FaultHandle]:
        return list(self._handles)

    def __len__(self) -> int:
        return len(self._handles)

    def take(self, method: str, path: str) -> FaultHandle | None:
        """Find the rule for this request and consume one use of it."""
        for handle in self._handles:
            if handle.rule.matches(method, path):
                handle.hits += 1
                if handle.remaining is not None:
                    handle.remaining -= 1
                    if handle.remaining <= 0:
                        self._handles.remove(handle)
                return handle
        return None

    # -- convenience helpers; error bodies follow the upstream's own error shape --------------------------

    def rate_limit(
        self,
        times: int | None = 3,
        retry_after: float | None = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int = 429,
    ) -> FaultHandle:
        """Answer 429 (the upstream's error body), with ``Retry-After`` unless ``retry_after`` is None."""
        headers = {} if retry_after is None else {"Retry-After": _retry_after_value(retry_after)}
        return self.add(
            FaultRule(
                method=method,
                path=path,
                status=status,
                body=self._error_body(status),
                headers=headers,
                times=times,
            )
        )

    def server_error(
        self,
        status: int = 500,
        times: int | None = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> FaultHandle:
        """Answer a 5xx (or any status) with the upstream's error body."""
        headers = {} if retry_after is None else {"Retry-After": _retry_after_value(retry_after)}
        return self.add(
            FaultRule(
                method=method,
                path=path,
                status=status,
                body=self._error_body(status),
                headers=headers,
                times=times,
            )
        )

    def respond(
        self,
        status: int,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        times: int | None = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> FaultHandle:
        return self.add(
            FaultRule(
                method=method,
                path=path,
                status=status,
                body=body,
                headers=dict(headers or {}),
                delay=delay,
                times=times,
            )
        )

    def slow(
        self, delay: float, times: int | None = 1, *, method: str | None = None, path: str | None = None
    ) -> FaultHandle:
        """Delay matching requests, then let the real handler answer."""
        return self.add(FaultRule(method=method, path=path, delay=delay, times=times))

    def timeout(
        self, times: int | None = 1, *, method: str | None = None, path: str | None = None
    ) -> FaultHandle:
        return self.add(FaultRule(method=method, path=path, times=times, kind="timeout"))

    def malformed(
        self, times: int | None = 1, *, method: str | None = None, path: str | None = None
    ) -> FaultHandle:
        return self.add(FaultRule(method=method, path=path, times=times, kind="malformed"))

    def reset(
        self, times: int | None = 1, *, method: str | None = None, path: str | None = None
    ) -> FaultHandle:
        return self.add(FaultRule(method=method, path=path, times=times, kind="reset"))


# ---------------------------------------------------------------------------------------------------- gates


class Gate:
    """Holds the response to the next request matching ``method``/``path_regex``.

    The real handler has already run (its effect is applied in the fake's state) when the gate holds the
    response. ``arrived`` is set at that moment and ``request`` holds the record. ``release()`` lets the
    response go out; ``release(respond=False)`` drops the connection instead, as if the upstream's answer
    was lost. Releasing before arrival lets the request pass without holding. Stopping the fake drops it.
    """

    def __init__(self, method: str | None, path_regex: str | None) -> None:
        self.method = method
        self.path_regex = path_regex
        self.arrived = asyncio.Event()
        self.request: RecordedRequest | None = None
        self._released = asyncio.Event()
        self._respond = True
        self._taken = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_regex is None or re.search(self.path_regex, path) is not None

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def release(self, respond: bool = True) -> None:
        if not self._released.is_set():
            self._respond = respond
            self._released.set()

    async def wait_arrived(self, timeout: float = 10.0) -> RecordedRequest:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            await self.arrived.wait()
        assert self.request is not None
        return self.request


# ----------------------------------------------------------------------------------------------------- fake


class FakeUpstream:
    """Base class of every fake upstream. See the module docstring."""

    name: str = "fake"
    sensitive_headers: frozenset[str] = frozenset(
        {"authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie"}
    )

    def __init__(self, *, clock: Clock | None = None, max_recorded: int = 10_000) -> None:
        self.clock: Clock = clock or Clock()

        @web.middleware
        async def middleware(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            return await self._middleware(request, handler)

        self.app = web.Application(middlewares=[middleware])
        self.faults = FaultSet(self.error_body)
        self.on_request: list[RequestHook] = []
        self.public_url: str | None = None
        """When set, absolute URLs in responses use it instead of :attr:`url` (e.g. behind a proxy)."""
        self._requests: collections.deque[RecordedRequest] = collections.deque(maxlen=max_recorded)
        self._changed = asyncio.Event()
        self._gates: list[Gate] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._stopping = asyncio.Event()
        self._background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._wall_origin = time.time()
        self._clock_origin = self.clock.now()

    # -- extension points ---------------------------------------------------------------------------------

    def route(
        self, method: str, path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> None:
        """Register a handler (call from the subclass ``__init__``)."""
        self.app.router.add_route(method, path, handler)

    def add_background_task(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``factory()`` as a task while the fake is running (cancelled on stop)."""
        self._background.append(factory)

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        """Return an error response to refuse the request, or None to let it through. Runs before routing."""
        return None

    def error_body(
        self, status: int, message: str | None = None, *, code: int | None = None
    ) -> bytes | str | dict[str, Any]:
        """The upstream's error body for ``status``. Override to match the upstream's error shape."""
        return {"code": code if code is not None else status, "message": message or _reason(status)}

    async def on_start(self) -> None:
        """Called when the fake starts, before it accepts requests."""

    async def on_stop(self) -> None:
        """Called when the fake stops, after the server is closed."""

    # -- helpers for handlers -----------------------------------------------------------------------------

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        code: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        return _make_response(status, self.error_body(status, message, code=code), headers)

    @staticmethod
    def context() -> RequestContext:
        """The state of the request being handled (only valid inside a handler or ``authenticate``)."""
        ctx = _CURRENT.get()
        if ctx is None:
            raise RuntimeError("no request is being handled")
        return ctx

    def request_form(self) -> dict[str, str]:
        """The form-encoded body of the current request ({} when it is not form-encoded)."""
        return dict(self.context().form or {})

    def request_json(self) -> Any | None:
        return self.context().json

    @property
    def base_url(self) -> str:
        """The root URL to put in absolute URLs: :attr:`public_url` when set, else :attr:`url`."""
        return self.public_url.rstrip("/") if self.public_url else self.url

    def wall_time(self, clock_time: float | None = None) -> dt.datetime:
        """Map a clock reading to a UTC datetime (a :class:`ManualClock` moves the dates too)."""
        t = self.clock.now() if clock_time is None else clock_time
        return dt.datetime.fromtimestamp(self._wall_origin + (t - self._clock_origin), tz=dt.UTC)

    # -- lifecycle ----------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def url(self) -> str:
        """Root URL (scheme, host and port), no trailing slash and no API version."""
        if self._url is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._stopping = asyncio.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        try:
            await runner.setup()
            await self.on_start()
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._runner = runner
        bound_port = sock.getsockname()[1]
        url_host = f"[{host}]" if family == socket.AF_INET6 else host
        self._url = f"http://{url_host}:{bound_port}"
        self._tasks = [asyncio.create_task(self._run_background(f)) for f in self._background]
        logger.debug("%s listening on %s", type(self).__name__, self._url)
        return self._url

    async def stop(self) -> None:
        runner = self._runner
        if runner is None:
            return
        self._stopping.set()
        for gate in self._gates:
            gate.release(respond=False)
        self._gates.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            await runner.cleanup()
        finally:
            self._runner = None
            self._url = None
            await self.on_stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _run_background(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            await factory()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("background task of %s failed", type(self).__name__)

    async def wait_stopping(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for the fake to start stopping; True if it is stopping."""
        try:
            async with asyncio.timeout(timeout):
                await self._stopping.wait()
        except TimeoutError:
            return False
        return True

    # -- recorded requests --------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._requests)

    def requests_matching(
        self, method: str | None = None, path_regex: str | None = None
    ) -> list[RecordedRequest]:
        pattern = re.compile(path_regex) if path_regex is not None else None
        return [
            r
            for r in self._requests
            if (method is None or r.method == method.upper()) and (pattern is None or pattern.search(r.path))
        ]

    def clear_requests(self) -> None:
        self._requests.clear()

    async def wait_for_request(
        self,
        method: str | None = None,
        path_regex: str | None = None,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> RecordedRequest:
        """Wait until at least ``count`` recorded requests match, and return the ``count``-th of them.

        Counts among the currently recorded requests (use :meth:`clear_requests` to start afresh). A request
        is recorded once its answer is decided: before a gate holds it, at arrival for timeout/reset faults.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changed
                    found = self.requests_matching(method, path_regex)
                    if len(found) >= count:
                        return found[count - 1]
                    await changed.wait()
        except TimeoutError:
            seen = [f"{r.method} {r.path} -> {r.status}" for r in list(self._requests)[-20:]]
            raise TimeoutError(
                f"{type(self).__name__}: fewer than {count} request(s) matching {method or '*'} "
                f"{path_regex or '.*'} within {timeout}s; last seen: {seen}"
            ) from None

    def gate(self, method: str | None = None, path_regex: str | None = None) -> Gate:
        """Hold the response to the next matching request; see :class:`Gate`."""
        gate = Gate(method, path_regex)
        self._gates.append(gate)
        return gate

    # -- the request pipeline -----------------------------------------------------------------------------

    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await request.read()
        content_type = request.headers.get("Content-Type", "").lower()
        ctx = RequestContext(
            request=request,
            body=body,
            form=_parse_form(content_type, body),
            json=_parse_json(content_type, body),
            arrived=arrived,
        )
        token = _CURRENT.set(ctx)
        try:
            return await self._pipeline(ctx, handler)
        finally:
            _CURRENT.reset(token)

    async def _pipeline(
        self, ctx: RequestContext, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        request = ctx.request
        response: web.StreamResponse
        handle = self.faults.take(request.method, request.path)
        if handle is not None:
            rule = handle.rule
            if rule.kind == "timeout":
                await self._record(ctx, 0, "timeout")
                await self._stopping.wait()
                return _abort(request)
            if rule.delay > 0 and await self.wait_stopping(rule.delay):
                await self._record(ctx, 0, rule.kind)
                return _abort(request)
            if rule.kind == "reset":
                await self._record(ctx, 0, "reset")
                return _abort(request)
            if rule.kind == "malformed":
                status = rule.status or 200
                headers = {"Content-Type": "application/json; charset=utf-8", **rule.headers}
                body = rule.body if rule.body is not None else MALFORMED_BODY
                response = _make_response(status, body, headers)
                await self._record(ctx, status, "malformed")
                return response
            if rule.status is not None:
                body = rule.body if rule.body is not None else self._default_fault_body(rule.status)
                response = _make_response(rule.status, body, rule.headers)
                await self._record(ctx, rule.status, "respond")
                return response
            # a delay-only rule: the real handler answers, slowly

        response = await self._dispatch(request, handler)
        gate = self._take_gate(request.method, request.path)
        record = await self._record(ctx, response.status, None)
        if gate is not None:
            gate.request = record
            gate.arrived.set()
            await gate._released.wait()
            if not gate._respond or self._stopping.is_set():
                return _abort(request)
        return response

    def _default_fault_body(self, status: int) -> bytes | str | dict[str, Any]:
        return self.error_body(status) if status >= 400 else b""

    async def _dispatch(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            refused = await self.authenticate(request)
            if refused is not None:
                return refused
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                return web.Response(status=exc.status, headers=exc.headers)
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            return self.error_response(exc.status, headers=headers)
        except Exception:
            logger.exception(
                "%s: handler for %s %s failed", type(self).__name__, request.method, request.path
            )
            return self.error_response(500)

    def _take_gate(self, method: str, path: str) -> Gate | None:
        for gate in self._gates:
            if not gate._taken and gate.matches(method, path):
                gate._taken = True
                self._gates.remove(gate)
                return gate
        return None

    async def _record(self, ctx: RequestContext, status: int, fault: FaultKind | None) -> RecordedRequest:
        request = ctx.request
        headers: CIMultiDict[str] = CIMultiDict()
        for key, value in request.headers.items():
            if key.lower() in self.sensitive_headers:
                # keep the scheme of Authorization headers ("Basic REDACTED"): tests assert on it
                scheme, sep, _ = value.partition(" ")
                value = f"{scheme} {REDACTED}" if sep and key.lower().endswith("authorization") else REDACTED
            headers[key] = value
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.query.items()},
            query_string=request.query_string,
            headers=CIMultiDictProxy(headers),
            body=ctx.body,
            form=ctx.form,
            json=ctx.json,
            at=ctx.arrived,
            status=status,
            fault=fault,
            principal=ctx.principal,
        )
        self._requests.append(record)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for hook in list(self.on_request):
            try:
                await hook(record)
            except Exception:
                logger.exception("%s: on_request hook failed", type(self).__name__)
        return record


# ------------------------------------------------------------------------------------------------- helpers


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _make_response(
    status: int, body: bytes | str | dict[str, Any] | list[Any], headers: Mapping[str, str] | None
) -> web.Response:
    hdrs: CIMultiDict[str] = CIMultiDict(headers or {})
    if isinstance(body, dict | list):
        payload = jsonlib.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json; charset=utf-8")
    elif isinstance(body, str):
        payload = body.encode()
        hdrs.setdefault("Content-Type", "text/plain; charset=utf-8")
    else:
        payload = body
        if payload:
            hdrs.setdefault("Content-Type", "application/octet-stream")
    if status == 204 or status == 304:
        return web.Response(status=status, headers=hdrs)
    return web.Response(status=status, body=payload, headers=hdrs)


def _abort(request: web.Request) -> web.Response:
    """Close the connection with a TCP reset, so the client gets no response at all."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=500)  # never reaches the client: the transport is gone
