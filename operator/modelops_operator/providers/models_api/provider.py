"""ModelRun on the Models API: one run, triggered once, followed to the end, cancelled on delete."""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from typing import Any

from modelops_operator.api.modelrun import ModelsApiRunSpec
from modelops_operator.core.resource import parse_time
from modelops_operator.providers.base import (
    Ambiguous,
    FindResult,
    Found,
    NotFound,
    Observation,
    Provider,
    RemoteState,
    Request,
)
from modelops_operator.providers.errors import NotFoundError, UpstreamError
from modelops_operator.providers.models_api.client import (
    UPSTREAM,
    ModelRun,
    ModelRunStep,
    ModelsApiClient,
)
from modelops_operator.providers.models_api.credentials import ModelsApiCredentials

log = logging.getLogger(__name__)

STATES = {
    "PENDING": RemoteState.PENDING,
    "RUNNING": RemoteState.RUNNING,
    "SUCCESS": RemoteState.SUCCEEDED,
    "FAILED": RemoteState.FAILED,
    "CANCELLED": RemoteState.CANCELED,
}
TERMINAL_STEP_STATUSES = frozenset({"SUCCESS", "FAILED", "SKIPPED", "CANCELLED"})
# Runs are matched after a crash by creation time; the upstream's clock may differ from ours by this much.
CLOCK_SKEW = datetime.timedelta(seconds=10)

RunRequest = Request[ModelsApiRunSpec, ModelsApiCredentials]


def _totals(results: list[str]) -> dict[str, int]:
    counts = Counter(results)
    return {"passed": counts["PASS"], "failed": counts["FAIL"], "errored": counts["ERROR"]}


def _sum_totals(items: list[dict[str, int]]) -> dict[str, int]:
    return {key: sum(item.get(key, 0) for item in items) for key in ("passed", "failed", "errored")}


def steps_summary(steps: list[dict[str, Any]]) -> str:
    if not steps:
        return "0/0"
    counts = Counter(step["status"] for step in steps)
    summary = f"{counts['SUCCESS']}/{len(steps)} succeeded"
    for status in ("FAILED", "SKIPPED", "CANCELLED", "RUNNING"):
        if counts[status]:
            summary += f", {counts[status]} {status.lower()}"
    return summary


def tests_summary(totals: dict[str, int]) -> str:
    return f"{totals['passed']} passed, {totals['failed']} failed, {totals['errored']} errored"


def run_observation(run: ModelRun, steps: list[dict[str, Any]]) -> Observation:
    """A run with its steps (already carrying per-step test totals) → observation."""
    state = STATES.get(run.status, RemoteState.RUNNING)
    totals = _sum_totals([step["tests"] for step in steps])
    failure = None
    if state is RemoteState.FAILED:
        failed = [step for step in steps if step["status"] == "FAILED"]
        skipped = [step["name"] for step in steps if step["status"] == "SKIPPED"]
        parts = [f"Run {run.id} failed"]
        if failed:
            parts.append(
                "failed steps: "
                + ", ".join(
                    f"{step['name']} ({step['errorMessage']})" if step.get("errorMessage") else step["name"]
                    for step in failed
                )
            )
        if skipped:
            parts.append(f"skipped: {', '.join(skipped)}")
        if totals["failed"] or totals["errored"]:
            parts.append(f"tests: {totals['failed']} failed, {totals['errored']} errored")
        if run.error_message and not failed:
            parts.append(run.error_message)
        failure = "; ".join(parts)
    elif state is RemoteState.CANCELED:
        failure = f"Run {run.id} was cancelled."
    return Observation(
        external_id=run.id,
        remote_status=run.status,
        state=state,
        failure_message=failure,
        status_fields={
            "runId": run.id,
            "startedAt": run.started_at,
            "finishedAt": run.finished_at,
            "errorMessage": run.error_message,
            "steps": steps,
            "tests": totals,
            "stepsSummary": steps_summary(steps),
            "testsSummary": tests_summary(totals),
        },
    )


class ModelsApiProvider(Provider[ModelsApiRunSpec, ModelsApiCredentials]):
    key = "modelsApi"
    upstream = UPSTREAM
    spec_model = ModelsApiRunSpec
    # A run that vanished upstream is not re-triggered: a ModelRun is one run, like a Job.
    recreate_when_deleted_remotely = False
    # The run's fields (runId, steps, tests) are the kind's own, at the top of `.status`.
    mirrors_status_block = False

    def __init__(self, client: ModelsApiClient) -> None:
        self._client = client

    def credentials(self, secret_data: dict[str, str]) -> ModelsApiCredentials:
        return ModelsApiCredentials.from_secret(secret_data)

    async def find(self, request: RunRequest) -> FindResult:
        """List newest first; candidates match project, models and were created after the marker."""
        since = request.pending_since
        if since is None:
            return NotFound()
        spec = request.spec
        wanted_models = sorted(spec.model_names or [])
        candidates: list[ModelRun] = []
        async for run in self._client.list(request.credentials, max_results=100):
            created = parse_time(run.created_at)
            if created is not None and created < since - CLOCK_SKEW:
                break  # newest first: everything further is older than the marker
            if run.project_name != spec.project_name or sorted(run.model_names or []) != wanted_models:
                continue
            if spec.full_refresh is not None and bool(run.full_refresh) != spec.full_refresh:
                continue
            if run.trigger_type not in (None, "MANUAL"):
                continue
            candidates.append(run)
        if not candidates:
            return NotFound()
        if len(candidates) > 1:
            return Ambiguous([f"{run.id} (created {run.created_at})" for run in candidates])
        return Found(await self._observe_run(request, candidates[0]))

    async def create(self, request: RunRequest) -> Observation:
        spec = request.spec
        run = await self._client.trigger(
            request.credentials,
            project_name=spec.project_name,
            model_names=spec.model_names,
            target_catalog=spec.target_catalog,
            target_schema=spec.target_schema,
            full_refresh=spec.full_refresh,
        )
        # The run exists now: whatever happens to the reads that follow is no answer to the trigger (the
        # lifecycle must store the run's id, not take a 429 on its steps for a refused create).
        try:
            return await self._observe_run(request, run)
        except UpstreamError as error:
            log.info(
                "run %s triggered; reading its steps failed (the next poll reads them): %s", run.id, error
            )
            return run_observation(run, [])

    async def observe(self, request: RunRequest, external_id: str, listed: None = None) -> Observation | None:
        try:
            run = await self._client.get(request.credentials, external_id)
        except NotFoundError:
            return None
        return await self._observe_run(request, run)

    async def _observe_run(self, request: RunRequest, run: ModelRun) -> Observation:
        steps = await self._client.steps(request.credentials, run.id)
        known = {step.get("id"): step for step in request.saved.get("steps") or [] if isinstance(step, dict)}
        rendered = [await self._step(request, run.id, step, known.get(step.id)) for step in steps]
        return run_observation(run, rendered)

    async def _step(
        self, request: RunRequest, run_id: str, step: ModelRunStep, known: dict[str, Any] | None
    ) -> dict[str, Any]:
        if known is not None and known.get("status") == step.status and step.status in TERMINAL_STEP_STATUSES:
            tests = known.get("tests") or _totals([])  # a finished step's results never change
        elif step.status in ("SUCCESS", "FAILED"):
            results = await self._client.test_results(request.credentials, run_id, step.id)
            tests = _totals([result.status for result in results])
        else:
            tests = _totals([])
        return {
            "id": step.id,
            "name": step.model_name or step.id,
            "status": step.status,
            "rowsAffected": step.rows_affected,
            "errorMessage": step.error_message,
            "tests": tests,
        }

    async def delete(self, request: RunRequest, external_id: str) -> bool:
        """Cancel a run still in progress and wait until the upstream reports it terminal."""
        try:
            run = await self._client.get(request.credentials, external_id)
        except NotFoundError:
            return True
        if run.terminal:
            return True
        cancelled = await self._client.cancel(request.credentials, external_id)
        if cancelled is not None and cancelled.terminal:
            return True
        # 400/409: it finished meanwhile, or the cancel is still taking effect: read again.
        return (await self._client.get(request.credentials, external_id)).terminal

    def transition_events(self, old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str]]:
        before = {step.get("name"): step.get("status") for step in old.get("steps") or []}
        events = []
        for step in new.get("steps") or []:
            if step.get("status") == "FAILED" and before.get(step.get("name")) != "FAILED":
                detail = f": {step['errorMessage']}" if step.get("errorMessage") else ""
                events.append(("Warning", "StepFailed", f"Step {step.get('name')} failed{detail}"))
        return events
