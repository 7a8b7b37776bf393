"""Async client for the Models API model runs (UPSTREAMS.md §3). No Kubernetes knowledge here.

Routes are under ``/v1`` of the configured base URL. Every trigger creates a new run (there is no
idempotency key), so :meth:`ModelsApiClient.trigger` is never retried once the upstream may have acted on
it; finding a run after a lost answer is the caller's job (:meth:`ModelsApiClient.list`).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from modelops_operator.providers.errors import MalformedResponseError, PermanentUpstreamError, UpstreamError
from modelops_operator.providers.http import NonEmpty, UpstreamHTTP, parse_model
from modelops_operator.providers.models_api.credentials import ModelsApiCredentials

__all__ = [
    "RUN_STATUSES",
    "STEP_STATUSES",
    "TERMINAL_RUN_STATUSES",
    "TEST_STATUSES",
    "UPSTREAM",
    "CompileDiagnostics",
    "ModelRun",
    "ModelRunPage",
    "ModelRunStep",
    "ModelRunStepPage",
    "ModelTestResult",
    "ModelTestResultPage",
    "ModelsApiClient",
]

UPSTREAM = "models-api"
RUN_STATUSES = frozenset({"PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"})
TERMINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
STEP_STATUSES = frozenset({"PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED", "CANCELLED"})
TEST_STATUSES = frozenset({"PASS", "FAIL", "ERROR"})
RUNS_PATH = "/v1/model-runs"
RUN_ROUTE = "/v1/model-runs/{runId}"
# Statuses with which the upstream refuses to cancel a run that is already terminal.
ALREADY_TERMINAL_STATUSES = frozenset({400, 409})


# Ids and statuses (`NonEmpty`) are what the operator acts on. Statuses are not limited to the documented
# words: an unknown one is followed as still running, not refused.


class CompileDiagnostics(BaseModel):
    model_config = ConfigDict(extra="ignore")

    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


class ModelRun(BaseModel):
    """One run as the upstream renders it. Optional fields are omitted upstream: None here."""

    model_config = ConfigDict(extra="ignore")

    id: NonEmpty
    status: NonEmpty
    trigger_type: str | None = None
    triggered_by: str | None = None
    project_name: str | None = None
    model_names: list[str] | None = None
    full_refresh: bool | None = None
    started_at: str | None = None
    finished_at: str | None = None
    created_at: str | None = None
    error_message: str | None = None
    compile_diagnostics: CompileDiagnostics | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


class ModelRunStep(BaseModel):
    """The execution of one model within a run."""

    model_config = ConfigDict(extra="ignore")

    id: NonEmpty
    status: NonEmpty
    run_id: str | None = None
    model_name: str | None = None
    rows_affected: int | None = None
    error_message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    depends_on: list[str] | None = None


class ModelTestResult(BaseModel):
    """The result of one test of a step's model."""

    model_config = ConfigDict(extra="ignore")

    id: NonEmpty
    status: NonEmpty
    run_step_id: str | None = None
    test_name: str | None = None
    rows_returned: int | None = None
    error_message: str | None = None


class ModelRunPage(BaseModel):
    """One page of ``GET /v1/model-runs``; ``next_page_token`` is absent on the last page. Every item must be
    a valid run: one skipped would be a run `find` believes does not exist (and triggers again)."""

    model_config = ConfigDict(extra="ignore")

    data: list[ModelRun]
    next_page_token: str | None = None


class ModelRunStepPage(BaseModel):
    """``GET /v1/model-runs/{runId}/steps``: every step in one page (an answer without ``data`` would read as
    a run without steps)."""

    model_config = ConfigDict(extra="ignore")

    data: list[ModelRunStep]


class ModelTestResultPage(BaseModel):
    """``GET /v1/model-runs/{runId}/steps/{stepId}/test-results``."""

    model_config = ConfigDict(extra="ignore")

    data: list[ModelTestResult]


class ModelsApiClient:
    def __init__(self, http: UpstreamHTTP) -> None:
        self._http = http

    @staticmethod
    def _run_path(run_id: str) -> str:
        return f"{RUNS_PATH}/{quote(run_id, safe='')}"

    async def trigger(
        self,
        auth: ModelsApiCredentials,
        *,
        project_name: str,
        model_names: builtins.list[str] | None = None,
        target_catalog: str | None = None,
        target_schema: str | None = None,
        full_refresh: bool | None = None,
    ) -> ModelRun:
        """Start a new run. Not idempotent: retried only where the upstream cannot have acted on it."""
        fields: dict[str, Any] = {
            "project_name": project_name,
            "model_names": None if model_names is None else builtins.list(model_names),
            "target_catalog": target_catalog,
            "target_schema": target_schema,
            "full_refresh": full_refresh,
        }
        response = await self._http.request(
            "POST",
            RUNS_PATH,
            route=RUNS_PATH,
            headers=auth.headers(),
            json={key: value for key, value in fields.items() if value is not None},
            idempotent=False,
            ok=(201, 200),
        )
        return parse_model(UPSTREAM, response, ModelRun, "model run")

    async def get(self, auth: ModelsApiCredentials, run_id: str) -> ModelRun:
        """Read one run; an unknown id raises NotFoundError."""
        response = await self._http.request(
            "GET", self._run_path(run_id), route=RUN_ROUTE, headers=auth.headers(), idempotent=True
        )
        return parse_model(UPSTREAM, response, ModelRun, "model run")

    async def list(
        self, auth: ModelsApiCredentials, *, status: str | None = None, max_results: int = 100
    ) -> AsyncIterator[ModelRun]:
        """Every run (newest first), optionally only those in ``status``, following ``next_page_token``."""
        headers = auth.headers()
        token: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, str | int] = {"max_results": max_results}
            if status is not None:
                params["status"] = status
            if token is not None:
                params["page_token"] = token
            response = await self._http.request(
                "GET", RUNS_PATH, route=RUNS_PATH, headers=headers, params=params, idempotent=True
            )
            page = parse_model(UPSTREAM, response, ModelRunPage, "model run list")
            for run in page.data:
                yield run
            next_token = page.next_page_token
            if not next_token:
                return
            if next_token in seen:
                raise _malformed("next_page_token is not a new string (the listing would never end)")
            seen.add(next_token)
            token = next_token

    async def cancel(self, auth: ModelsApiCredentials, run_id: str) -> ModelRun | None:
        """Cancel a PENDING or RUNNING run and return it (CANCELLED).

        None means the upstream refused because the run is already terminal (400, or 409): read it again to
        learn how it ended. Unknown runs raise NotFoundError. Safe to retry: a second cancel is refused.
        """
        try:
            response = await self._http.request(
                "POST",
                f"{self._run_path(run_id)}/cancel",
                route=f"{RUN_ROUTE}/cancel",
                headers=auth.headers(),
                idempotent=True,
            )
        except PermanentUpstreamError as error:
            if error.status in ALREADY_TERMINAL_STATUSES:
                return None
            raise
        return parse_model(UPSTREAM, response, ModelRun, "model run")

    async def steps(self, auth: ModelsApiCredentials, run_id: str) -> builtins.list[ModelRunStep]:
        """Every step of a run (one page holds them all)."""
        response = await self._http.request(
            "GET",
            f"{self._run_path(run_id)}/steps",
            route=f"{RUN_ROUTE}/steps",
            headers=auth.headers(),
            idempotent=True,
        )
        return parse_model(UPSTREAM, response, ModelRunStepPage, "step list").data

    async def test_results(
        self, auth: ModelsApiCredentials, run_id: str, step_id: str
    ) -> builtins.list[ModelTestResult]:
        """The test results of one step of a run."""
        path = f"{self._run_path(run_id)}/steps/{quote(step_id, safe='')}/test-results"
        response = await self._http.request(
            "GET",
            path,
            route=f"{RUN_ROUTE}/steps/{{stepId}}/test-results",
            headers=auth.headers(),
            idempotent=True,
        )
        return parse_model(UPSTREAM, response, ModelTestResultPage, "test result list").data


def _malformed(message: str) -> UpstreamError:
    return MalformedResponseError(upstream=UPSTREAM, message=message, code="malformed")
