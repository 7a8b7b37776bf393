"""A faithful fake of Twilio Autopilot v1 ModelBuilds (``https://autopilot.twilio.com``).

Contract (UPSTREAMS.md §1 and Twilio's OpenAPI ``twilio_autopilot_v1.json``):

* ``POST   /v1/Assistants/{AssistantSid}/ModelBuilds``  form ``UniqueName?``, ``StatusCallback?`` -> 201
* ``GET    /v1/Assistants/{AssistantSid}/ModelBuilds``  ``PageSize`` (1..1000, 50), ``Page``, ``PageToken``
* ``GET    /v1/Assistants/{AssistantSid}/ModelBuilds/{Sid}``  by sid or by unique_name -> 200
* ``POST   /v1/Assistants/{AssistantSid}/ModelBuilds/{Sid}``  form ``UniqueName?`` -> 200
* ``DELETE /v1/Assistants/{AssistantSid}/ModelBuilds/{Sid}``  -> 204, then 404

HTTP Basic auth with ``AccountSid:AuthToken`` or ``ApiKeySid:ApiKeySecret``; requests are form-encoded with
PascalCase keys, responses JSON with snake_case keys; errors are ``{code, message, more_info, status}``.

Builds go ``enqueued -> building -> completed | failed | canceled``; the status is computed lazily from the
fake's clock when read (``stage_seconds`` per stage), and the outcome is chosen by :meth:`script` rules.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Mapping
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .base import Clock
from .twilio_common import TwilioFake, make_sid, twilio_error
from .twilio_paging import PagingError, twilio_page

__all__ = [
    "MODEL_BUILDS_PATH",
    "MODEL_BUILD_PATH",
    "BuildOutcome",
    "BuildScript",
    "BuildStatus",
    "CallbackDelivery",
    "TwilioAutopilotFake",
    "make_sid",
    "twilio_error",
    "twilio_signature",
]

logger = logging.getLogger(__name__)

BuildStatus = Literal["enqueued", "building", "completed", "failed", "canceled"]
BuildOutcome = Literal["completed", "failed", "canceled", "hang"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "canceled"})

MODEL_BUILDS_PATH = r"^/v1/Assistants/[^/]+/ModelBuilds$"
"""Regex (for faults, gates and request matching) of the ModelBuild list path."""
MODEL_BUILD_PATH = r"^/v1/Assistants/[^/]+/ModelBuilds/[^/]+$"
"""Regex of a ModelBuild instance path."""

ASSISTANT_SID_RE = re.compile(r"^UA[0-9a-fA-F]{32}$")
BUILD_SID_RE = re.compile(r"^UG[0-9a-fA-F]{32}$")
UNIQUE_NAME_MAX = 64


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """``X-Twilio-Signature``: base64(HMAC-SHA1(auth token, URL + sorted params as key+value))."""
    payload = url + "".join(key + params[key] for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class BuildScript:
    """How builds whose unique_name matches ``unique_name_pattern`` (``re.search``) end."""

    unique_name_pattern: str = ".*"
    outcome: BuildOutcome = "completed"
    error_code: int = 23001
    build_duration: int | None = None
    stage_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.outcome not in get_args(BuildOutcome):
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.stage_seconds is not None and self.stage_seconds < 0:
            raise ValueError("stage_seconds must be >= 0")
        re.compile(self.unique_name_pattern)


@dataclasses.dataclass(frozen=True)
class CallbackDelivery:
    """One status callback the fake sent (``status`` None when the request failed, see ``error``)."""

    url: str
    params: dict[str, str]
    signature: str
    status: int | None
    error: str | None
    at: float


@dataclasses.dataclass
class _Build:
    account_sid: str
    assistant_sid: str
    sid: str
    unique_name: str
    seq: int
    created_at: float  # clock time
    updated_at: float  # clock time of the last API update
    outcome: BuildOutcome
    error_code: int
    build_duration: int | None
    stage_seconds: float
    status_callback: str | None
    forced: tuple[str, float, int | None] | None = None  # (status, clock time, error code)
    notified: set[str] = dataclasses.field(default_factory=set)

    def history(self, now: float) -> list[tuple[str, float]]:
        """The statuses this build has been through up to ``now``, with the clock time of each."""
        steps: list[tuple[str, float]] = [("enqueued", self.created_at)]
        building_at = self.created_at + self.stage_seconds
        if now >= building_at:
            steps.append(("building", building_at))
            done_at = building_at + self.stage_seconds
            if self.outcome != "hang" and now >= done_at:
                steps.append((self.outcome, done_at))
        if self.forced is not None and now >= self.forced[1]:
            status, at, _ = self.forced
            steps = [s for s in steps if s[1] < at] or steps[:1]
            if steps[-1][0] != status:
                steps.append((status, max(at, steps[-1][1])))
        return steps


class TwilioAutopilotFake(TwilioFake):
    """Fake Twilio Autopilot v1 ModelBuilds; see the module docstring for the contract."""

    name = "twilio-autopilot"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        stage_seconds: float = 1.0,
        callback_poll_interval: float | None = 0.1,
        callback_timeout: float = 5.0,
        max_recorded: int = 10_000,
    ) -> None:
        super().__init__(clock=clock, max_recorded=max_recorded)
        if stage_seconds < 0:
            raise ValueError("stage_seconds must be >= 0")
        self.stage_seconds = stage_seconds
        self.callback_poll_interval = callback_poll_interval
        self.callback_timeout = callback_timeout
        self.callbacks: list[CallbackDelivery] = []
        self._builds: dict[tuple[str, str], dict[str, _Build]] = {}  # (account, assistant) -> sid -> build
        self._seq_by_sid: dict[str, int] = {}
        self._next_seq = 0
        self._scripts: list[BuildScript] = []
        self._creates: list[tuple[str, str, str]] = []  # (account, assistant, sid) of every successful create
        self._callback_queue: asyncio.Queue[tuple[str, str, dict[str, str]]] | None = None
        self._session: aiohttp.ClientSession | None = None

        base = "/v1/Assistants/{assistant_sid}/ModelBuilds"
        self.route("POST", base, self._create)
        self.route("GET", base, self._list)
        self.route("GET", base + "/{sid}", self._fetch)
        self.route("POST", base + "/{sid}", self._update)
        self.route("DELETE", base + "/{sid}", self._delete)
        self.add_background_task(self._send_callbacks)
        if callback_poll_interval is not None:
            self.add_background_task(self._drive_callbacks)

    # -- configuration ------------------------------------------------------------------------------------

    def script(
        self,
        unique_name_pattern: str = ".*",
        outcome: BuildOutcome = "completed",
        error_code: int = 23001,
        build_duration: int | None = None,
        stage_seconds: float | None = None,
    ) -> BuildScript:
        """Decide how new builds whose unique_name matches end. The most recent matching rule wins."""
        rule = BuildScript(unique_name_pattern, outcome, error_code, build_duration, stage_seconds)
        self._scripts.append(rule)
        return rule

    def clear_scripts(self) -> None:
        self._scripts.clear()

    # -- assertions and out-of-band changes --------------------------------------------------------------

    @property
    def builds(self) -> list[dict[str, Any]]:
        """Every live build as the API would render it now (copies), in creation order."""
        now = self.clock.now()
        every = [b for builds in self._builds.values() for b in builds.values()]
        return [self._render(b, now) for b in sorted(every, key=lambda b: b.seq)]

    def build(self, assistant_sid: str, sid_or_unique_name: str) -> dict[str, Any] | None:
        found = self._find_any(assistant_sid, sid_or_unique_name)
        return None if found is None else self._render(found, self.clock.now())

    def history(self, assistant_sid: str, sid: str) -> list[tuple[str, float]]:
        """The statuses a build has been through so far, each with the clock time it was reached (for
        measuring how long a change takes to reach a client). KeyError when unknown."""
        found = self._find_any(assistant_sid, sid)
        if found is None:
            raise KeyError(f"no build {sid!r} in assistant {assistant_sid!r}")
        return found.history(self.clock.now())

    def count_creates(self, assistant_sid: str | None = None) -> int:
        """How many builds were created through the API (deleted ones included)."""
        return sum(1 for _, assistant, _ in self._creates if assistant_sid in (None, assistant))

    def delete_out_of_band(self, assistant_sid: str, sid: str) -> None:
        """Delete a build behind the client's back (someone used the console). KeyError when unknown."""
        found = self._find_any(assistant_sid, sid)
        if found is None:
            raise KeyError(f"no build {sid!r} in assistant {assistant_sid!r}")
        del self._builds[(found.account_sid, found.assistant_sid)][found.sid]

    def force_status(
        self, assistant_sid: str, sid: str, status: BuildStatus, error_code: int | None = None
    ) -> None:
        """Put a build in ``status`` now and keep it there (e.g. canceled out of band)."""
        if status not in get_args(BuildStatus):
            raise ValueError(f"unknown status {status!r}")
        found = self._find_any(assistant_sid, sid)
        if found is None:
            raise KeyError(f"no build {sid!r} in assistant {assistant_sid!r}")
        found.forced = (status, self.clock.now(), error_code)
        self._scan_callbacks()

    async def deliver_status_callbacks(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Send the callbacks due at the current clock time and wait until they have all been attempted."""
        self._scan_callbacks()
        if self._callback_queue is not None:
            async with asyncio.timeout(timeout):
                await self._callback_queue.join()

    # -- handlers -----------------------------------------------------------------------------------------

    def _scope(self, request: web.Request) -> tuple[str, str] | None:
        assistant_sid = request.match_info["assistant_sid"]
        if not ASSISTANT_SID_RE.match(assistant_sid):
            return None
        account_sid = str(self.context().attrs["account_sid"])
        return account_sid, assistant_sid

    async def _create(self, request: web.Request) -> web.StreamResponse:
        scope = self._scope(request)
        if scope is None:
            return self._not_found(request.path)
        form = self.request_form()
        unique_name = form.get("UniqueName") or None
        callback = form.get("StatusCallback") or None
        if unique_name is not None:
            problem = self._check_unique_name(scope, unique_name, None)
            if problem is not None:
                return problem
        if callback is not None:
            parts = urlsplit(callback)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                return self._bad_request(f"StatusCallback is not a valid URL: {callback}")
        sid = make_sid("UG")
        name = unique_name or sid
        rule = self._rule_for(name)
        now = self.clock.now()
        build = _Build(
            account_sid=scope[0],
            assistant_sid=scope[1],
            sid=sid,
            unique_name=name,
            seq=self._next_seq,
            created_at=now,
            updated_at=now,
            outcome=rule.outcome,
            error_code=rule.error_code,
            build_duration=rule.build_duration,
            stage_seconds=self.stage_seconds if rule.stage_seconds is None else rule.stage_seconds,
            status_callback=callback,
        )
        self._next_seq += 1
        self._seq_by_sid[sid] = build.seq
        self._builds.setdefault(scope, {})[sid] = build
        self._creates.append((scope[0], scope[1], sid))
        return web.json_response(self._render(build, now), status=201)

    async def _fetch(self, request: web.Request) -> web.StreamResponse:
        scope = self._scope(request)
        build = None if scope is None else self._find(scope, request.match_info["sid"])
        if build is None:
            return self._not_found(request.path)
        self._scan_callbacks()
        return web.json_response(self._render(build, self.clock.now()))

    async def _update(self, request: web.Request) -> web.StreamResponse:
        scope = self._scope(request)
        build = None if scope is None else self._find(scope, request.match_info["sid"])
        if scope is None or build is None:
            return self._not_found(request.path)
        unique_name = self.request_form().get("UniqueName")
        if unique_name:
            problem = self._check_unique_name(scope, unique_name, build.sid)
            if problem is not None:
                return problem
            build.unique_name = unique_name
            build.updated_at = self.clock.now()
        return web.json_response(self._render(build, self.clock.now()))

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        scope = self._scope(request)
        build = None if scope is None else self._find(scope, request.match_info["sid"])
        if scope is None or build is None:
            return self._not_found(request.path)
        del self._builds[scope][build.sid]
        return web.Response(status=204)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        scope = self._scope(request)
        if scope is None:
            return self._not_found(request.path)
        items = sorted(self._builds.get(scope, {}).values(), key=lambda b: b.seq)
        try:
            chosen, meta = twilio_page(
                request.query,
                items,
                seq=lambda b: b.seq,
                ident=lambda b: b.sid,
                seq_of=self._seq_by_sid.get,
                list_url=f"{self.base_url}/v1/Assistants/{scope[1]}/ModelBuilds",
                key="model_builds",
            )
        except PagingError as error:
            return self._bad_request(str(error))
        self._scan_callbacks()
        now = self.clock.now()
        body = {"meta": meta, "model_builds": [self._render(b, now) for b in chosen]}
        return web.json_response(body)

    # -- state helpers ------------------------------------------------------------------------------------

    def _check_unique_name(
        self, scope: tuple[str, str], name: str, own_sid: str | None
    ) -> web.Response | None:
        if len(name) > UNIQUE_NAME_MAX:
            return self._bad_request(f"UniqueName must be at most {UNIQUE_NAME_MAX} characters long")
        for other in self._builds.get(scope, {}).values():
            if other.sid != own_sid and (other.unique_name == name or other.sid == name):
                return self._bad_request(f"UniqueName '{name}' is already in use by another ModelBuild")
        return None

    def _rule_for(self, unique_name: str) -> BuildScript:
        for rule in reversed(self._scripts):
            if re.search(rule.unique_name_pattern, unique_name):
                return rule
        return BuildScript()

    def _find(self, scope: tuple[str, str], sid_or_name: str) -> _Build | None:
        builds = self._builds.get(scope, {})
        if sid_or_name in builds:
            return builds[sid_or_name]
        return next((b for b in builds.values() if b.unique_name == sid_or_name), None)

    def _find_any(self, assistant_sid: str, sid_or_name: str) -> _Build | None:
        for scope in self._builds:
            if scope[1] == assistant_sid:
                found = self._find(scope, sid_or_name)
                if found is not None:
                    return found
        return None

    def _render(self, build: _Build, now: float) -> dict[str, Any]:
        history = build.history(now)
        status, status_at = history[-1]
        duration: int | None = None
        if status == "completed":
            duration = (
                build.build_duration if build.build_duration is not None else round(build.stage_seconds)
            )
        error_code: int | None = None
        if status == "failed":
            forced_code = build.forced[2] if build.forced is not None else None
            error_code = forced_code if forced_code is not None else build.error_code
        return {
            "account_sid": build.account_sid,
            "date_created": _iso(self.wall_time(build.created_at)),
            "date_updated": _iso(self.wall_time(max(status_at, build.updated_at))),
            "assistant_sid": build.assistant_sid,
            "sid": build.sid,
            "status": status,
            "unique_name": build.unique_name,
            "url": f"{self.base_url}/v1/Assistants/{build.assistant_sid}/ModelBuilds/{build.sid}",
            "build_duration": duration,
            "error_code": error_code,
        }

    # -- status callbacks ---------------------------------------------------------------------------------

    def _scan_callbacks(self) -> None:
        """Queue a callback for every transition reached since the last scan (polling is the truth)."""
        queue = self._callback_queue
        if queue is None:
            return
        now = self.clock.now()
        for builds in self._builds.values():
            for build in builds.values():
                if build.status_callback is None:
                    continue
                for status, _ in build.history(now)[1:]:
                    if status in build.notified:
                        continue
                    build.notified.add(status)
                    rendered = self._render(build, now)
                    params = {
                        "AccountSid": build.account_sid,
                        "AssistantSid": build.assistant_sid,
                        "ModelBuildSid": build.sid,
                        "UniqueName": build.unique_name,
                        "Status": status,
                    }
                    if status == "failed" and rendered["error_code"] is not None:
                        params["ErrorCode"] = str(rendered["error_code"])
                    if status == "completed" and rendered["build_duration"] is not None:
                        params["BuildDuration"] = str(rendered["build_duration"])
                    queue.put_nowait((build.account_sid, build.status_callback, params))

    async def on_start(self) -> None:
        self._callback_queue = asyncio.Queue()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.callback_timeout))

    async def on_stop(self) -> None:
        self._callback_queue = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _drive_callbacks(self) -> None:
        interval = self.callback_poll_interval or 0.1
        while not await self.wait_stopping(interval):
            self._scan_callbacks()

    async def _send_callbacks(self) -> None:
        queue = self._callback_queue
        assert queue is not None
        while True:
            account_sid, url, params = await queue.get()
            try:
                await self._send_one(account_sid, url, params)
            finally:
                queue.task_done()

    async def _send_one(self, account_sid: str, url: str, params: dict[str, str]) -> None:
        signature = twilio_signature(self.auth_token(account_sid) or "", url, params)
        status: int | None = None
        error: str | None = None
        try:
            assert self._session is not None
            headers = {"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"}
            async with self._session.post(url, data=params, headers=headers) as response:
                status = response.status
                await response.read()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            logger.info("status callback to %s failed (ignored): %s", url, error)
        self.callbacks.append(CallbackDelivery(url, params, signature, status, error, time.monotonic()))
