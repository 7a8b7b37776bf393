"""A faithful fake of the Models API model runs (routes under ``/v1``; the base URL is configurable).

Contract (UPSTREAMS.md §3):

* ``POST /v1/model-runs``  JSON ``{project_name, model_names?, target_catalog?, target_schema?,
  full_refresh?}`` (no other keys) -> 201 ModelRun (``PENDING``); compile/validation problems -> 400;
  every POST is a new run
* ``GET  /v1/model-runs/{runId}``  -> 200 ModelRun, unknown -> 404
* ``GET  /v1/model-runs?status=&max_results=1..1000(100)&page_token=``
  -> ``{"data": [...], "next_page_token"?}``, newest first; the token key is absent on the last page
* ``POST /v1/model-runs/{runId}/cancel``  -> 200 ModelRun (``CANCELLED``) from PENDING/RUNNING, else 400
  (or 409 with :attr:`ModelsApiFake.cancel_conflict_status`)
* ``GET  /v1/model-runs/{runId}/steps``  -> ``{"data": [ModelRunStep]}``, all steps, in dependency order
* ``GET  /v1/model-runs/{runId}/steps/{stepId}/test-results``  -> ``{"data": [ModelTestResult]}``

Auth: ``Authorization: Bearer <token>`` or ``X-API-Key: <key>``. Errors are ``{"code": int, "message": str}``,
but a request body that is not JSON is answered in ``text/plain``. Optional fields are omitted, never null.
A token bucket per client (100 rps, burst 200) answers 429 with ``Retry-After``.

Runs go ``PENDING -> RUNNING -> SUCCESS | FAILED`` (or ``CANCELLED``), computed lazily from the fake's clock
when read. A run has one step per model; steps run as soon as the steps they depend on have succeeded, each
taking ``step_seconds``; a failed step makes every step downstream of it ``SKIPPED``. Models, dependencies,
failures and test results come from :meth:`ModelsApiFake.script` rules.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import math
import re
import secrets
import uuid
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Literal, get_args

from aiohttp import web

from .base import Clock, FakeUpstream

__all__ = [
    "CANCEL_PATH",
    "DEFAULT_MODELS",
    "MODEL_RUNS_PATH",
    "MODEL_RUN_PATH",
    "STEPS_PATH",
    "TEST_RESULTS_PATH",
    "CompileFailure",
    "ModelsApiFake",
    "RunScript",
    "RunStatus",
    "StepStatus",
    "TestStatus",
]

RunStatus = Literal["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"]
StepStatus = Literal["PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED", "CANCELLED"]
TestStatus = Literal["PASS", "FAIL", "ERROR"]
TriggerType = Literal["MANUAL", "SCHEDULED"]
TERMINAL_RUN_STATUSES: frozenset[str] = frozenset({"SUCCESS", "FAILED", "CANCELLED"})

MODEL_RUNS_PATH = r"^/v1/model-runs$"
"""Regex (for faults, gates and request matching) of the run collection (trigger and list)."""
MODEL_RUN_PATH = r"^/v1/model-runs/[^/]+$"
"""Regex of one run."""
CANCEL_PATH = r"^/v1/model-runs/[^/]+/cancel$"
STEPS_PATH = r"^/v1/model-runs/[^/]+/steps$"
TEST_RESULTS_PATH = r"^/v1/model-runs/[^/]+/steps/[^/]+/test-results$"

DEFAULT_MODELS: Mapping[str, tuple[str, ...]] = {
    "stg_customers": (),
    "stg_orders": (),
    "fct_orders": ("stg_orders", "stg_customers"),
}
"""The models of a project no script declares models for (model -> the models it depends on)."""

NAME_MAX = 255
MODEL_NAMES_MAX = 1000
MAX_RESULTS_DEFAULT = 100
MAX_RESULTS_MAX = 1000
TRIGGER_KEYS = frozenset({"project_name", "model_names", "target_catalog", "target_schema", "full_refresh"})
_NO_SPACES = re.compile(r"^\S+$")
_MODEL_NAME = re.compile(r"^\S.*$")
INF = math.inf


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id() -> str:
    return str(uuid.uuid4())


def _masked(prefix: str, secret: str) -> str:
    """A principal naming a credential without revealing it: its first 4 characters at most."""
    return f"{prefix}:{secret[: min(4, len(secret) // 2)]}…"


# ------------------------------------------------------------------------------------------------- scripts


@dataclasses.dataclass(frozen=True)
class RunScript:
    """How runs of projects matching ``project_pattern`` (``re.search``) go.

    ``models`` maps each model of the project to the models it depends on (a DAG; dependencies that are not
    models of the project are external sources and never wait). None uses the trigger's ``model_names`` with
    no dependencies, or :data:`DEFAULT_MODELS` when the trigger names none. When ``models`` is given, a
    trigger that names a model outside it fails to compile (400).
    ``fail_models`` fail (their downstream steps are SKIPPED, the run ends FAILED). ``tests`` maps a model to
    its tests ``(name, PASS|FAIL|ERROR)``; a FAIL or ERROR test fails its step only with ``tests_fail_run``.
    ``step_seconds`` overrides the fake's duration of a step. ``hang`` keeps the first steps RUNNING forever.
    ``warnings`` are reported in ``compile_diagnostics``; ``rows_affected`` overrides a model's row count.
    """

    project_pattern: str = ".*"
    models: Mapping[str, tuple[str, ...]] | None = None
    fail_models: frozenset[str] = frozenset()
    tests: Mapping[str, tuple[tuple[str, TestStatus], ...]] = dataclasses.field(default_factory=dict)
    step_seconds: float | None = None
    hang: bool = False
    tests_fail_run: bool = False
    warnings: tuple[str, ...] = ()
    rows_affected: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        re.compile(self.project_pattern)
        if self.step_seconds is not None and self.step_seconds < 0:
            raise ValueError("step_seconds must be >= 0")
        for model, tests in self.tests.items():
            for name, status in tests:
                if status not in get_args(TestStatus):
                    raise ValueError(f"unknown test status {status!r} for {model}.{name}")
        for model, rows in self.rows_affected.items():
            if rows < 0:
                raise ValueError(f"rows_affected of {model} must be >= 0")
        if self.models is not None:
            _check_acyclic(self.models)


@dataclasses.dataclass(frozen=True)
class CompileFailure:
    """Triggers for projects matching ``project_pattern`` answer 400 ``Compilation failed: <message>``."""

    project_pattern: str
    message: str

    def __post_init__(self) -> None:
        re.compile(self.project_pattern)


def _check_acyclic(models: Mapping[str, Sequence[str]]) -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2 or name not in models:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise ValueError(f"models depend on each other in a cycle: {' -> '.join(cycle)}")
        state[name] = 1
        for dependency in models[name]:
            visit(dependency, [*path, name])
        state[name] = 2

    for model in models:
        visit(model, [])


# ---------------------------------------------------------------------------------------------- run state


@dataclasses.dataclass
class _Test:
    id: str
    name: str
    status: TestStatus
    rows_returned: int


@dataclasses.dataclass
class _Step:
    """One model of a run. Offsets are seconds after the run started (INF: never)."""

    id: str
    model_name: str
    depends_on: tuple[str, ...]
    outcome: Literal["SUCCESS", "FAILED", "SKIPPED"]
    start: float = INF
    end: float = INF
    skip: float = INF
    error_message: str | None = None
    rows_affected: int = 0
    tests: tuple[_Test, ...] = ()
    tests_ran: bool = False


@dataclasses.dataclass
class _Run:
    id: str
    seq: int
    project_name: str
    model_names: list[str] | None
    target_catalog: str
    target_schema: str | None
    full_refresh: bool
    trigger_type: TriggerType
    triggered_by: str
    created_at: float  # clock time
    start_at: float  # clock time the run starts running (INF: never)
    end: float  # offset after start_at when the run finishes (INF: never)
    steps: list[_Step]
    warnings: tuple[str, ...]
    with_diagnostics: bool
    cancelled_at: float | None = None

    @property
    def failed_models(self) -> list[str]:
        return [s.model_name for s in self.steps if s.outcome == "FAILED"]

    def status(self, now: float) -> RunStatus:
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return "CANCELLED"
        if now < self.start_at:
            return "PENDING"
        if now < self.start_at + self.end:
            return "RUNNING"
        return "FAILED" if self.failed_models else "SUCCESS"

    def step_status(self, step: _Step, now: float) -> StepStatus:
        cancelled = self.cancelled_at is not None and now >= self.cancelled_at
        t = min(now, self.cancelled_at) if self.cancelled_at is not None else now
        status: StepStatus
        if step.outcome == "SKIPPED":
            status = "SKIPPED" if t >= self.start_at + step.skip else "PENDING"
        elif t < self.start_at + step.start:
            status = "PENDING"
        elif t < self.start_at + step.end:
            status = "RUNNING"
        else:
            status = step.outcome
        if cancelled and status in ("PENDING", "RUNNING"):
            return "CANCELLED"
        return status


def _order(models: Sequence[str], graph: Mapping[str, Sequence[str]]) -> list[str]:
    """Models in dependency order (a model after everything it depends on), ties in the given order."""
    placed: list[str] = []
    remaining = list(models)
    members = set(models)
    while remaining:
        for name in remaining:
            if all(dep in placed or dep not in members for dep in graph.get(name, ())):
                placed.append(name)
                remaining.remove(name)
                break
        else:  # a cycle (scripts are checked, so only through model_names): keep the given order
            placed.extend(remaining)
            break
    return placed


def _rows_for(model: str) -> int:
    return 100 + zlib.crc32(model.encode()) % 9900


def _plan(
    *,
    models: Sequence[str],
    graph: Mapping[str, Sequence[str]],
    fail_models: Collection[str],
    tests: Mapping[str, Sequence[tuple[str, TestStatus]]],
    tests_fail_run: bool,
    rows: Mapping[str, int],
    step_seconds: float,
    hang: bool,
) -> tuple[list[_Step], float]:
    """Lay out the steps of a run on a timeline relative to its start; return them and the run's end."""
    ordered = _order(models, graph)
    members = set(ordered)
    by_name: dict[str, _Step] = {}
    for name in ordered:
        depends_on = tuple(graph.get(name, ()))
        step = _Step(id=_new_id(), model_name=name, depends_on=depends_on, outcome="SUCCESS")
        deps = [by_name[d] for d in depends_on if d in members and d in by_name]
        broken = [d for d in deps if d.outcome != "SUCCESS"]
        if broken:
            step.outcome = "SKIPPED"
            step.skip = min(d.end if d.outcome == "FAILED" else d.skip for d in broken)
            names = ", ".join(d.model_name for d in broken)
            step.error_message = f"Skipped because upstream model(s) did not succeed: {names}"
        else:
            step.start = max((d.end for d in deps), default=0.0)
            step.end = INF if hang else step.start + step_seconds
            step.tests = tuple(
                _Test(id=_new_id(), name=test, status=status, rows_returned=0 if status == "PASS" else 3)
                for test, status in tests.get(name, ())
            )
            failing_tests = [t.name for t in step.tests if t.status != "PASS"]
            step.tests_ran = name not in fail_models
            if name in fail_models:
                step.outcome = "FAILED"
                step.error_message = f"Runtime Error in model {name}: scripted failure"
            elif tests_fail_run and failing_tests:
                step.outcome = "FAILED"
                step.error_message = f"Tests failed on model {name}: {', '.join(failing_tests)}"
            else:
                step.rows_affected = rows.get(name, _rows_for(name))
        by_name[name] = step
    steps = [by_name[name] for name in ordered]
    ends = [s.skip if s.outcome == "SKIPPED" else s.end for s in steps]
    end = max(ends) if ends else (INF if hang else step_seconds)
    return steps, end


@dataclasses.dataclass
class _Bucket:
    tokens: float
    updated: float


# ------------------------------------------------------------------------------------------------------ fake


class ModelsApiFake(FakeUpstream):
    """Fake Models API (model runs); see the module docstring for the contract."""

    name = "models-api"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        pending_seconds: float = 1.0,
        step_seconds: float = 1.0,
        rate: float | None = 100.0,
        burst: float = 200.0,
        max_recorded: int = 10_000,
    ) -> None:
        super().__init__(clock=clock, max_recorded=max_recorded)
        if pending_seconds < 0 or step_seconds < 0:
            raise ValueError("pending_seconds and step_seconds must be >= 0")
        self.pending_seconds = pending_seconds
        self.step_seconds = step_seconds
        self.cancel_conflict_status: int = 400
        """What cancelling a terminal run answers: 400 (default) or 409 (the spec lists both)."""
        self._api_keys: dict[str, str] = {}  # key -> principal
        self._bearer_tokens: dict[str, str] = {}  # token -> principal
        self._runs: dict[str, _Run] = {}
        self._next_seq = 0
        self._triggers: list[tuple[str, str]] = []  # (run id, project) of every run created through the API
        self._scripts: list[RunScript] = []
        self._compile_failures: list[CompileFailure] = []
        self._rate: float | None = None
        self._burst = 0.0
        self._rate_clock: Clock = Clock()
        self._buckets: dict[str, _Bucket] = {}
        self.rate_limit_config(rate, burst)

        self.route("POST", "/v1/model-runs", self._trigger)
        self.route("GET", "/v1/model-runs", self._list)
        self.route("GET", "/v1/model-runs/{run_id}", self._get)
        self.route("POST", "/v1/model-runs/{run_id}/cancel", self._cancel)
        self.route("GET", "/v1/model-runs/{run_id}/steps", self._steps)
        self.route("GET", "/v1/model-runs/{run_id}/steps/{step_id}/test-results", self._test_results)

    # -- configuration ------------------------------------------------------------------------------------

    def add_api_key(self, key: str, principal: str | None = None) -> str:
        """Accept ``X-API-Key: key``; returns the principal reported in ``triggered_by``."""
        if not key or key != key.strip():
            raise ValueError("an API key must be non-empty and have no surrounding spaces")
        self._api_keys[key] = principal or _masked("api-key", key)
        return self._api_keys[key]

    def add_bearer_token(self, token: str, principal: str | None = None) -> str:
        """Accept ``Authorization: Bearer token``; returns the principal reported in ``triggered_by``."""
        if not token or token != token.strip() or " " in token:
            raise ValueError("a bearer token must be non-empty and have no spaces")
        self._bearer_tokens[token] = principal or _masked("bearer", token)
        return self._bearer_tokens[token]

    def new_api_key(self) -> str:
        key = "mk_" + secrets.token_hex(16)
        self.add_api_key(key)
        return key

    def new_bearer_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self.add_bearer_token(token)
        return token

    def rate_limit_config(
        self, rate: float | None, burst: float = 200.0, *, clock: Clock | None = None
    ) -> None:
        """Token bucket per client: ``rate`` tokens per second, at most ``burst``; ``rate=None`` disables it.

        The bucket runs on ``clock`` (default: the real monotonic clock, not the lifecycle clock, so a test
        that never advances a ManualClock is not throttled forever). Resets every client's bucket.
        """
        if rate is not None and rate <= 0:
            raise ValueError("rate must be > 0 (or None to disable rate limiting)")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._rate_clock = clock or Clock()
        self._buckets.clear()

    def script(
        self,
        project_pattern: str = ".*",
        models: Mapping[str, Sequence[str]] | None = None,
        fail_models: Iterable[str] = (),
        tests: Mapping[str, Sequence[tuple[str, TestStatus]]] | None = None,
        step_seconds: float | None = None,
        hang: bool = False,
        *,
        tests_fail_run: bool = False,
        warnings: Sequence[str] = (),
        rows_affected: Mapping[str, int] | None = None,
    ) -> RunScript:
        """Decide how new runs of matching projects go (see :class:`RunScript`); the latest match wins."""
        rule = RunScript(
            project_pattern=project_pattern,
            models=None if models is None else {name: tuple(deps) for name, deps in models.items()},
            fail_models=frozenset(fail_models),
            tests={model: tuple((n, s) for n, s in items) for model, items in (tests or {}).items()},
            step_seconds=step_seconds,
            hang=hang,
            tests_fail_run=tests_fail_run,
            warnings=tuple(warnings),
            rows_affected=dict(rows_affected or {}),
        )
        self._scripts.append(rule)
        return rule

    def fail_compile(self, project_pattern: str, message: str) -> CompileFailure:
        """Make triggers of matching projects answer 400 ``Compilation failed: <message>``."""
        rule = CompileFailure(project_pattern, message)
        self._compile_failures.append(rule)
        return rule

    def clear_scripts(self) -> None:
        """Forget every :meth:`script` and :meth:`fail_compile` rule."""
        self._scripts.clear()
        self._compile_failures.clear()

    # -- assertions and out-of-band changes --------------------------------------------------------------

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Every live run as the API would render it now (copies), in creation order."""
        now = self.clock.now()
        return [self._render_run(r, now) for r in sorted(self._runs.values(), key=lambda r: r.seq)]

    def run(self, run_id: str) -> dict[str, Any] | None:
        found = self._runs.get(run_id)
        return None if found is None else self._render_run(found, self.clock.now())

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """The steps of a run as rendered now (KeyError when unknown)."""
        run = self._runs[run_id]
        now = self.clock.now()
        return [self._render_step(run, s, now) for s in run.steps]

    def count_triggers(self, project_name: str | None = None) -> int:
        """How many runs were triggered through the API (seeded and deleted runs: not / still counted)."""
        return sum(1 for _, project in self._triggers if project_name in (None, project))

    def seed_run(
        self,
        project_name: str = "analytics",
        *,
        model_names: Sequence[str] | None = None,
        status: RunStatus | None = None,
        age_seconds: float = 0.0,
        trigger_type: TriggerType = "MANUAL",
        triggered_by: str = "admin",
        full_refresh: bool = False,
        target_catalog: str = "memory",
        target_schema: str | None = None,
    ) -> dict[str, Any]:
        """Create a run directly, as if someone else had triggered it ``age_seconds`` ago; return it rendered.

        With ``status=None`` the run follows the matching script from its creation time. Otherwise it is in
        ``status`` now and stays there: PENDING and RUNNING never progress, SUCCESS and FAILED have finished
        (FAILED fails the script's ``fail_models``, or else the last model); CANCELLED was cancelled when
        created.
        """
        if status is not None and status not in get_args(RunStatus):
            raise ValueError(f"unknown status {status!r}")
        if trigger_type not in get_args(TriggerType):
            raise ValueError(f"unknown trigger type {trigger_type!r}")
        if age_seconds < 0:
            raise ValueError("age_seconds must be >= 0")
        rule = self._rule_for(project_name)
        models = self._models_for(rule, list(model_names) if model_names is not None else None)
        if status == "FAILED" and not models:
            raise ValueError("a run without models cannot fail")
        created = self.clock.now() - age_seconds
        pending = self.pending_seconds
        step_seconds = self.step_seconds if rule.step_seconds is None else rule.step_seconds
        fail_models: Collection[str] = rule.fail_models
        hang = rule.hang
        if status is not None:
            pending, step_seconds, hang = 0.0, 0.0, status in ("RUNNING", "CANCELLED")
            if status == "PENDING":
                pending = INF
            if status == "SUCCESS":
                fail_models = ()
            elif status == "FAILED" and not (set(fail_models) & set(models)):
                fail_models = set(models[-1:])
        run = self._new_run(
            project_name=project_name,
            model_names=None if model_names is None else list(model_names),
            models=models,
            rule=rule,
            target_catalog=target_catalog,
            target_schema=target_schema,
            full_refresh=full_refresh,
            trigger_type=trigger_type,
            triggered_by=triggered_by,
            created=created,
            pending=pending,
            step_seconds=step_seconds,
            fail_models=fail_models,
            hang=hang,
            with_diagnostics=False,
        )
        if status == "CANCELLED":
            run.cancelled_at = created
        return self._render_run(run, self.clock.now())

    def delete_out_of_band(self, run_id: str) -> None:
        """Make a run disappear (an admin purged it): reads answer 404 from now on. KeyError when unknown."""
        del self._runs[run_id]

    def cancel_out_of_band(self, run_id: str) -> bool:
        """Cancel a run behind the client's back (someone else cancelled it). False when already terminal."""
        run = self._runs[run_id]
        now = self.clock.now()
        if run.status(now) in TERMINAL_RUN_STATUSES:
            return False
        run.cancelled_at = now
        return True

    # -- auth and rate limit ------------------------------------------------------------------------------

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        principal: str | None = None
        key = request.headers.get("X-API-Key")
        if key is not None:
            principal = self._api_keys.get(key.strip())
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if principal is None and scheme.lower() == "bearer" and token.strip():
            principal = self._bearer_tokens.get(token.strip())
        if principal is None:
            supplied = key is not None or bool(scheme)
            message = "Invalid credentials" if supplied else "Authentication required"
            return self.error_response(
                401, message, headers={"WWW-Authenticate": 'Bearer realm="models-api"'}
            )
        self.context().principal = principal
        wait = self._take_token(principal)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            return self.error_response(
                429,
                f"Rate limit exceeded, retry after {seconds} seconds",
                headers={"Retry-After": str(seconds)},
            )
        return None

    def _take_token(self, client: str) -> float | None:
        """Take one token from the client's bucket; None if taken, else seconds until one is available."""
        if self._rate is None:
            return None
        now = self._rate_clock.now()
        bucket = self._buckets.setdefault(client, _Bucket(self._burst, now))
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self._rate

    def _bad_request(self, message: str) -> web.Response:
        return self.error_response(400, message)

    def _not_found(self, what: str) -> web.Response:
        return self.error_response(404, f"{what} not found")

    # -- handlers -----------------------------------------------------------------------------------------

    async def _trigger(self, request: web.Request) -> web.StreamResponse:
        raw = self.context().body
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return web.Response(
                status=400, text=f"request body is not valid JSON: {exc}\n", content_type="text/plain"
            )
        problem = _validate_trigger(body)
        if problem is not None:
            return self._bad_request(problem)
        project_name: str = body["project_name"]
        model_names: list[str] | None = None if "model_names" not in body else list(body["model_names"])
        for failure in reversed(self._compile_failures):
            if re.search(failure.project_pattern, project_name):
                return self._bad_request(f"Compilation failed: {failure.message}")
        rule = self._rule_for(project_name)
        if rule.models is not None and model_names:
            unknown = [m for m in model_names if m not in rule.models]
            if unknown:
                listed = ", ".join(repr(m) for m in unknown)
                return self._bad_request(
                    f"Compilation failed: model(s) {listed} not found in project {project_name!r}"
                )
        run = self._new_run(
            project_name=project_name,
            model_names=model_names,
            models=self._models_for(rule, model_names),
            rule=rule,
            target_catalog=body.get("target_catalog", "memory"),
            target_schema=body.get("target_schema"),
            full_refresh=bool(body.get("full_refresh", False)),
            trigger_type="MANUAL",
            triggered_by=self.context().principal or "unknown",
            created=self.clock.now(),
            pending=self.pending_seconds,
            step_seconds=self.step_seconds if rule.step_seconds is None else rule.step_seconds,
            fail_models=rule.fail_models,
            hang=rule.hang,
            with_diagnostics=True,
        )
        self._triggers.append((run.id, project_name))
        return web.json_response(self._render_run(run, self.clock.now()), status=201)

    async def _get(self, request: web.Request) -> web.StreamResponse:
        run = self._runs.get(request.match_info["run_id"])
        if run is None:
            return self._not_found(f"model run {request.match_info['run_id']}")
        return web.json_response(self._render_run(run, self.clock.now()))

    async def _list(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        status = query.get("status")
        if status is not None and status not in get_args(RunStatus):
            return self._bad_request(
                f"invalid status {status!r}: expected one of {', '.join(get_args(RunStatus))}"
            )
        try:
            max_results = int(query.get("max_results", MAX_RESULTS_DEFAULT))
        except ValueError:
            return self._bad_request("max_results must be an integer")
        if not 1 <= max_results <= MAX_RESULTS_MAX:
            return self._bad_request(f"max_results must be between 1 and {MAX_RESULTS_MAX}")
        now = self.clock.now()
        ordered = sorted(self._runs.values(), key=lambda r: (r.created_at, r.seq), reverse=True)
        token = query.get("page_token")
        if token is not None:
            anchor = _decode_token(token)
            if anchor is None:
                return self._bad_request("invalid page_token")
            ordered = [r for r in ordered if (r.created_at, r.seq) < anchor]
        if status is not None:
            ordered = [r for r in ordered if r.status(now) == status]
        page = ordered[:max_results]
        body: dict[str, Any] = {"data": [self._render_run(r, now) for r in page]}
        if len(ordered) > max_results:
            body["next_page_token"] = _encode_token(page[-1].created_at, page[-1].seq)
        return web.json_response(body)

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        run_id = request.match_info["run_id"]
        run = self._runs.get(run_id)
        if run is None:
            return self._not_found(f"model run {run_id}")
        now = self.clock.now()
        current = run.status(now)
        if current in TERMINAL_RUN_STATUSES:
            status = self.cancel_conflict_status
            return self.error_response(
                status, f"model run {run_id} is already {current} and cannot be cancelled"
            )
        run.cancelled_at = now
        return web.json_response(self._render_run(run, now))

    async def _steps(self, request: web.Request) -> web.StreamResponse:
        run_id = request.match_info["run_id"]
        run = self._runs.get(run_id)
        if run is None:
            return self._not_found(f"model run {run_id}")
        now = self.clock.now()
        return web.json_response({"data": [self._render_step(run, s, now) for s in run.steps]})

    async def _test_results(self, request: web.Request) -> web.StreamResponse:
        run_id, step_id = request.match_info["run_id"], request.match_info["step_id"]
        run = self._runs.get(run_id)
        if run is None:
            return self._not_found(f"model run {run_id}")
        step = next((s for s in run.steps if s.id == step_id), None)
        if step is None:
            return self._not_found(f"step {step_id} of model run {run_id}")
        status = run.step_status(step, self.clock.now())
        ran = step.tests_ran and status in ("SUCCESS", "FAILED")
        data = [self._render_test(step, t) for t in step.tests] if ran else []
        return web.json_response({"data": data})

    # -- state helpers ------------------------------------------------------------------------------------

    def _rule_for(self, project_name: str) -> RunScript:
        for rule in reversed(self._scripts):
            if re.search(rule.project_pattern, project_name):
                return rule
        return RunScript()

    @staticmethod
    def _models_for(rule: RunScript, model_names: list[str] | None) -> list[str]:
        if model_names:
            return list(dict.fromkeys(model_names))
        return list(rule.models if rule.models is not None else DEFAULT_MODELS)

    def _new_run(
        self,
        *,
        project_name: str,
        model_names: list[str] | None,
        models: list[str],
        rule: RunScript,
        target_catalog: str,
        target_schema: str | None,
        full_refresh: bool,
        trigger_type: TriggerType,
        triggered_by: str,
        created: float,
        pending: float,
        step_seconds: float,
        fail_models: Collection[str],
        hang: bool,
        with_diagnostics: bool,
    ) -> _Run:
        graph = rule.models if rule.models is not None else (DEFAULT_MODELS if not model_names else {})
        steps, end = _plan(
            models=models,
            graph=graph,
            fail_models=fail_models,
            tests=rule.tests,
            tests_fail_run=rule.tests_fail_run,
            rows=rule.rows_affected,
            step_seconds=step_seconds,
            hang=hang,
        )
        run = _Run(
            id=_new_id(),
            seq=self._next_seq,
            project_name=project_name,
            model_names=model_names,
            target_catalog=target_catalog,
            target_schema=target_schema,
            full_refresh=full_refresh,
            trigger_type=trigger_type,
            triggered_by=triggered_by,
            created_at=created,
            start_at=created + pending,
            end=end,
            steps=steps,
            warnings=rule.warnings,
            with_diagnostics=with_diagnostics,
        )
        self._next_seq += 1
        self._runs[run.id] = run
        return run

    def _time(self, clock_time: float) -> str:
        return _iso(self.wall_time(clock_time))

    def _render_run(self, run: _Run, now: float) -> dict[str, Any]:
        status = run.status(now)
        body: dict[str, Any] = {
            "id": run.id,
            "status": status,
            "trigger_type": run.trigger_type,
            "triggered_by": run.triggered_by,
            "project_name": run.project_name,
        }
        if run.model_names is not None:
            body["model_names"] = list(run.model_names)
        body["full_refresh"] = run.full_refresh
        if run.with_diagnostics:
            body["compile_diagnostics"] = {"warnings": list(run.warnings), "errors": []}
        stopped = run.cancelled_at if status == "CANCELLED" else None
        if now >= run.start_at and (stopped is None or stopped >= run.start_at):
            body["started_at"] = self._time(run.start_at)
        if status == "CANCELLED" and stopped is not None:
            body["finished_at"] = self._time(stopped)
        elif status in ("SUCCESS", "FAILED"):
            body["finished_at"] = self._time(run.start_at + run.end)
        if status == "FAILED":
            failed = run.failed_models
            label = "model" if len(failed) == 1 else "models"
            body["error_message"] = f"{len(failed)} {label} failed: {', '.join(failed)}"
        body["created_at"] = self._time(run.created_at)
        return body

    def _render_step(self, run: _Run, step: _Step, now: float) -> dict[str, Any]:
        status = run.step_status(step, now)
        body: dict[str, Any] = {
            "id": step.id,
            "run_id": run.id,
            "model_name": step.model_name,
            "status": status,
            "depends_on": list(step.depends_on),
        }
        started = status in ("RUNNING", "SUCCESS", "FAILED") or (
            status == "CANCELLED"
            and run.cancelled_at is not None
            and run.cancelled_at >= run.start_at + step.start
        )
        if started:
            body["started_at"] = self._time(run.start_at + step.start)
        if status in ("SUCCESS", "FAILED"):
            body["finished_at"] = self._time(run.start_at + step.end)
        elif status == "SKIPPED":
            body["finished_at"] = self._time(run.start_at + step.skip)
        elif status == "CANCELLED" and run.cancelled_at is not None:
            body["finished_at"] = self._time(run.cancelled_at)
        if status == "SUCCESS":
            body["rows_affected"] = step.rows_affected
        if status in ("FAILED", "SKIPPED") and step.error_message:
            body["error_message"] = step.error_message
        return body

    @staticmethod
    def _render_test(step: _Step, test: _Test) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": test.id,
            "run_step_id": step.id,
            "test_name": test.name,
            "status": test.status,
        }
        if test.status == "PASS":
            body["rows_returned"] = 0
        elif test.status == "FAIL":
            body["rows_returned"] = test.rows_returned
            body["error_message"] = f"Got {test.rows_returned} results, configured to fail if != 0"
        else:
            body["error_message"] = f"Database Error in test {test.name}: scripted error"
        return body


# -------------------------------------------------------------------------------------------------- helpers


def _validate_trigger(body: Any) -> str | None:
    """Why a trigger body is invalid (None if valid)."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    extra = sorted(set(body) - TRIGGER_KEYS)
    if extra:
        return f"request body has unknown field(s): {', '.join(extra)}"
    if "project_name" not in body:
        return "project_name is required"
    for key in ("project_name", "target_catalog", "target_schema"):
        if key not in body:
            continue
        value = body[key]
        if not isinstance(value, str):
            return f"{key} must be a string"
        if len(value) > NAME_MAX:
            return f"{key} must be at most {NAME_MAX} characters long"
        if not _NO_SPACES.match(value):
            return f"{key} must be non-empty and contain no whitespace"
    if "model_names" in body:
        names = body["model_names"]
        if not isinstance(names, list):
            return "model_names must be an array of strings"
        if len(names) > MODEL_NAMES_MAX:
            return f"model_names must have at most {MODEL_NAMES_MAX} items"
        for name in names:
            if not isinstance(name, str) or not _MODEL_NAME.match(name) or len(name) > NAME_MAX:
                return f"invalid model name {name!r}"
    if "full_refresh" in body and not isinstance(body["full_refresh"], bool):
        return "full_refresh must be a boolean"
    return None


def _encode_token(created_at: float, seq: int) -> str:
    raw = json.dumps([created_at, seq]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[float, int] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, seq = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        return None
    if not isinstance(created_at, int | float) or not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return float(created_at), seq
