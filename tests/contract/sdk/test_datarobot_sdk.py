"""The fake DataRobot GenAI build API, driven by DataRobot's official SDK (``datarobot`` 3.20.0).

The SDK runs in a subprocess (see ``harness``); these tests assert on what it returned or raised and on the
requests the fake recorded. Jobs progress on a ManualClock, moved by the test when the SDK has polled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from modelops_sandbox.fakes import ManualClock
from modelops_sandbox.fakes.datarobot import (
    CUSTOM_MODEL_PATH,
    CUSTOM_MODEL_VERSIONS_PATH,
    STATUS_PATH,
    STATUS_TYPE,
    DataRobotFake,
)

from .harness import DATAROBOT_SDK, run_driver, sdk_dir

DRIVER = "drive_datarobot"
STAGE_SECONDS = 1.0
VERSION_PATH = r"^/api/v2/customModels/[^/]+/versions/[^/]+/$"
VERSION_CHECK_PATH = r"^/api/v2/version/$"


@pytest.fixture
def sdk() -> Path:
    return sdk_dir(DATAROBOT_SDK)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[DataRobotFake]:
    async with DataRobotFake(clock=clock, stage_seconds=STAGE_SECONDS) as server:
        yield server


@pytest.fixture
def token(fake: DataRobotFake) -> str:
    return fake.new_token()


def assert_not_found(outcome: dict[str, dict[str, object]]) -> None:
    raised = outcome["raised"]
    assert (raised["type"], raised["status"]) == ("ClientError", 404)


async def complete_after_first_poll(fake: DataRobotFake, clock: ManualClock) -> None:
    """Let the SDK see the job in progress once, then let it complete before the SDK's next poll."""
    await fake.wait_for_request("GET", STATUS_PATH, timeout=60.0)
    clock.advance(2 * STAGE_SECONDS)


async def test_build_waits_on_the_status_url_then_deletes_the_custom_model(
    sdk: Path, fake: DataRobotFake, token: str, clock: ManualClock
) -> None:
    blueprint = fake.new_blueprint()
    params = {
        "url": fake.url,
        "token": token,
        "blueprint_id": blueprint,
        "test_configuration_ids": ["t1", "t2"],
    }
    # a TaskGroup: if the driver fails before its first poll, the clock-mover is cancelled with it
    async with asyncio.TaskGroup() as group:
        driving = group.create_task(run_driver(DRIVER, "build", sdk, params))
        group.create_task(complete_after_first_poll(fake, clock))
    result = driving.result()

    # register_custom_model: POST genai/customModelVersions/ (camelCase JSON), then the SDK's own wait
    [start] = fake.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)
    assert start.status == 202
    assert start.json == {
        "llmBlueprintId": blueprint,
        "promptColumnName": "promptText",
        "targetColumnName": "resultText",
        "llmTestConfigurationIds": ["t1", "t2"],
    }
    custom_model_id = result["version"]["custom_model_id"]
    status_id = fake.status_id_of(custom_model_id)
    # it polled the Location it was given, never following the 303 itself: in progress, then 303
    polls = fake.requests_matching("GET", STATUS_PATH)
    status_path = f"/api/v2/genai/status/{status_id}/"
    assert [(r.path, r.status) for r in polls] == [(status_path, 200), (status_path, 303)]
    assert result["seconds"] >= 5.0  # the SDK's fixed poll interval
    # ... then read the version the 303 named
    version_id = fake.version_id_of(custom_model_id)
    assert result["version"] == {
        "id": version_id,
        "custom_model_id": custom_model_id,
        "version_major": 1,
        "version_minor": 0,
        "is_frozen": False,
        "items": 0,
    }
    assert [r.status for r in fake.requests_matching("GET", VERSION_PATH)] == [200]

    # CustomInferenceModel.get, delete(), then 404 for a get and a second delete
    assert result["model"] == {
        "id": custom_model_id,
        "name": f"LLM blueprint {blueprint}",
        "target_type": "TextGeneration",
        "latest_version_id": version_id,
    }
    assert result["deleted"] == {"returned": "None"}
    assert_not_found(result["get_after_delete"])
    assert_not_found(result["delete_after_delete"])
    assert [r.status for r in fake.requests_matching("DELETE", CUSTOM_MODEL_PATH)] == [204, 404]
    assert fake.custom_model(custom_model_id) is None

    # the client checked the API version first, and sent its own auth scheme ("Token") on every request
    assert fake.requests[0].path == "/api/v2/version/" and fake.requests[0].status == 200
    assert all(r.header("Authorization") == "Token REDACTED" for r in fake.requests)
    assert all(
        (r.header("User-Agent") or "").startswith("DataRobotPythonClient/3.20.0") for r in fake.requests
    )


async def test_a_failed_build_raises_async_process_unsuccessful(
    sdk: Path, fake: DataRobotFake, token: str
) -> None:
    blueprint = fake.new_blueprint()
    fake.script(blueprint, outcome="ERROR", message="the LLM is not available", stage_seconds=0)
    result = await run_driver(
        DRIVER, "register", sdk, {"url": fake.url, "token": token, "blueprint_id": blueprint}
    )
    raised = result["raised"]
    assert raised["type"] == "AsyncProcessUnsuccessfulError"
    assert "the LLM is not available" in raised["message"] and "'status': 'ERROR'" in raised["message"]
    assert [r.status for r in fake.requests_matching("GET", STATUS_PATH)] == [200]
    assert fake.requests_matching("GET", VERSION_PATH) == []


async def test_refused_starts_are_retried_by_the_sdk(sdk: Path, fake: DataRobotFake, token: str) -> None:
    """The fake's 429 and 503 (its fault helpers, in DataRobot's error shape) are what the SDK retries."""
    blueprint = fake.new_blueprint()
    fake.script(blueprint, stage_seconds=0)
    fake.faults.rate_limit(times=1, retry_after=0, method="POST", path=CUSTOM_MODEL_VERSIONS_PATH)
    fake.faults.server_error(503, times=1, method="POST", path=CUSTOM_MODEL_VERSIONS_PATH)
    params = {"url": fake.url, "token": token, "blueprint_id": blueprint}
    result = await run_driver(DRIVER, "register", sdk, params)
    assert result["version"]["custom_model_id"] == fake.custom_models[0]["id"]
    starts = fake.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)
    assert [r.status for r in starts] == [429, 503, 202]
    assert fake.count_creates() == 1


async def test_completion_answered_200_completed_breaks_register_custom_model(
    sdk: Path, fake: DataRobotFake, token: str
) -> None:
    """SDK fault: the contract lets a completed job answer 200 with status COMPLETED instead of 303; the SDK's
    wait_for_async_resolution then returns the status body (a dict), and register_custom_model hands that
    dict to CustomModelVersion.from_location as if it were a URL (datarobot 3.20.0,
    models/genai/llm_blueprint.py), which raises AttributeError. The job itself completed."""
    blueprint = fake.new_blueprint()
    fake.script(blueprint, completion="200", stage_seconds=0)
    result = await run_driver(
        DRIVER, "register", sdk, {"url": fake.url, "token": token, "blueprint_id": blueprint}
    )
    raised = result["raised"]
    assert raised["type"] == "AttributeError" and "startswith" in raised["message"]
    [poll] = fake.requests_matching("GET", STATUS_PATH)
    assert poll.status == 200
    assert fake.jobs[0]["status"] == "COMPLETED"


async def test_job_status_reads_in_progress_and_failed_jobs(
    sdk: Path, fake: DataRobotFake, token: str
) -> None:
    running, doomed = fake.new_blueprint(), fake.new_blueprint()
    fake.script(doomed, outcome="ABORTED", message="cancelled by an admin", stage_seconds=0)
    params = {"url": fake.url, "token": token, "blueprint_ids": [running, doomed]}
    in_progress, failed = (await run_driver(DRIVER, "job_status", sdk, params))["statuses"]

    job_ids = [fake.status_id_of(model["id"]) for model in fake.custom_models]
    assert in_progress["status_id"] == job_ids[0] and failed["status_id"] == job_ids[1]
    # the SDK's JobStatus requires "message" to be a string (blank allowed) even while a job is in progress
    assert (in_progress["status"], in_progress["code"], in_progress["message"]) == ("INITIALIZED", 0, "")
    assert (failed["status"], failed["code"], failed["message"]) == ("ABORTED", 1, "cancelled by an admin")
    assert in_progress["status_type"] == failed["status_type"] == STATUS_TYPE
    assert running in in_progress["description"]
    # SDK fault: JobStatus keeps the status as the plain string the server sent, while is_terminal_state
    # compares it with JobExecutionState members (a plain Enum), so it is False even for ABORTED
    # (datarobot 3.20.0, models/genai/jobstatus.py). Asserted so that a fixed SDK makes this fail loudly.
    assert failed["is_terminal"] is False and in_progress["is_terminal"] is False


async def test_wrong_token_is_refused_and_a_bearer_token_accepted(
    sdk: Path, fake: DataRobotFake, token: str
) -> None:
    result = await run_driver(
        DRIVER, "unauthorized", sdk, {"url": fake.url, "token": token, "wrong_token": "nope"}
    )
    raised = result["wrong_token"]["raised"]
    assert (raised["type"], raised["status"]) == ("ClientError", 401)
    assert "Unable to authenticate" in raised["message"]
    assert "returned" in result["bearer"]
    checks = fake.requests_matching("GET", VERSION_CHECK_PATH)
    assert [(r.header("Authorization"), r.status) for r in checks] == [
        ("Token REDACTED", 401),
        ("Bearer REDACTED", 200),
    ]
