"""The DataRobot client against the fake DataRobot, over real HTTP.

The shared HTTP policy is used as in production, with a tiny backoff so retries are fast; the fake's job
lifecycle is driven by a ManualClock, so polling never waits for real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from modelops_operator.providers.credentials import MissingCredentialKeys
from modelops_operator.providers.datarobot import (
    UPSTREAM,
    DataRobotClient,
    DataRobotCredentials,
    DataRobotTokenAuth,
    JobStatus,
)
from modelops_operator.providers.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    PermanentUpstreamError,
    TransientUpstreamError,
)
from modelops_operator.providers.http import HttpPolicy, UpstreamHTTP
from modelops_sandbox.fakes import ManualClock
from modelops_sandbox.fakes.datarobot import (
    CUSTOM_MODEL_VERSIONS_PATH,
    STATUS_PATH,
    DataRobotFake,
    make_object_id,
)

FAST = HttpPolicy(timeout_seconds=5, max_attempts=4, backoff_base_seconds=0.01, backoff_max_seconds=0.02)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[DataRobotFake]:
    async with DataRobotFake(clock=clock) as server:
        yield server


@pytest.fixture
async def http(fake: DataRobotFake) -> AsyncIterator[UpstreamHTTP]:
    upstream = UpstreamHTTP(UPSTREAM, fake.url + "/", FAST)
    try:
        yield upstream
    finally:
        await upstream.aclose()


@pytest.fixture
def client(http: UpstreamHTTP) -> DataRobotClient:
    return DataRobotClient(http)


@pytest.fixture
def creds(fake: DataRobotFake) -> DataRobotCredentials:
    return DataRobotCredentials.from_secret({"token": fake.new_token()})


@pytest.fixture
def blueprint(fake: DataRobotFake) -> str:
    return fake.new_blueprint()


async def start(client: DataRobotClient, creds: Any, blueprint: str) -> Any:
    return await client.start_build(
        creds,
        llm_blueprint_id=blueprint,
        prompt_column_name="promptText",
        target_column_name="resultText",
        llm_test_configuration_ids=None,
    )


# ------------------------------------------------------------------------------------------------ success


async def test_start_and_poll_to_a_303(
    fake: DataRobotFake,
    client: DataRobotClient,
    creds: DataRobotCredentials,
    clock: ManualClock,
    blueprint: str,
) -> None:
    tests = [make_object_id()]
    started = await client.start_build(
        creds,
        llm_blueprint_id=blueprint,
        prompt_column_name="question",
        target_column_name="answer",
        llm_test_configuration_ids=tests,
    )
    assert fake.status_id_of(started.custom_model_id) == started.status_id
    assert started.status_url == f"{fake.url}/api/v2/genai/status/{started.status_id}/"
    assert fake.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)[-1].json == {
        "llmBlueprintId": blueprint,
        "promptColumnName": "question",
        "targetColumnName": "answer",
        "llmTestConfigurationIds": tests,
    }

    first = await client.status(creds, started.status_id)
    assert (first.state, first.status, first.terminal) == ("in_progress", "INITIALIZED", False)
    # the fake answers "message": "" while in progress (as DataRobot does); the client may keep it or drop it
    assert first.status_id == started.status_id and first.code == 0 and not first.message
    assert first.status_type and first.created and first.description
    clock.advance(1.0)
    assert (await client.status(creds, started.status_id)).status == "RUNNING"
    clock.advance(1.0)
    done = await client.status(creds, started.status_id)
    version_id = fake.version_id_of(started.custom_model_id)
    assert done.state == "completed" and done.terminal
    assert done.status == "COMPLETED"
    assert done.custom_model_version_id == version_id
    assert done.custom_model_id == started.custom_model_id
    assert done.location == f"{fake.url}/api/v2/customModels/{started.custom_model_id}/versions/{version_id}/"
    # the redirect was not followed: only status URLs were asked for
    assert [r.path for r in fake.requests_matching("GET")] == [
        f"/api/v2/genai/status/{started.status_id}/"
    ] * 3
    assert [r.status for r in fake.requests_matching("GET")] == [200, 200, 303]


async def test_optional_fields_are_sent_only_when_given(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials, blueprint: str
) -> None:
    await start(client, creds, blueprint)
    await client.start_build(creds, llm_blueprint_id=blueprint, llm_test_configuration_ids=[])
    bodies = [r.json for r in fake.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)]
    assert bodies == [
        {"llmBlueprintId": blueprint, "promptColumnName": "promptText", "targetColumnName": "resultText"},
        {
            "llmBlueprintId": blueprint,
            "promptColumnName": "promptText",
            "targetColumnName": "resultText",
            "llmTestConfigurationIds": [],
        },
    ]


async def test_a_200_completed_is_success_too(
    fake: DataRobotFake,
    client: DataRobotClient,
    creds: DataRobotCredentials,
    clock: ManualClock,
    blueprint: str,
) -> None:
    fake.script(completion="200")
    started = await start(client, creds, blueprint)
    clock.advance(2.0)
    done = await client.status(creds, started.status_id)
    assert (done.state, done.status, done.code) == ("completed", "COMPLETED", 0)
    assert done.location is None and done.custom_model_version_id is None
    # the version is found through the custom model instead
    model = await client.get_custom_model(creds, started.custom_model_id)
    assert model is not None
    assert model.latest_version is not None
    assert model.latest_version.id == fake.version_id_of(started.custom_model_id)


async def test_a_bare_303_with_a_relative_location(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials
) -> None:
    location = "/api/v2/customModels/cm1/versions/v1/"
    fake.faults.respond(303, b"", headers={"Location": location}, path=STATUS_PATH)
    done = await client.status(creds, "6f0d5f54-2c1b-4b55-9c39-5a0f3b1e0c11")
    assert done.state == "completed" and done.status == "COMPLETED"
    assert done.location == fake.url + location
    assert (done.custom_model_id, done.custom_model_version_id) == ("cm1", "v1")
    assert done.status_id == "6f0d5f54-2c1b-4b55-9c39-5a0f3b1e0c11"
    # a Location that names no version still means success
    fake.faults.respond(303, b"", headers={"Location": "/elsewhere"}, path=STATUS_PATH)
    other = await client.status(creds, "6f0d5f54-2c1b-4b55-9c39-5a0f3b1e0c11")
    assert other.state == "completed" and other.custom_model_version_id is None


# ------------------------------------------------------------------------------------------------ failures


@pytest.mark.parametrize("outcome", ["ERROR", "ABORTED", "EXPIRED"])
async def test_terminal_failures(
    fake: DataRobotFake,
    client: DataRobotClient,
    creds: DataRobotCredentials,
    clock: ManualClock,
    blueprint: str,
    outcome: Any,
) -> None:
    fake.script(outcome=outcome, message=f"the job ended as {outcome}")
    started = await start(client, creds, blueprint)
    clock.advance(2.0)
    failed = await client.status(creds, started.status_id)
    assert failed == JobStatus(
        state="failed",
        status=outcome,
        status_id=started.status_id,
        status_type=failed.status_type,
        code=1,
        message=f"the job ended as {outcome}",
        description=failed.description,
        created=failed.created,
    )
    assert failed.terminal


async def test_a_malformed_status_id_is_permanent(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials
) -> None:
    with pytest.raises(PermanentUpstreamError) as caught:
        await client.status(creds, "not-a-uuid")
    assert caught.value.status == 422
    assert "statusId" in caught.value.message
    assert len(fake.requests_matching("GET", STATUS_PATH)) == 1  # not retried


async def test_unknown_things_raise_not_found(client: DataRobotClient, creds: DataRobotCredentials) -> None:
    with pytest.raises(NotFoundError) as caught:
        await start(client, creds, make_object_id())
    assert caught.value.message == "LLM blueprint not found"
    with pytest.raises(NotFoundError):
        await client.status(creds, "6f0d5f54-2c1b-4b55-9c39-5a0f3b1e0c11")


async def test_a_202_without_location_keeps_the_custom_model_id(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials, blueprint: str
) -> None:
    fake.faults.respond(202, {"customModelId": "abc123"}, path=CUSTOM_MODEL_VERSIONS_PATH)
    with pytest.raises(MalformedResponseError) as caught:
        await start(client, creds, blueprint)
    assert caught.value.details == {"customModelId": "abc123"}
    assert "abc123" in caught.value.message


async def test_malformed_bodies_raise_malformed(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials, blueprint: str
) -> None:
    started = await start(client, creds, blueprint)
    fake.faults.malformed(times=1, path=STATUS_PATH)
    with pytest.raises(MalformedResponseError):
        await client.status(creds, started.status_id)
    fake.faults.respond(200, {"code": "x", "status": "RUNNING"}, path=STATUS_PATH)
    with pytest.raises(MalformedResponseError):
        await client.status(creds, started.status_id)
    fake.faults.respond(200, {"code": 0}, path=STATUS_PATH)
    with pytest.raises(MalformedResponseError):
        await client.status(creds, started.status_id)
    assert (await client.status(creds, started.status_id)).status == "INITIALIZED"


# ------------------------------------------------------------------------------------------------ retries


@pytest.mark.parametrize("status", [413, 429, 502, 503, 504])
async def test_polling_retries_what_the_official_client_retries(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials, blueprint: str, status: int
) -> None:
    started = await start(client, creds, blueprint)
    handle = fake.faults.server_error(status, times=2, method="GET", path=STATUS_PATH)
    result = await client.status(creds, started.status_id)
    assert result.status == "INITIALIZED"
    assert handle.hits == 2
    assert [r.status for r in fake.requests_matching("GET", STATUS_PATH)] == [status, status, 200]


async def test_retries_give_up_after_the_attempt_budget(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials
) -> None:
    fake.faults.server_error(503, times=None, path=STATUS_PATH)
    with pytest.raises(TransientUpstreamError) as caught:
        await client.status(creds, "6f0d5f54-2c1b-4b55-9c39-5a0f3b1e0c11")
    assert caught.value.status == 503
    assert len(fake.requests_matching("GET", STATUS_PATH)) == FAST.max_attempts


async def test_retry_after_is_honoured(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials, blueprint: str
) -> None:
    started = await start(client, creds, blueprint)
    fake.faults.rate_limit(times=1, retry_after=0.3, path=STATUS_PATH)
    await client.status(creds, started.status_id)
    first, second = fake.requests_matching("GET", STATUS_PATH)
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.3  # the backoff alone would have waited ~0.01 s


async def test_a_start_is_retried_only_when_it_was_never_processed(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials, blueprint: str
) -> None:
    fake.faults.rate_limit(times=1, retry_after=None, path=CUSTOM_MODEL_VERSIONS_PATH)
    await start(client, creds, blueprint)
    assert fake.count_creates() == 1
    assert [r.status for r in fake.requests_matching("POST")] == [429, 202]
    fake.clear_requests()
    # a 503 or 413 may come after the upstream acted: not retried (the caller looks up before trying again)
    for status in (503, 413):
        fake.faults.server_error(status, times=1, path=CUSTOM_MODEL_VERSIONS_PATH)
        with pytest.raises(TransientUpstreamError) as caught:
            await start(client, creds, blueprint)
        assert caught.value.status == status
    assert [r.status for r in fake.requests_matching("POST")] == [503, 413]
    assert fake.count_creates() == 1


# ----------------------------------------------------------------------------------------------- deletion


async def test_delete_then_not_found(
    fake: DataRobotFake, client: DataRobotClient, creds: DataRobotCredentials, blueprint: str
) -> None:
    started = await start(client, creds, blueprint)
    model = await client.get_custom_model(creds, started.custom_model_id)
    assert model is not None and model.id == started.custom_model_id
    await client.delete_custom_model(creds, started.custom_model_id)
    with pytest.raises(NotFoundError):
        await client.delete_custom_model(creds, started.custom_model_id)
    assert await client.get_custom_model(creds, started.custom_model_id) is None
    assert fake.custom_models == []


# -------------------------------------------------------------------------------------------- credentials


async def test_token_and_bearer_schemes(fake: DataRobotFake, client: DataRobotClient, blueprint: str) -> None:
    token = fake.new_token()
    bearer = DataRobotCredentials.from_secret({"token": f"  {token}\n"})
    assert bearer.headers() == {"Authorization": f"Bearer {token}"}
    as_token = DataRobotCredentials(token=SecretStr(token), scheme="Token")
    assert as_token.headers() == {"Authorization": f"Token {token}"}
    started = await start(client, bearer, blueprint)
    await client.status(as_token, started.status_id)
    await client.get_custom_model(DataRobotTokenAuth(SecretStr(token), "Token"), started.custom_model_id)
    await client.delete_custom_model(bearer.auth(), started.custom_model_id)
    schemes = [r.headers["Authorization"] for r in fake.requests]
    assert schemes == ["Bearer REDACTED", "Token REDACTED", "Token REDACTED", "Bearer REDACTED"]
    assert [r.status for r in fake.requests] == [202, 200, 200, 204]


async def test_a_wrong_token_is_an_authentication_error(client: DataRobotClient, blueprint: str) -> None:
    wrong = DataRobotCredentials.from_secret({"token": "not-registered"})
    with pytest.raises(AuthenticationError) as caught:
        await start(client, wrong, blueprint)
    assert caught.value.status == 401
    assert "not-registered" not in str(caught.value)


def test_credentials_from_a_secret() -> None:
    for data in ({}, {"token": ""}, {"token": "   "}, {"apiKey": "x"}):
        with pytest.raises(MissingCredentialKeys, match="'token'"):
            DataRobotCredentials.from_secret(data)
    with pytest.raises(MissingCredentialKeys) as caught:
        DataRobotCredentials.from_secret({"token": "two words-secretvalue"})
    assert "secretvalue" not in str(caught.value)
    creds = DataRobotCredentials.from_secret({"token": "s3cr3t-value"})
    for text in (repr(creds), str(creds), repr(creds.auth()), creds.model_dump_json()):
        assert "s3cr3t-value" not in text
