"""ModelBuild on DataRobot GenAI: a custom model version built from an LLM blueprint (UPSTREAMS.md §4).

A build is an asynchronous job: the start answers 202 with the custom model's id (our external id) and the
job's status URL; the job is polled until it completes (303, or 200 COMPLETED) or fails (ERROR, ABORTED,
EXPIRED). Once completed, the slow drift check reads the custom model: gone means deleted remotely.

The upstream has no lookup key for a build: after a crash between the start and the status write the
operator cannot tell whether a build was started, so `find` asks a person (see `unconfirmed_create_message`).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from modelops_operator.api.common import ANNOTATION_CREATE_PENDING, ANNOTATION_EXTERNAL_ID
from modelops_operator.api.modelbuild import DataRobotBuildSpec
from modelops_operator.providers.base import (
    FindResult,
    Observation,
    Provider,
    RemoteState,
    Request,
    Undecidable,
)
from modelops_operator.providers.datarobot.client import (
    COMPLETED,
    UPSTREAM,
    CustomModel,
    DataRobotClient,
    DataRobotCredentials,
    JobStatus,
)
from modelops_operator.providers.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    PermanentUpstreamError,
)

DataRobotRequest = Request[DataRobotBuildSpec, DataRobotCredentials]

DEFAULT_PROMPT_COLUMN = "promptText"
DEFAULT_TARGET_COLUMN = "resultText"

#: The job's status word → the lifecycle's state. ABORTED is someone stopping the job (Canceled); EXPIRED and
#: ERROR are the job failing (Failed).
JOB_STATES: dict[str, RemoteState] = {
    "INITIALIZED": RemoteState.PENDING,
    "RUNNING": RemoteState.RUNNING,
    "COMPLETED": RemoteState.SUCCEEDED,
    "ERROR": RemoteState.FAILED,
    "EXPIRED": RemoteState.FAILED,
    "ABORTED": RemoteState.CANCELED,
}

#: The status block's keys; the block written right after a create names every one, so the ids of a build
#: this one replaces (after a remote deletion) never linger next to the new ones.


def remote_state(job: JobStatus) -> RemoteState:
    """The lifecycle's state for one poll of the job; unknown words follow the client's judgement."""
    known = JOB_STATES.get(job.status.upper())
    if known is not None:
        return known
    if job.state == "completed":
        return RemoteState.SUCCEEDED
    return RemoteState.FAILED if job.state == "failed" else RemoteState.RUNNING


def failure_message(job: JobStatus) -> str | None:
    """What the Stalled condition says for a job that ended unwanted (None otherwise)."""
    state = remote_state(job)
    if state not in (RemoteState.FAILED, RemoteState.CANCELED):
        return None
    said = f"{job.status}: {job.message}" if job.message else f"{job.status} without a message"
    return (
        f"{said} (DataRobot build job {job.status_id or 'of unknown id'}). Fix the cause and create a new "
        "ModelBuild to build again: spec.datarobot is immutable."
    )


def job_observation(job: JobStatus, external_id: str, saved: dict[str, Any]) -> Observation:
    """One poll of the job → an observation; ids already saved are kept when the answer lacks them."""
    return Observation(
        external_id=external_id,
        remote_status=job.status,
        state=remote_state(job),
        status_block={
            "statusId": job.status_id or saved.get("statusId"),
            "customModelId": external_id,
            "customModelVersionId": job.custom_model_version_id or saved.get("customModelVersionId"),
            "location": job.location or saved.get("location"),
            "statusType": job.status_type or saved.get("statusType"),
            "message": job.message or None,  # DataRobot sends "" while nothing went wrong
        },
        failure_message=failure_message(job),
    )


def model_observation(
    external_id: str, model: CustomModel, saved: dict[str, Any], *, job_gone: bool = False
) -> Observation:
    """The custom model itself, when there is no job to ask (completed, adopted, or the job record is gone)."""
    if _completed(saved):
        return Observation(
            external_id=external_id,
            remote_status=COMPLETED,
            state=RemoteState.SUCCEEDED,
            status_block={**saved, "customModelId": external_id},
        )
    version = latest_version(model)
    block = {**saved, "customModelId": external_id}
    if version:
        # An adopted custom model (or a job whose record is gone) that has a version is a finished build.
        return Observation(
            external_id=external_id,
            remote_status=COMPLETED,
            state=RemoteState.SUCCEEDED,
            status_block={**block, "customModelVersionId": version},
        )
    if job_gone:
        message = (
            f"DataRobot no longer knows the build job {saved.get('statusId')} and custom model "
            f"{external_id} has no version: the build did not complete. Create a new ModelBuild to build again."
        )
        return Observation(
            external_id=external_id,
            remote_status=None,
            state=RemoteState.FAILED,
            status_block=block,
            failure_message=message,
        )
    # Adopted without a job to follow: wait for its first version (the timeout bounds the wait).
    return Observation(
        external_id=external_id, remote_status=None, state=RemoteState.PENDING, status_block=block
    )


def _started_at(request: DataRobotRequest) -> str:
    since = request.pending_since
    return since.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since else "the marker's time"


def deleted_unconfirmed_message(request: DataRobotRequest) -> str:
    """What a person cleans up when a resource whose build may have started unrecorded is deleted."""
    when = _started_at(request)
    return (
        f"In DataRobot, look for a custom model created from LLM blueprint {request.spec.llm_blueprint_id} at or "
        f"after {when}, and delete it there by hand if there is one."
    )


def unconfirmed_create_message(request: DataRobotRequest) -> str:
    """What a person checks, and how to resume, when a build may have started without its answer saved."""
    when = _started_at(request)
    ref = request.resource
    target = f"modelbuild/{ref.name} -n {ref.namespace}"
    return (
        f"A DataRobot build from LLM blueprint {request.spec.llm_blueprint_id} may have been started at {when} "
        "without its answer being saved (the operator stopped, or the answer was lost), and DataRobot has no way to "
        "look it up, so nothing is started again. In DataRobot, look for a custom model created from that "
        f"blueprint at or after {when}. If there is one, adopt it: kubectl annotate {target} "
        f"{ANNOTATION_EXTERNAL_ID}=<customModelId>. If there is none, start a new build: "
        f"kubectl annotate {target} {ANNOTATION_CREATE_PENDING}-"
    )


def latest_version(model: CustomModel) -> str | None:
    """The id of a custom model's latest version, None while it has none."""
    return model.latest_version.id if model.latest_version is not None else None


def _completed(saved: dict[str, Any]) -> bool:
    return bool(saved.get("customModelVersionId") or saved.get("location"))


class DataRobotProvider(Provider[DataRobotBuildSpec, DataRobotCredentials]):
    key = "datarobot"
    upstream = UPSTREAM
    spec_model = DataRobotBuildSpec
    # 413 (any 4xx counts already), 429 and 503 are answers the official client retries a start on: the
    # upstream did not take the build, so the marker is cleared and the next attempt starts it. 502 and 504
    # come from a gateway that may have passed the request on: the marker stays and `find` asks a person.
    create_unprocessed_statuses = frozenset({429, 503})

    def __init__(self, client: DataRobotClient) -> None:
        self._client = client

    def credentials(self, secret_data: dict[str, str]) -> DataRobotCredentials:
        return DataRobotCredentials.from_secret(secret_data)

    async def find(self, request: DataRobotRequest) -> FindResult:
        return Undecidable(
            unconfirmed_create_message(request), when_deleted=deleted_unconfirmed_message(request)
        )

    async def create(self, request: DataRobotRequest) -> Observation:
        spec = request.spec
        try:
            started = await self._client.start_build(
                request.credentials,
                llm_blueprint_id=spec.llm_blueprint_id,
                prompt_column_name=spec.prompt_column_name or DEFAULT_PROMPT_COLUMN,
                target_column_name=spec.target_column_name or DEFAULT_TARGET_COLUMN,
                llm_test_configuration_ids=spec.llm_test_configuration_ids,
            )
        except MalformedResponseError as error:
            custom_model_id = error.details.get("customModelId")
            if error.status == 202 and isinstance(custom_model_id, str) and custom_model_id:
                # The build started but its status URL is unusable: keep the custom model and follow it by
                # its versions instead of losing it (or starting another).
                return Observation(
                    external_id=custom_model_id,
                    remote_status=None,
                    state=RemoteState.PENDING,
                    status_block={"customModelId": custom_model_id},
                )
            raise
        return Observation(
            external_id=started.custom_model_id,
            remote_status=None,
            state=RemoteState.PENDING,
            status_block={"statusId": started.status_id, "customModelId": started.custom_model_id},
        )

    async def observe(
        self, request: DataRobotRequest, external_id: str, listed: None = None
    ) -> Observation | None:
        saved = self._saved_for(request, external_id)
        status_id = saved.get("statusId")
        job_gone = False
        if status_id and not _completed(saved):
            try:
                job = await self._client.status(request.credentials, status_id)
            except NotFoundError:
                job_gone = True
            else:
                observation = job_observation(job, external_id, saved)
                if observation.state is not RemoteState.SUCCEEDED or observation.status_block.get(
                    "customModelVersionId"
                ):
                    return observation
                # A 200 COMPLETED names no version: read it from the custom model (which must still exist).
                model = await self._client.get_custom_model(request.credentials, external_id)
                if model is None:
                    return None
                block = {**observation.status_block, "customModelVersionId": latest_version(model)}
                return dataclasses.replace(observation, status_block=block)
        model = await self._client.get_custom_model(request.credentials, external_id)
        if model is None:
            return None
        return model_observation(external_id, model, saved, job_gone=job_gone)

    async def delete(self, request: DataRobotRequest, external_id: str) -> bool:
        saved = self._saved_for(request, external_id)
        status_id = saved.get("statusId")
        if status_id and not _completed(saved):
            # A job still running writes into the custom model: let it end first (the lifecycle retries).
            try:
                job: JobStatus | None = await self._client.status(request.credentials, status_id)
            except AuthenticationError:
                raise
            except PermanentUpstreamError:
                job = None  # the job cannot be read (gone, or a malformed id): delete the model anyway
            if job is not None and not job.terminal:
                return False
        try:
            await self._client.delete_custom_model(request.credentials, external_id)
        except NotFoundError:
            return True
        # The finalizer is released only once the upstream confirms: a read must now answer 404.
        return await self._client.get_custom_model(request.credentials, external_id) is None

    @staticmethod
    def _saved_for(request: DataRobotRequest, external_id: str) -> dict[str, Any]:
        """The saved block, when it belongs to this custom model (not to an earlier or adopted one)."""
        saved = {key: value for key, value in request.saved.items() if value is not None}
        return saved if saved.get("customModelId") == external_id else {}
