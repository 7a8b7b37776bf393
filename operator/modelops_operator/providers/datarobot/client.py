"""Async client for DataRobot GenAI builds (UPSTREAMS.md §4). No Kubernetes knowledge here.

A build is started with ``POST /api/v2/genai/customModelVersions/`` (202, ``Location`` of a status URL) and
followed with ``GET /api/v2/genai/status/{statusId}/``, never following redirects: a 303 See Other (whose
``Location`` is the created custom model version) or a 200 with status ``COMPLETED`` means success,
``ERROR``, ``ABORTED`` and ``EXPIRED`` mean failure. Like the official client, 413, 429, 502, 503 and 504 are
retried honouring ``Retry-After`` (the start of a build only where the shared policy allows it for creates).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from modelops_operator.providers.credentials import MissingCredentialKeys
from modelops_operator.providers.errors import MalformedResponseError, NotFoundError
from modelops_operator.providers.http import NonEmpty, UpstreamHTTP, parse_model, validate_model

__all__ = [
    "FAILED_STATUSES",
    "IN_PROGRESS_STATUSES",
    "RETRY_STATUSES",
    "UPSTREAM",
    "CustomModel",
    "CustomModelVersion",
    "DataRobotClient",
    "DataRobotCredentials",
    "DataRobotTokenAuth",
    "JobState",
    "JobStatus",
    "StartedBuild",
]

UPSTREAM = "datarobot"
RETRY_STATUSES: frozenset[int] = frozenset({413, 429, 502, 503, 504})
IN_PROGRESS_STATUSES: frozenset[str] = frozenset({"INITIALIZED", "RUNNING"})
FAILED_STATUSES: frozenset[str] = frozenset({"ERROR", "ABORTED", "EXPIRED"})
COMPLETED = "COMPLETED"

JobState = Literal["in_progress", "completed", "failed"]

BUILDS_PATH = "/api/v2/genai/customModelVersions/"
CUSTOM_MODEL_ROUTE = "/api/v2/customModels/{customModelId}/"
_STATUS_ID_IN_PATH = re.compile(r"/genai/status/([^/]+)/?$")
_VERSION_IN_PATH = re.compile(r"/customModels/([^/]+)/versions/([^/]+)/?$")


# ------------------------------------------------------------------------------------------------ credentials


class DataRobotTokenAuth(httpx.Auth):
    """Sends ``Authorization: <scheme> <token>``; the token never appears in its repr."""

    def __init__(self, token: SecretStr, scheme: Literal["Bearer", "Token"] = "Bearer") -> None:
        self._token = token
        self.scheme = scheme

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"{self.scheme} {self._token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return f"DataRobotTokenAuth(scheme={self.scheme!r}, token=SecretStr('**********'))"


class DataRobotCredentials(BaseModel):
    """The API token from the resource's Secret (key ``token``).

    ``scheme`` is ``Bearer`` (the documented one) unless set otherwise; DataRobot also accepts ``Token``,
    which the official client sends.
    """

    model_config = ConfigDict(frozen=True)

    token: SecretStr
    scheme: Literal["Bearer", "Token"] = "Bearer"

    @classmethod
    def from_secret(cls, data: Mapping[str, str]) -> DataRobotCredentials:
        token = (data.get("token") or "").strip()
        if not token:
            raise MissingCredentialKeys("expected the key 'token' (a DataRobot API token)")
        if any(char.isspace() or not char.isprintable() for char in token):
            # never echo the value: it is a secret, even when malformed
            raise MissingCredentialKeys(
                "the key 'token' must hold a single API token without spaces or newlines"
            )
        return cls(token=SecretStr(token))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"{self.scheme} {self.token.get_secret_value()}"}

    def auth(self) -> httpx.Auth:
        return DataRobotTokenAuth(self.token, self.scheme)


Auth = DataRobotCredentials | httpx.Auth
"""What the client's methods accept as credentials."""


# ----------------------------------------------------------------------------------------------------- models


class StartedBuild(BaseModel):
    """What the 202 of a build start says: the custom model it makes and where to follow the job."""

    model_config = ConfigDict(frozen=True)

    custom_model_id: str
    status_id: str
    status_url: str


class JobStatus(BaseModel):
    """One poll of a job's status URL, reduced to what a caller needs.

    ``status`` is the upstream's word verbatim (``COMPLETED`` for a 303); ``location`` is the created
    resource named by a 303; ``custom_model_id``/``custom_model_version_id`` are parsed from it when possible.
    """

    model_config = ConfigDict(frozen=True)

    state: JobState
    status: str
    status_id: str | None = None
    status_type: str | None = None
    code: int | None = None
    message: str | None = None
    description: str | None = None
    created: str | None = None
    location: str | None = None
    custom_model_id: str | None = None
    custom_model_version_id: str | None = None

    @property
    def terminal(self) -> bool:
        return self.state != "in_progress"


class _StatusFields(BaseModel):
    """The wire fields of a job's status body (camelCase) that no caller requires."""

    model_config = ConfigDict(extra="ignore")

    code: int | None = None
    created: str | None = None
    description: str | None = None
    message: str | None = None
    statusId: str | None = None
    statusType: str | None = None


class _StatusBody(_StatusFields):
    """A 200 of the status URL: without its status word it says nothing about the job."""

    status: NonEmpty


class _RedirectBody(_StatusFields):
    """What a 303 may carry besides its Location (which alone means completed): nothing is required."""

    status: str | None = None


class _StartedBody(BaseModel):
    """The 202 of a build start: the custom model it makes (the external id) is required."""

    model_config = ConfigDict(extra="ignore")

    customModelId: NonEmpty


class CustomModelVersion(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: NonEmpty


class CustomModel(BaseModel):
    """``GET /api/v2/customModels/{id}/``, reduced to what the provider reads: its id (required: an answer
    without it is no custom model) and its latest version (null until a build completes)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: NonEmpty
    latest_version: CustomModelVersion | None = Field(default=None, alias="latestVersion")


def state_of(status: str, code: int | None = None) -> JobState:
    """Map the upstream's status word to a job state. Unknown words count as in progress unless code is 1."""
    word = status.upper()
    if word == COMPLETED:
        return "completed"
    if word in FAILED_STATUSES or (word not in IN_PROGRESS_STATUSES and code == 1):
        return "failed"
    return "in_progress"


# ----------------------------------------------------------------------------------------------------- client


class DataRobotClient:
    def __init__(self, http: UpstreamHTTP) -> None:
        self._http = http

    async def start_build(
        self,
        auth: Auth,
        *,
        llm_blueprint_id: str,
        prompt_column_name: str = "promptText",
        target_column_name: str = "resultText",
        llm_test_configuration_ids: Sequence[str] | None = None,
    ) -> StartedBuild:
        """Start a custom model version build from an LLM blueprint. Not idempotent: every call makes one."""
        payload: dict[str, Any] = {
            "llmBlueprintId": llm_blueprint_id,
            "promptColumnName": prompt_column_name,
            "targetColumnName": target_column_name,
        }
        if llm_test_configuration_ids is not None:
            payload["llmTestConfigurationIds"] = list(llm_test_configuration_ids)
        response = await self._http.request(
            "POST",
            BUILDS_PATH,
            route=BUILDS_PATH,
            auth=_auth(auth),
            json=payload,
            idempotent=False,
            ok=(202,),
            retry_statuses=RETRY_STATUSES,
        )
        custom_model_id = parse_model(UPSTREAM, response, _StartedBody, "build start").customModelId
        location = response.headers.get("Location")
        status_id = _status_id_from(location)
        if location is None or status_id is None:
            # The build exists upstream: keep its id in the error so nothing is lost.
            raise MalformedResponseError(
                upstream=UPSTREAM,
                message=f"the 202 for custom model {custom_model_id} has no usable Location of a status URL",
                status=202,
                code="malformed",
                details={"customModelId": custom_model_id},
            )
        return StartedBuild(
            custom_model_id=custom_model_id, status_id=status_id, status_url=self._http.url(location)
        )

    async def status(self, auth: Auth, status_id: str) -> JobStatus:
        """Poll a job once. A 303 is success and is not followed; 422 (malformed id) is permanent."""
        response = await self._http.request(
            "GET",
            self.status_path(status_id),
            route="/api/v2/genai/status/{statusId}/",
            auth=_auth(auth),
            idempotent=True,
            ok=(200, 303),
            retry_statuses=RETRY_STATUSES,
        )
        if response.status_code == 303:
            return self._completed_by_redirect(status_id, response)
        body = parse_model(UPSTREAM, response, _StatusBody, "job status")
        return JobStatus(
            state=state_of(body.status, body.code),
            status=body.status,
            status_id=body.statusId or status_id,
            status_type=body.statusType,
            code=body.code,
            message=body.message,
            description=body.description,
            created=body.created,
        )

    async def get_custom_model(self, auth: Auth, custom_model_id: str) -> CustomModel | None:
        """The custom model, or None when it does not exist (any more)."""
        try:
            response = await self._http.request(
                "GET",
                self.custom_model_path(custom_model_id),
                route=CUSTOM_MODEL_ROUTE,
                auth=_auth(auth),
                idempotent=True,
                retry_statuses=RETRY_STATUSES,
            )
        except NotFoundError:
            return None
        return parse_model(UPSTREAM, response, CustomModel, "custom model")

    async def delete_custom_model(self, auth: Auth, custom_model_id: str) -> None:
        """Delete what a build made. A 404 raises NotFoundError (callers treat it as already deleted)."""
        await self._http.request(
            "DELETE",
            self.custom_model_path(custom_model_id),
            route=CUSTOM_MODEL_ROUTE,
            auth=_auth(auth),
            idempotent=True,
            ok=(204, 200),
            retry_statuses=RETRY_STATUSES,
        )

    @staticmethod
    def status_path(status_id: str) -> str:
        return f"/api/v2/genai/status/{quote(status_id, safe='')}/"

    @staticmethod
    def custom_model_path(custom_model_id: str) -> str:
        return f"/api/v2/customModels/{quote(custom_model_id, safe='')}/"

    def _completed_by_redirect(self, status_id: str, response: httpx.Response) -> JobStatus:
        location = response.headers.get("Location")
        custom_model_id: str | None = None
        version_id: str | None = None
        if location:
            match = _VERSION_IN_PATH.search(urlsplit(location).path)
            if match is not None:
                custom_model_id, version_id = match.group(1), match.group(2)
        # The 303 may carry the status body too; use it for the type, never require it.
        body = _RedirectBody()
        if response.content:
            try:
                data = response.json()
            except ValueError:
                data = None
            if isinstance(data, dict):
                body = validate_model(UPSTREAM, data, _RedirectBody, "job status", status=303)
        return JobStatus(
            state="completed",
            status=COMPLETED,
            status_id=body.statusId or status_id,
            status_type=body.statusType,
            code=body.code,
            message=body.message,
            description=body.description,
            created=body.created,
            location=self._http.url(location) if location else None,
            custom_model_id=custom_model_id,
            custom_model_version_id=version_id,
        )


def _auth(auth: Auth) -> httpx.Auth:
    return auth.auth() if isinstance(auth, DataRobotCredentials) else auth


def _status_id_from(location: str | None) -> str | None:
    if not location:
        return None
    match = _STATUS_ID_IN_PATH.search(urlsplit(location).path)
    return match.group(1) if match else None
