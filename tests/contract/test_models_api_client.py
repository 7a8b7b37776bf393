"""The Models API client against the fake, over real HTTP: the wire format, paging, errors and retries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from modelops_operator.providers.credentials import MissingCredentialKeys
from modelops_operator.providers.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    PermanentUpstreamError,
    TransientUpstreamError,
)
from modelops_operator.providers.http import HttpPolicy, UpstreamHTTP
from modelops_operator.providers.models_api import (
    UPSTREAM,
    ModelRun,
    ModelsApiClient,
    ModelsApiCredentials,
)
from modelops_sandbox.fakes.base import REDACTED, ManualClock
from modelops_sandbox.fakes.models_api import (
    CANCEL_PATH,
    MODEL_RUN_PATH,
    MODEL_RUNS_PATH,
    STEPS_PATH,
    ModelsApiFake,
)

API_KEY = "mk_client_key_0123456789"
TOKEN = "tok_client_0123456789abcdef"
MISSING = "550e8400-e29b-41d4-a716-446655440999"
POLICY = HttpPolicy(
    timeout_seconds=5.0, max_attempts=3, backoff_base_seconds=0.01, backoff_max_seconds=0.02, concurrency=4
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(10_000.0)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[ModelsApiFake]:
    async with ModelsApiFake(clock=clock, pending_seconds=1.0, step_seconds=5.0) as server:
        server.add_api_key(API_KEY)
        server.add_bearer_token(TOKEN)
        yield server


@pytest.fixture
async def api(fake: ModelsApiFake) -> AsyncIterator[ModelsApiClient]:
    http = UpstreamHTTP(UPSTREAM, fake.url, POLICY)
    try:
        yield ModelsApiClient(http)
    finally:
        await http.aclose()


@pytest.fixture
def creds() -> ModelsApiCredentials:
    return ModelsApiCredentials.from_secret({"apiKey": API_KEY})


# ----------------------------------------------------------------------------------------- credentials


def test_credentials_from_a_secret() -> None:
    by_key = ModelsApiCredentials.from_secret({"apiKey": f" {API_KEY}\n"})
    assert by_key.headers() == {"X-API-Key": API_KEY}
    by_token = ModelsApiCredentials.from_secret({"bearerToken": TOKEN})
    assert by_token.headers() == {"Authorization": f"Bearer {TOKEN}"}
    both = ModelsApiCredentials.from_secret({"apiKey": API_KEY, "bearerToken": TOKEN})
    assert both.headers() == {"X-API-Key": API_KEY}
    blank_key = ModelsApiCredentials.from_secret({"apiKey": "  ", "bearerToken": TOKEN})
    assert blank_key.headers() == {"Authorization": f"Bearer {TOKEN}"}
    for text in (repr(by_key), str(by_key), repr(by_token), by_key.model_dump_json()):
        assert API_KEY not in text and TOKEN not in text


@pytest.mark.parametrize(
    "data", [{}, {"apiKey": ""}, {"token": "s3cr3t-value-1", "authToken": "s3cr3t-value-2"}]
)
def test_missing_credential_keys_are_named(data: dict[str, str]) -> None:
    with pytest.raises(MissingCredentialKeys) as caught:
        ModelsApiCredentials.from_secret(data)
    message = str(caught.value)
    assert "'apiKey'" in message and "'bearerToken'" in message
    assert all(value not in message for value in data.values() if value)


# ------------------------------------------------------------------------------------------------ runs


async def test_trigger_sends_only_the_given_fields_and_get_reads_back(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials, clock: ManualClock
) -> None:
    run = await api.trigger(creds, project_name="analytics", model_names=["stg_orders"], full_refresh=False)
    assert isinstance(run, ModelRun)
    assert run.status == "PENDING" and not run.terminal
    assert run.project_name == "analytics" and run.model_names == ["stg_orders"]
    assert run.started_at is None and run.error_message is None
    assert run.compile_diagnostics is not None and run.compile_diagnostics.errors == []
    recorded = fake.requests_matching("POST", MODEL_RUNS_PATH)[-1]
    assert recorded.json == {
        "project_name": "analytics",
        "model_names": ["stg_orders"],
        "full_refresh": False,
    }
    assert recorded.header("X-API-Key") == REDACTED and recorded.header("Authorization") is None

    await api.trigger(
        creds, project_name="analytics", target_catalog="lake", target_schema="marts", full_refresh=True
    )
    assert fake.requests_matching("POST", MODEL_RUNS_PATH)[-1].json == {
        "project_name": "analytics",
        "target_catalog": "lake",
        "target_schema": "marts",
        "full_refresh": True,
    }

    clock.advance(100.0)
    done = await api.get(creds, run.id)
    assert done.id == run.id and done.status == "SUCCESS" and done.terminal
    assert done.started_at is not None and done.finished_at is not None


async def test_bearer_token_auth(fake: ModelsApiFake, api: ModelsApiClient) -> None:
    creds = ModelsApiCredentials.from_secret({"bearerToken": TOKEN})
    run = await api.trigger(creds, project_name="analytics")
    assert run.triggered_by == f"bearer:{TOKEN[:4]}…"
    recorded = fake.requests_matching("POST", MODEL_RUNS_PATH)[-1]
    assert recorded.header("Authorization") == f"Bearer {REDACTED}" and recorded.header("X-API-Key") is None
    assert (await api.get(creds, run.id)).id == run.id


async def test_wrong_credentials_raise_authentication_error(api: ModelsApiClient) -> None:
    wrong = ModelsApiCredentials.from_secret({"apiKey": "not-the-key"})
    with pytest.raises(AuthenticationError) as caught:
        await api.get(wrong, MISSING)
    assert caught.value.status == 401 and "not-the-key" not in str(caught.value)


async def test_unknown_run_raises_not_found(api: ModelsApiClient, creds: ModelsApiCredentials) -> None:
    with pytest.raises(NotFoundError) as caught:
        await api.get(creds, MISSING)
    assert caught.value.status == 404 and caught.value.code == "404"
    with pytest.raises(NotFoundError):
        await api.steps(creds, MISSING)
    with pytest.raises(NotFoundError):
        await api.cancel(creds, MISSING)


async def test_list_follows_page_tokens(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials
) -> None:
    seeded = [fake.seed_run(f"p{i}", status="SUCCESS", age_seconds=1_000 - i)["id"] for i in range(250)]
    fake.clear_requests()
    listed = [run.id async for run in api.list(creds, max_results=100)]
    assert listed == list(reversed(seeded))  # all of them, newest first, none twice
    pages = fake.requests_matching("GET", MODEL_RUNS_PATH)
    assert len(pages) == 3
    assert "page_token" not in pages[0].query
    assert all(p.query["max_results"] == "100" and "page_token" in p.query for p in pages[1:])


async def test_list_by_status_and_stop_early(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials
) -> None:
    running = fake.seed_run("p", status="RUNNING")["id"]
    for _ in range(5):
        fake.seed_run("p", status="FAILED", age_seconds=10)
    assert [r.id async for r in api.list(creds, status="RUNNING")] == [running]
    assert len([r async for r in api.list(creds, status="FAILED", max_results=2)]) == 5
    assert [r async for r in api.list(creds, status="CANCELLED")] == []
    fake.clear_requests()
    async for run in api.list(creds, max_results=2):
        assert run.id == running
        break
    assert len(fake.requests_matching("GET", MODEL_RUNS_PATH)) == 1  # lazy: one page for one item


async def test_list_rejects_a_token_that_repeats(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials
) -> None:
    page = {"data": [], "next_page_token": "same"}
    fake.faults.respond(200, page, times=2, method="GET", path=MODEL_RUNS_PATH)
    with pytest.raises(MalformedResponseError):
        _ = [r async for r in api.list(creds)]


async def test_cancel_then_cancel_a_terminal_run(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials, clock: ManualClock
) -> None:
    run = await api.trigger(creds, project_name="analytics")
    clock.advance(2.0)
    cancelled = await api.cancel(creds, run.id)
    assert cancelled is not None and cancelled.status == "CANCELLED" and cancelled.finished_at is not None
    assert await api.cancel(creds, run.id) is None  # already terminal (400): the caller re-reads
    fake.cancel_conflict_status = 409
    assert await api.cancel(creds, run.id) is None
    assert (await api.get(creds, run.id)).status == "CANCELLED"
    assert [r.status for r in fake.requests_matching("POST", CANCEL_PATH)] == [200, 400, 409]
    steps = await api.steps(creds, run.id)
    assert {s.status for s in steps} == {"CANCELLED"}


async def test_steps_and_test_results(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials, clock: ManualClock
) -> None:
    fake.script(
        "^shop$",
        models={"stg": [], "fct": ["stg"], "rpt": ["fct"]},
        fail_models={"fct"},
        tests={"stg": [("not_null_id", "PASS"), ("unique_id", "FAIL"), ("fk", "ERROR")]},
    )
    run = await api.trigger(creds, project_name="shop")
    clock.advance(100.0)
    final = await api.get(creds, run.id)
    assert final.status == "FAILED" and final.error_message is not None and "fct" in final.error_message
    steps = await api.steps(creds, run.id)
    assert [(s.model_name, s.status) for s in steps] == [
        ("stg", "SUCCESS"),
        ("fct", "FAILED"),
        ("rpt", "SKIPPED"),
    ]
    assert steps[0].rows_affected is not None and steps[1].rows_affected is None
    assert steps[1].depends_on == ["stg"] and steps[1].run_id == run.id
    results = await api.test_results(creds, run.id, steps[0].id)
    assert [(t.test_name, t.status) for t in results] == [
        ("not_null_id", "PASS"),
        ("unique_id", "FAIL"),
        ("fk", "ERROR"),
    ]
    assert results[0].rows_returned == 0 and results[2].rows_returned is None and results[2].error_message
    assert await api.test_results(creds, run.id, steps[2].id) == []
    with pytest.raises(NotFoundError):
        await api.test_results(creds, run.id, MISSING)


# ---------------------------------------------------------------------------------------------- errors


async def test_compile_error_is_permanent_with_the_upstream_message(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials
) -> None:
    fake.fail_compile("^broken$", "model fct: unknown column 'amount'")
    with pytest.raises(PermanentUpstreamError) as caught:
        await api.trigger(creds, project_name="broken")
    error = caught.value
    assert not isinstance(error, NotFoundError | AuthenticationError)
    assert error.status == 400
    assert error.message == "Compilation failed: model fct: unknown column 'amount'"
    assert len(fake.requests_matching("POST", MODEL_RUNS_PATH)) == 1  # never retried


async def test_text_plain_500_is_transient_after_retries(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials
) -> None:
    run = await api.trigger(creds, project_name="analytics")
    fake.faults.respond(500, "panic: runtime error: index out of range\n", times=None, path=MODEL_RUN_PATH)
    with pytest.raises(TransientUpstreamError) as caught:
        await api.get(creds, run.id)
    assert caught.value.status == 500
    assert "panic: runtime error" in caught.value.message
    assert len(fake.requests_matching("GET", MODEL_RUN_PATH)) == POLICY.max_attempts
    fake.faults.clear()
    assert (await api.get(creds, run.id)).id == run.id


async def test_a_trigger_is_not_retried_after_a_5xx(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials
) -> None:
    fake.faults.server_error(502, method="POST", path=MODEL_RUNS_PATH)
    with pytest.raises(TransientUpstreamError):
        await api.trigger(creds, project_name="analytics")
    assert len(fake.requests_matching("POST", MODEL_RUNS_PATH)) == 1  # it may have been processed


async def test_transient_read_errors_are_retried(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials
) -> None:
    run = await api.trigger(creds, project_name="analytics")
    fake.faults.server_error(503, times=1, path=STEPS_PATH)
    fake.faults.reset(times=1, path=STEPS_PATH)
    assert len(await api.steps(creds, run.id)) == 3
    assert [r.status for r in fake.requests_matching("GET", STEPS_PATH)] == [503, 0, 200]


async def test_malformed_bodies_raise_malformed_response_error(
    fake: ModelsApiFake, api: ModelsApiClient, creds: ModelsApiCredentials
) -> None:
    run = await api.trigger(creds, project_name="analytics")
    fake.faults.malformed(times=None, path=MODEL_RUN_PATH)
    with pytest.raises(MalformedResponseError):
        await api.get(creds, run.id)
    fake.faults.clear()
    fake.faults.respond(200, {"id": run.id}, times=1, path=MODEL_RUN_PATH)  # no status
    with pytest.raises(MalformedResponseError) as caught:
        await api.get(creds, run.id)
    assert "status" in caught.value.message
    fake.faults.respond(200, {"data": {"not": "a list"}}, times=1, path=STEPS_PATH)
    with pytest.raises(MalformedResponseError):
        await api.steps(creds, run.id)


async def test_429_retry_after_is_honoured(fake: ModelsApiFake, creds: ModelsApiCredentials) -> None:
    fake.rate_limit_config(1.0, 1)  # one request, then one per second (on the real clock)
    policy = POLICY.model_copy(update={"max_attempts": 4})
    http = UpstreamHTTP(UPSTREAM, fake.url, policy)
    try:
        api = ModelsApiClient(http)
        first = await api.trigger(creds, project_name="analytics")
        second = await api.trigger(creds, project_name="analytics")  # a 429 was never processed: retried
    finally:
        await http.aclose()
    assert first.id != second.id
    posts = fake.requests_matching("POST", MODEL_RUNS_PATH)
    statuses = [r.status for r in posts]
    assert statuses[:2] == [201, 429] and statuses[-1] == 201 and set(statuses[2:-1]) <= {429}
    limited, retry = posts[1], posts[2]
    assert retry.at - limited.at >= 1.0 - 0.005  # Retry-After: 1 (timer resolution tolerance)
    assert fake.count_triggers() == 2
