"""DataRobot job answers → the lifecycle's state, phase, conditions and messages (pure mapping, no I/O)."""

from __future__ import annotations

import datetime

import pytest

from modelops_operator.api.modelbuild import DataRobotBuildSpec
from modelops_operator.core import status as st
from modelops_operator.providers.base import Observation, RemoteState, Request, ResourceRef
from modelops_operator.providers.datarobot.client import (
    CustomModel,
    DataRobotCredentials,
    JobStatus,
    state_of,
)
from modelops_operator.providers.datarobot.provider import (
    failure_message,
    job_observation,
    model_observation,
    remote_state,
    unconfirmed_create_message,
)

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
MODEL = "6512aa0000000000000000aa"
VERSION = "6512bb0000000000000000bb"
STATUS_ID = "0b6e3c1e-1111-4222-8333-444455556666"


def custom_model(*, latest: str | None) -> CustomModel:
    """The custom model as the upstream renders it (validated as the client does)."""
    return CustomModel.model_validate(
        {"id": MODEL, "latestVersion": None if latest is None else {"id": latest}}
    )


def job(word: str, *, code: int | None = None, message: str | None = None, **extra: str) -> JobStatus:
    return JobStatus(
        state=state_of(word, code),
        status=word,
        status_id=STATUS_ID,
        status_type="customModelVersionFromLlmBlueprint",
        code=code,
        message=message,
        **extra,
    )


def conditions(observation: Observation) -> dict[str, tuple[str, str]]:
    patch = st.status_patch({}, st.outcome_for(observation), generation=1, provider_key="datarobot", now=NOW)
    assert patch is not None
    rendered = {c["type"]: (c["status"], c["reason"]) for c in patch["conditions"]}
    rendered["phase"] = (patch["phase"], patch.get("remoteStatus", ""))
    return rendered


@pytest.mark.parametrize(
    ("word", "code", "state", "phase", "ready", "reconciling", "stalled"),
    [
        ("INITIALIZED", 0, RemoteState.PENDING, "Running", "False", "True", "False"),
        ("RUNNING", 0, RemoteState.RUNNING, "Running", "False", "True", "False"),
        ("COMPLETED", 0, RemoteState.SUCCEEDED, "Succeeded", "True", "False", "False"),
        ("ERROR", 1, RemoteState.FAILED, "Failed", "False", "False", "True"),
        ("EXPIRED", 1, RemoteState.FAILED, "Failed", "False", "False", "True"),
        ("ABORTED", 1, RemoteState.CANCELED, "Canceled", "False", "False", "True"),
    ],
)
def test_state_table(
    word: str, code: int, state: RemoteState, phase: str, ready: str, reconciling: str, stalled: str
) -> None:
    answer = job(word, code=code, message="boom" if code else None)
    assert remote_state(answer) is state
    rendered = conditions(job_observation(answer, MODEL, {}))
    assert rendered["phase"] == (phase, word)
    assert (rendered["Ready"][0], rendered["Reconciling"][0], rendered["Stalled"][0]) == (
        ready,
        reconciling,
        stalled,
    )


def test_reasons_of_failures_and_progress() -> None:
    assert conditions(job_observation(job("ERROR", code=1), MODEL, {}))["Stalled"] == ("True", "RemoteFailed")
    assert conditions(job_observation(job("ABORTED", code=1), MODEL, {}))["Stalled"] == (
        "True",
        "RemoteCanceled",
    )
    assert conditions(job_observation(job("INITIALIZED"), MODEL, {}))["Reconciling"] == (
        "True",
        "Initialized",
    )
    assert conditions(job_observation(job("COMPLETED"), MODEL, {}))["Ready"] == ("True", "Succeeded")


def test_status_words_are_case_insensitive_and_unknown_words_follow_the_code() -> None:
    assert remote_state(job("running")) is RemoteState.RUNNING
    assert remote_state(job("QUEUED", code=0)) is RemoteState.RUNNING
    assert remote_state(job("EXPLODED", code=1)) is RemoteState.FAILED


def test_failure_message_carries_the_upstream_message() -> None:
    message = failure_message(job("ERROR", code=1, message="LLM blueprint has no vector database"))
    assert message is not None
    assert "LLM blueprint has no vector database" in message
    assert STATUS_ID in message and "ERROR" in message
    assert "new ModelBuild" in message
    assert "without a message" in (failure_message(job("EXPIRED", code=1)) or "")
    assert failure_message(job("RUNNING")) is None
    assert failure_message(job("COMPLETED")) is None


def test_completion_by_redirect_keeps_version_and_location() -> None:
    location = f"https://dr.example/api/v2/customModels/{MODEL}/versions/{VERSION}/"
    answer = JobStatus(
        state="completed",
        status="COMPLETED",
        status_id=STATUS_ID,
        location=location,
        custom_model_id=MODEL,
        custom_model_version_id=VERSION,
    )
    observation = job_observation(answer, MODEL, {"statusType": "customModelVersionFromLlmBlueprint"})
    assert observation.state is RemoteState.SUCCEEDED
    assert observation.status_block == {
        "statusId": STATUS_ID,
        "customModelId": MODEL,
        "customModelVersionId": VERSION,
        "location": location,
        "statusType": "customModelVersionFromLlmBlueprint",  # kept: a bare 303 has no body
        "message": None,
    }


def test_custom_model_after_completion_keeps_the_saved_block() -> None:
    saved = {"statusId": STATUS_ID, "customModelId": MODEL, "customModelVersionId": VERSION}
    observation = model_observation(MODEL, custom_model(latest="other"), saved)
    assert observation.state is RemoteState.SUCCEEDED
    assert observation.remote_status == "COMPLETED"
    assert observation.status_block == saved  # a later version made by hand is not ours


def test_adopted_custom_model_waits_for_a_version() -> None:
    waiting = model_observation(MODEL, custom_model(latest=None), {})
    assert waiting.state is RemoteState.PENDING and waiting.remote_status is None
    done = model_observation(MODEL, custom_model(latest=VERSION), {})
    assert done.state is RemoteState.SUCCEEDED
    assert done.status_block == {"customModelId": MODEL, "customModelVersionId": VERSION}


def test_job_record_gone_without_a_version_is_failed() -> None:
    observation = model_observation(MODEL, custom_model(latest=None), {"statusId": STATUS_ID}, job_gone=True)
    assert observation.state is RemoteState.FAILED
    assert STATUS_ID in (observation.failure_message or "")


def test_a_new_build_replaces_every_id_of_the_old_one_in_one_status_write() -> None:
    old = {
        "phase": "Succeeded",
        "externalId": "old-model",
        "datarobot": {
            "statusId": "old-status",
            "customModelId": "old-model",
            "customModelVersionId": VERSION,
        },
    }
    started = Observation(
        external_id=MODEL,
        remote_status=None,
        state=RemoteState.PENDING,
        status_block={"statusId": STATUS_ID, "customModelId": MODEL},
    )
    patch = st.status_patch(old, st.outcome_for(started), generation=1, provider_key="datarobot", now=NOW)
    assert patch is not None
    assert patch["phase"] == "Running" and patch["externalId"] == MODEL
    assert patch["datarobot"] == {"statusId": STATUS_ID, "customModelId": MODEL, "customModelVersionId": None}


def test_unconfirmed_create_message_says_what_to_check_and_how_to_resume() -> None:
    request: Request[DataRobotBuildSpec, DataRobotCredentials] = Request(
        resource=ResourceRef(namespace="ml", name="qa-bot", uid="u1"),
        spec=DataRobotBuildSpec(llm_blueprint_id="bp-42"),
        credentials=DataRobotCredentials.from_secret({"token": "t"}),
        pending_since=NOW,
        saved={},
    )
    message = unconfirmed_create_message(request)
    assert "bp-42" in message and "2026-01-01T12:00:00Z" in message
    assert "kubectl annotate modelbuild/qa-bot -n ml modelops.dev/external-id=<customModelId>" in message
    assert "kubectl annotate modelbuild/qa-bot -n ml modelops.dev/create-pending-since-" in message
