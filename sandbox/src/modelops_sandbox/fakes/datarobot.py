"""A faithful fake of the DataRobot GenAI build API (``https://app.datarobot.com``, paths under ``/api/v2``).

Contract (UPSTREAMS.md §4; DataRobot has no offline spec, these facts are all there is):

* ``POST   /api/v2/genai/customModelVersions/``  JSON ``{llmBlueprintId (required), promptColumnName
  ("promptText"), targetColumnName ("resultText"), llmTestConfigurationIds?}`` -> 202 ``{"customModelId"}``
  with ``Location: <url>/api/v2/genai/status/{statusId}/``
* ``GET    /api/v2/genai/status/{statusId}/``  (the trailing slash is part of the path) -> 200 ``{code,
  created, description, message, status, statusId, statusType}`` while in progress or failed; on success
  303 See Other with ``Location: <url>/api/v2/customModels/{customModelId}/versions/{versionId}/`` (or, when
  scripted with ``completion="200"``, 200 with status ``COMPLETED``)
* ``DELETE /api/v2/customModels/{customModelId}/``  -> 204, then 404

Beyond those facts, the official client (``datarobot`` 3.20, held to this fake by tests/contract/sdk) needs:

* ``GET    /api/v2/version/``  -> 200 ``{major, minor, versionString}``: ``datarobot.Client`` asks it first
* ``GET    /api/v2/customModels/{customModelId}/versions/{versionId}/``  -> 200 the version a completed job's
  303 names (``register_custom_model`` reads it): ``{id, customModelId, versionMajor, versionMinor, label,
  description, isFrozen, items, created}``; 404 before the job completes and after the model is deleted
* ``GET    /api/v2/customModels/{customModelId}/``  -> 200 ``{id, name, description, customModelType
  ("inference"), targetType ("TextGeneration"), targetName, language, createdBy, created, updated,
  deploymentsCount, trainingDataAssignmentInProgress, latestVersion: <the version above> | null}``
  (``CustomInferenceModel.get``, the client's way to a model it can ``delete()``)

Auth is ``Authorization: Bearer <token>`` or ``Authorization: Token <token>`` (the official client's scheme);
both are accepted for tokens registered with :meth:`DataRobotFake.add_token`. Bodies are JSON with camelCase
keys. Errors are ``{"message": "..."}``; request validation errors (422) use FastAPI's shape
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``.

Choices of this fake where the contract is silent (documented here so tests can rely on them):

* ids: ``customModelId`` and version ids are 24 lowercase hex digits (DataRobot object ids); ``statusId`` is a
  UUID. A ``statusId`` that is not a UUID (``8-4-4-4-12`` hex digits, any case) is *malformed* and answers
  422 with ``loc: ["path", "statusId"]``; a well-formed unknown one answers 404.
* ``statusType`` is always :data:`STATUS_TYPE`; ``description`` names the LLM blueprint; ``message`` is ``""``
  unless the job failed (never null: DataRobot's API reference shows ``"message": ""`` for a job in progress,
  and the official client's JobStatus requires a string, blank allowed).
* the custom model exists from the moment the 202 is sent (its id is in that answer); its ``latestVersion``
  is ``null`` until the job completes. A failed job leaves the (empty) custom model behind.
* the 303 answer carries the status body too (status ``COMPLETED``); clients must not rely on it.

Jobs go ``INITIALIZED -> RUNNING -> COMPLETED | ERROR | ABORTED | EXPIRED``; the status is computed lazily
from the fake's clock when read (``stage_seconds`` per stage), and the outcome is chosen by :meth:`script`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, Literal, get_args

from aiohttp import web

from .base import Clock, FakeUpstream

__all__ = [
    "CUSTOM_MODEL_PATH",
    "CUSTOM_MODEL_VERSIONS_PATH",
    "FAILED_STATUSES",
    "IN_PROGRESS_STATUSES",
    "RETRY_STATUSES",
    "STATUS_PATH",
    "STATUS_TYPE",
    "Completion",
    "DataRobotFake",
    "JobOutcome",
    "JobScript",
    "JobStatusWord",
    "make_object_id",
]

JobStatusWord = Literal["INITIALIZED", "RUNNING", "COMPLETED", "ERROR", "ABORTED", "EXPIRED"]
JobOutcome = Literal["completed", "ERROR", "ABORTED", "EXPIRED", "hang"]
"""How a scripted job ends; ``hang`` stays RUNNING forever."""
Completion = Literal["303", "200"]
"""How a completed job answers its status URL: 303 See Other (the default, what the official client relies
on) or 200 with status COMPLETED."""

IN_PROGRESS_STATUSES: frozenset[str] = frozenset({"INITIALIZED", "RUNNING"})
FAILED_STATUSES: frozenset[str] = frozenset({"ERROR", "ABORTED", "EXPIRED"})
RETRY_STATUSES: frozenset[int] = frozenset({413, 429, 502, 503, 504})
"""Statuses the official client retries (honouring Retry-After); fault helpers of the base produce them."""

API_VERSION = "2.49.0"
"""What ``GET /api/v2/version/`` reports. The official client asks it before anything else (``datarobot.Client``)
and refuses a server whose major version is ahead of the one it expects (2.49 for datarobot 3.20)."""

STATUS_TYPE = "customModelVersionFromLlmBlueprint"
"""The ``statusType`` this fake reports for build jobs (the contract only says it is a string)."""
CUSTOM_MODEL_TYPE = "inference"
"""A GenAI build makes a custom *inference* model (the official client's CustomInferenceModel.get checks it)."""
TARGET_TYPE = "TextGeneration"
LANGUAGE = "python"

CUSTOM_MODEL_VERSIONS_PATH = r"^/api/v2/genai/customModelVersions/$"
"""Regex (for faults, gates and request matching) of the build-start path."""
STATUS_PATH = r"^/api/v2/genai/status/[^/]+/$"
"""Regex of a job status path."""
CUSTOM_MODEL_PATH = r"^/api/v2/customModels/[^/]+/$"
"""Regex of a custom model path."""

STATUS_ID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

DEFAULT_FAILURE_MESSAGES: dict[str, str] = {
    "ERROR": "Custom model version creation failed",
    "ABORTED": "The job was aborted",
    "EXPIRED": "The job expired before it finished",
}
_DEFAULT_MESSAGES = {
    401: "Invalid or missing API token",
    404: "Not found",
    405: "Method not allowed",
    413: "Request entity too large",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
_AUTH_SCHEMES = frozenset({"bearer", "token"})


def make_object_id() -> str:
    """A random DataRobot object id: 24 lowercase hex digits."""
    return secrets.token_hex(12)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _validation_error(*problems: tuple[list[str | int], str, str]) -> web.Response:
    """A FastAPI-style 422: one ``{loc, msg, type}`` per problem."""
    detail = [{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in problems]
    return web.json_response({"detail": detail}, status=422)


@dataclasses.dataclass(frozen=True)
class JobScript:
    """How jobs for LLM blueprints matching ``blueprint_pattern`` (``re.search``) end."""

    blueprint_pattern: str = ".*"
    outcome: JobOutcome = "completed"
    completion: Completion = "303"
    message: str | None = None
    stage_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.outcome not in get_args(JobOutcome):
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.completion not in get_args(Completion):
            raise ValueError(f"unknown completion {self.completion!r}")
        if self.stage_seconds is not None and self.stage_seconds < 0:
            raise ValueError("stage_seconds must be >= 0")
        re.compile(self.blueprint_pattern)


@dataclasses.dataclass
class _Job:
    status_id: str
    custom_model_id: str
    version_id: str
    llm_blueprint_id: str
    prompt_column_name: str
    target_column_name: str
    llm_test_configuration_ids: list[str]
    created_at: float  # clock time
    stage_seconds: float
    outcome: JobOutcome
    completion: Completion
    message: str | None

    @property
    def ends_at(self) -> float:
        """The clock time the job reaches its outcome (completed or failed; a hanging job never does)."""
        return self.created_at + 2 * self.stage_seconds

    def status(self, now: float) -> JobStatusWord:
        if now < self.created_at + self.stage_seconds:
            return "INITIALIZED"
        if self.outcome == "hang" or now < self.ends_at:
            return "RUNNING"
        return "COMPLETED" if self.outcome == "completed" else self.outcome


@dataclasses.dataclass
class _CustomModel:
    id: str
    name: str
    job: _Job
    seq: int
    created_by: str


class DataRobotFake(FakeUpstream):
    """Fake DataRobot GenAI builds; see the module docstring for the contract."""

    name = "datarobot"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        stage_seconds: float = 1.0,
        blueprints: Iterable[str] = (),
        accept_any_blueprint: bool = False,
        max_recorded: int = 10_000,
    ) -> None:
        super().__init__(clock=clock, max_recorded=max_recorded)
        if stage_seconds < 0:
            raise ValueError("stage_seconds must be >= 0")
        self.stage_seconds = stage_seconds
        self.accept_any_blueprint = accept_any_blueprint
        """When True, any ``llmBlueprintId`` is accepted; otherwise only those added with add_blueprint."""
        self._tokens: list[tuple[str, str]] = []  # (token, principal label)
        self._blueprints: set[str] = set(blueprints)
        self._scripts: list[JobScript] = []
        self._jobs: dict[str, _Job] = {}  # status id (lowercase) -> job
        self._models: dict[str, _CustomModel] = {}
        self._creates: list[_Job] = []
        self._next_seq = 0

        self.route("GET", "/api/v2/version/", self._version)
        self.route("POST", "/api/v2/genai/customModelVersions/", self._start)
        self.route("GET", "/api/v2/genai/status/{status_id}/", self._status)
        self.route("GET", "/api/v2/customModels/{custom_model_id}/", self._get_model)
        self.route("GET", "/api/v2/customModels/{custom_model_id}/versions/{version_id}/", self._get_version)
        self.route("DELETE", "/api/v2/customModels/{custom_model_id}/", self._delete_model)

    # -- configuration ------------------------------------------------------------------------------------

    def add_token(self, token: str) -> None:
        """Accept ``token`` (with either the Bearer or the Token scheme)."""
        if not token or any(c.isspace() for c in token):
            raise ValueError("a token must be non-empty and contain no whitespace")
        if all(known != token for known, _ in self._tokens):
            self._tokens.append((token, f"token-{len(self._tokens) + 1}"))

    def new_token(self) -> str:
        """Register and return a random token."""
        token = secrets.token_urlsafe(24)
        self.add_token(token)
        return token

    def add_blueprint(self, llm_blueprint_id: str) -> None:
        """Make an LLM blueprint known: builds from unknown blueprints answer 404."""
        self._blueprints.add(llm_blueprint_id)

    def new_blueprint(self) -> str:
        """Register and return a random LLM blueprint id."""
        blueprint = make_object_id()
        self.add_blueprint(blueprint)
        return blueprint

    def script(
        self,
        blueprint_pattern: str = ".*",
        outcome: JobOutcome = "completed",
        completion: Completion = "303",
        message: str | None = None,
        stage_seconds: float | None = None,
    ) -> JobScript:
        """Decide how new jobs whose blueprint id matches end. The most recent matching rule wins.

        ``message`` is the failure message (a default per outcome otherwise); ``stage_seconds`` overrides the
        fake's time per stage (INITIALIZED, then RUNNING) for these jobs.
        """
        rule = JobScript(blueprint_pattern, outcome, completion, message, stage_seconds)
        self._scripts.append(rule)
        return rule

    def clear_scripts(self) -> None:
        self._scripts.clear()

    # -- assertions and out-of-band changes --------------------------------------------------------------

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Every job's status body as the API would render it now (copies), in creation order."""
        now = self.clock.now()
        return [self._render_status(job, now) for job in self._creates]

    def job(self, status_id: str) -> dict[str, Any] | None:
        job = self._jobs.get(status_id.lower())
        return None if job is None else self._render_status(job, self.clock.now())

    def status_id_of(self, custom_model_id: str) -> str | None:
        """The status id of the job that created ``custom_model_id`` (deleted models included)."""
        return next((j.status_id for j in self._creates if j.custom_model_id == custom_model_id), None)

    def version_id_of(self, custom_model_id: str) -> str | None:
        """The version id the job for ``custom_model_id`` creates (whether or not it has completed yet)."""
        return next((j.version_id for j in self._creates if j.custom_model_id == custom_model_id), None)

    @property
    def custom_models(self) -> list[dict[str, Any]]:
        """Every live custom model as the API would render it now (copies), in creation order."""
        now = self.clock.now()
        models = sorted(self._models.values(), key=lambda m: m.seq)
        return [self._render_model(m, now) for m in models]

    def custom_model(self, custom_model_id: str) -> dict[str, Any] | None:
        model = self._models.get(custom_model_id)
        return None if model is None else self._render_model(model, self.clock.now())

    def count_creates(self, llm_blueprint_id: str | None = None) -> int:
        """How many builds were started through the API (deleted custom models included)."""
        return sum(1 for job in self._creates if llm_blueprint_id in (None, job.llm_blueprint_id))

    def delete_out_of_band(self, custom_model_id: str) -> None:
        """Delete a custom model behind the client's back (someone used the UI). KeyError when unknown."""
        if custom_model_id not in self._models:
            raise KeyError(f"no custom model {custom_model_id!r}")
        del self._models[custom_model_id]

    # -- errors and auth ----------------------------------------------------------------------------------

    def error_body(
        self, status: int, message: str | None = None, *, code: int | None = None
    ) -> bytes | str | dict[str, Any]:
        text = message or _DEFAULT_MESSAGES.get(status) or _reason(status)
        if status == 422:
            return {"detail": [{"loc": ["body"], "msg": text, "type": "value_error"}]}
        return {"message": text}

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() in _AUTH_SCHEMES and token:
            for known, principal in self._tokens:
                if hmac.compare_digest(token.encode(), known.encode()):
                    self.context().principal = principal
                    return None
        return self.error_response(401)

    # -- handlers -----------------------------------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.StreamResponse:
        major, minor, _ = API_VERSION.split(".")
        return web.json_response({"major": int(major), "minor": int(minor), "versionString": API_VERSION})

    async def _start(self, request: web.Request) -> web.StreamResponse:
        body = self.request_json()
        if not isinstance(body, dict):
            return _validation_error((["body"], "value is not a valid dict", "type_error.dict"))
        problems: list[tuple[list[str | int], str, str]] = []
        blueprint = body.get("llmBlueprintId")
        if blueprint is None:
            problems.append((["body", "llmBlueprintId"], "field required", "value_error.missing"))
        elif not isinstance(blueprint, str):
            problems.append((["body", "llmBlueprintId"], "str type expected", "type_error.str"))
        columns: dict[str, str] = {}
        for key, default in (("promptColumnName", "promptText"), ("targetColumnName", "resultText")):
            value = body.get(key, default)
            if value is None:
                value = default
            if isinstance(value, str):
                columns[key] = value
            else:
                problems.append((["body", key], "str type expected", "type_error.str"))
        test_ids = body.get("llmTestConfigurationIds")
        if test_ids is None:
            test_ids = []
        elif not isinstance(test_ids, list):
            problems.append(
                (["body", "llmTestConfigurationIds"], "value is not a valid list", "type_error.list")
            )
            test_ids = []
        else:
            for index, item in enumerate(test_ids):
                if not isinstance(item, str):
                    problems.append(
                        (["body", "llmTestConfigurationIds", index], "str type expected", "type_error.str")
                    )
        if problems:
            return _validation_error(*problems)
        assert isinstance(blueprint, str)
        if not self.accept_any_blueprint and blueprint not in self._blueprints:
            return self.error_response(404, "LLM blueprint not found")

        rule = self._rule_for(blueprint)
        job = _Job(
            status_id=str(uuid.uuid4()),
            custom_model_id=make_object_id(),
            version_id=make_object_id(),
            llm_blueprint_id=blueprint,
            prompt_column_name=columns["promptColumnName"],
            target_column_name=columns["targetColumnName"],
            llm_test_configuration_ids=[str(item) for item in test_ids],
            created_at=self.clock.now(),
            stage_seconds=self.stage_seconds if rule.stage_seconds is None else rule.stage_seconds,
            outcome=rule.outcome,
            completion=rule.completion,
            message=rule.message,
        )
        self._jobs[job.status_id] = job
        self._creates.append(job)
        self._models[job.custom_model_id] = _CustomModel(
            id=job.custom_model_id,
            name=f"LLM blueprint {blueprint}",
            job=job,
            seq=self._next_seq,
            created_by=self.context().principal or "unknown",
        )
        self._next_seq += 1
        return web.json_response(
            {"customModelId": job.custom_model_id},
            status=202,
            headers={"Location": self._status_url(job)},
        )

    async def _status(self, request: web.Request) -> web.StreamResponse:
        status_id = request.match_info["status_id"]
        if not STATUS_ID_RE.match(status_id):
            return _validation_error((["path", "statusId"], "value is not a valid uuid", "type_error.uuid"))
        job = self._jobs.get(status_id.lower())
        if job is None:
            return self.error_response(404, "Status not found")
        now = self.clock.now()
        body = self._render_status(job, now)
        if body["status"] == "COMPLETED" and job.completion == "303":
            return web.json_response(body, status=303, headers={"Location": self._version_url(job)})
        return web.json_response(body)

    async def _get_model(self, request: web.Request) -> web.StreamResponse:
        model = self._models.get(request.match_info["custom_model_id"])
        if model is None:
            return self.error_response(404, "Custom model not found")
        return web.json_response(self._render_model(model, self.clock.now()))

    async def _get_version(self, request: web.Request) -> web.StreamResponse:
        # the resource a completed job's 303 names: it exists once the job has completed, until the model goes
        model = self._models.get(request.match_info["custom_model_id"])
        if (
            model is None
            or model.job.version_id != request.match_info["version_id"]
            or model.job.status(self.clock.now()) != "COMPLETED"
        ):
            return self.error_response(404, "Custom model version not found")
        return web.json_response(self._render_version(model.job))

    async def _delete_model(self, request: web.Request) -> web.StreamResponse:
        custom_model_id = request.match_info["custom_model_id"]
        if custom_model_id not in self._models:
            return self.error_response(404, "Custom model not found")
        del self._models[custom_model_id]
        return web.Response(status=204)

    # -- state helpers ------------------------------------------------------------------------------------

    def _rule_for(self, llm_blueprint_id: str) -> JobScript:
        for rule in reversed(self._scripts):
            if re.search(rule.blueprint_pattern, llm_blueprint_id):
                return rule
        return JobScript()

    def _status_url(self, job: _Job) -> str:
        return f"{self.base_url}/api/v2/genai/status/{job.status_id}/"

    def _version_url(self, job: _Job) -> str:
        return f"{self.base_url}/api/v2/customModels/{job.custom_model_id}/versions/{job.version_id}/"

    def _render_status(self, job: _Job, now: float) -> dict[str, Any]:
        status = job.status(now)
        failed = status in FAILED_STATUSES
        message = (job.message or DEFAULT_FAILURE_MESSAGES[status]) if failed else ""
        return {
            "code": 1 if failed else 0,
            "created": _iso(self.wall_time(job.created_at)),
            "description": f"Create a custom model version from LLM blueprint {job.llm_blueprint_id}",
            "message": message,
            "status": status,
            "statusId": job.status_id,
            "statusType": STATUS_TYPE,
        }

    def _render_model(self, model: _CustomModel, now: float) -> dict[str, Any]:
        job = model.job
        completed = job.status(now) == "COMPLETED"
        updated = job.ends_at if completed else job.created_at
        return {
            "id": model.id,
            "name": model.name,
            "description": "",
            "customModelType": CUSTOM_MODEL_TYPE,
            "targetType": TARGET_TYPE,
            "targetName": job.target_column_name,
            "language": LANGUAGE,
            "createdBy": model.created_by,
            "created": _iso(self.wall_time(job.created_at)),
            "updated": _iso(self.wall_time(updated)),
            "deploymentsCount": 0,
            "trainingDataAssignmentInProgress": False,
            "latestVersion": self._render_version(job) if completed else None,
        }

    def _render_version(self, job: _Job) -> dict[str, Any]:
        return {
            "id": job.version_id,
            "customModelId": job.custom_model_id,
            "versionMajor": 1,
            "versionMinor": 0,
            "label": "v1.0",
            "description": f"Created from LLM blueprint {job.llm_blueprint_id}",
            "isFrozen": False,
            "items": [],
            "created": _iso(self.wall_time(job.ends_at)),
        }
