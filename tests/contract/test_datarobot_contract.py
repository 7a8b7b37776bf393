"""Contract tests: the fake DataRobot GenAI build API against the facts of UPSTREAMS.md §4.

DataRobot has no offline spec, so the JSON Schemas below are written from those facts. Every body the fake
gives is validated against them. Lifecycles are driven by a ManualClock, never real time; redirects are never
followed (the 303 *is* the answer).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from modelops_sandbox.fakes import ManualClock
from modelops_sandbox.fakes.datarobot import (
    CUSTOM_MODEL_PATH,
    CUSTOM_MODEL_VERSIONS_PATH,
    STATUS_PATH,
    DataRobotFake,
    make_object_id,
)

OBJECT_ID = r"^[0-9a-f]{24}$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
IN_PROGRESS = ["INITIALIZED", "RUNNING"]
FAILURES = ["ERROR", "ABORTED", "EXPIRED"]

# GET /api/v2/genai/status/{statusId}/ -> 200: {code, created, description, message, status, statusId,
# statusType}; failures carry code 1 and a message.
STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "integer", "enum": [0, 1]},
        "created": {"type": "string", "format": "date-time"},
        "description": {"type": "string"},
        "message": {"type": ["string", "null"]},
        "status": {"enum": [*IN_PROGRESS, "COMPLETED", *FAILURES]},
        "statusId": {"type": "string", "pattern": UUID},
        "statusType": {"type": "string", "minLength": 1},
    },
    "required": ["code", "created", "description", "message", "status", "statusId", "statusType"],
    "additionalProperties": False,
    "if": {"properties": {"status": {"enum": FAILURES}}},
    "then": {"properties": {"code": {"const": 1}, "message": {"type": "string", "minLength": 1}}},
    "else": {"properties": {"code": {"const": 0}}},
}

# POST /api/v2/genai/customModelVersions/ -> 202 {"customModelId": "..."}
ACCEPTED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"customModelId": {"type": "string", "pattern": OBJECT_ID}},
    "required": ["customModelId"],
    "additionalProperties": False,
}

# 422, FastAPI's shape: {"detail": [{"loc": [...], "msg": "...", "type": "..."}]}
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "minItems": 1, "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string", "minLength": 1},
                    "type": {"type": "string", "minLength": 1},
                },
                "required": ["loc", "msg", "type"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["detail"],
    "additionalProperties": False,
}

# Other errors: {"message": "..."}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"message": {"type": "string", "minLength": 1}},
    "required": ["message"],
    "additionalProperties": False,
}

# GET /api/v2/customModels/{customModelId}/ -> the minimal view the operator uses
CUSTOM_MODEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": OBJECT_ID},
        "name": {"type": "string"},
        "latestVersion": {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"id": {"type": "string", "pattern": OBJECT_ID}},
                    "required": ["id"],
                },
                {"type": "null"},
            ]
        },
    },
    "required": ["id", "name", "latestVersion"],
}


class Contract:
    def __init__(self, make: Callable[..., Draft202012Validator]) -> None:
        self.status = make({}, STATUS_SCHEMA, strict=False)
        self.accepted_body = make({}, ACCEPTED_SCHEMA, strict=False)
        self.validation = make({}, VALIDATION_ERROR_SCHEMA, strict=False)
        self.error = make({}, ERROR_SCHEMA, strict=False)
        self.model = make({}, CUSTOM_MODEL_SCHEMA, strict=False)

    def accepted(self, response: httpx.Response, base_url: str) -> tuple[str, str]:
        """Check a 202 and return ``(customModelId, statusId)``."""
        assert response.status_code == 202, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        self.accepted_body.validate(body)
        location = response.headers["Location"]
        match = re.fullmatch(re.escape(base_url) + r"/api/v2/genai/status/([^/]+)/", location)
        assert match, location
        assert re.fullmatch(UUID, match.group(1))
        return body["customModelId"], match.group(1)

    def polled(self, response: httpx.Response, status: str | None = None) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        self.status.validate(body)
        if status is not None:
            assert body["status"] == status
        return body

    def invalid(self, response: httpx.Response) -> list[dict[str, Any]]:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        self.validation.validate(body)
        detail: list[dict[str, Any]] = body["detail"]
        return detail

    def failed(self, response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        self.error.validate(body)
        message: str = body["message"]
        return message


@pytest.fixture(scope="module")
def contract(openapi_validator: Any) -> Contract:
    return Contract(openapi_validator)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(5_000.0)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[DataRobotFake]:
    async with DataRobotFake(clock=clock) as server:
        yield server


@pytest.fixture
def token(fake: DataRobotFake) -> str:
    return fake.new_token()


@pytest.fixture
def blueprint(fake: DataRobotFake) -> str:
    return fake.new_blueprint()


@pytest.fixture
async def client(fake: DataRobotFake, token: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=fake.url, headers=headers, timeout=5.0, follow_redirects=False
    ) as http:
        yield http


async def start(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await client.post("/api/v2/genai/customModelVersions/", json=body)


def status_path(status_id: str) -> str:
    return f"/api/v2/genai/status/{status_id}/"


def model_path(custom_model_id: str) -> str:
    return f"/api/v2/customModels/{custom_model_id}/"


# ------------------------------------------------------------------------------------------ the schemas


def test_schemas_reject_what_the_contract_rules_out(contract: Contract) -> None:
    good = {
        "code": 0,
        "created": "2024-05-01T10:00:00.000000Z",
        "description": "d",
        "message": None,
        "status": "RUNNING",
        "statusId": str(uuid.uuid4()),
        "statusType": "t",
    }
    assert contract.status.is_valid(good)
    assert not contract.status.is_valid({**good, "extra": 1})
    assert not contract.status.is_valid({k: v for k, v in good.items() if k != "statusType"})
    assert not contract.status.is_valid({**good, "status": "DONE"})
    assert not contract.status.is_valid({**good, "status": "ERROR"})  # a failure needs code 1 and a message
    assert not contract.status.is_valid({**good, "status": "ERROR", "code": 1})
    assert contract.status.is_valid({**good, "status": "ERROR", "code": 1, "message": "boom"})
    assert not contract.status.is_valid({**good, "code": 1})
    assert not contract.status.is_valid({**good, "created": "yesterday"})
    assert not contract.accepted_body.is_valid({"customModelId": "x"})
    assert not contract.validation.is_valid({"detail": []})
    assert not contract.validation.is_valid({"detail": [{"loc": ["body"], "msg": "m"}]})


# ------------------------------------------------------------------------------------------ start a build


async def test_start_answers_202_with_location_of_the_status(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, blueprint: str
) -> None:
    body = {
        "llmBlueprintId": blueprint,
        "promptColumnName": "question",
        "targetColumnName": "answer",
        "llmTestConfigurationIds": [make_object_id(), make_object_id()],
    }
    custom_model_id, status_id = contract.accepted(await start(client, body), fake.url)
    recorded = fake.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)[-1]
    assert recorded.headers["Content-Type"].startswith("application/json")
    assert recorded.json == body
    assert recorded.status == 202
    assert fake.count_creates() == 1 and fake.count_creates(blueprint) == 1
    assert fake.count_creates(make_object_id()) == 0
    assert fake.status_id_of(custom_model_id) == status_id
    # the Location is directly usable, with its trailing slash
    polled = contract.polled(await client.get(status_path(status_id)), "INITIALIZED")
    assert polled["statusId"] == status_id
    assert polled["code"] == 0 and polled["message"] == ""
    assert blueprint in polled["description"]
    assert fake.job(status_id) == polled
    assert fake.jobs == [polled]
    # the custom model exists at once, without a version until the job completes
    model = await client.get(model_path(custom_model_id))
    assert model.status_code == 200
    contract.model.validate(model.json())
    assert model.json()["id"] == custom_model_id and model.json()["latestVersion"] is None


async def test_start_defaults_the_column_names(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, blueprint: str
) -> None:
    contract.accepted(await start(client, {"llmBlueprintId": blueprint}), fake.url)
    contract.accepted(
        await start(client, {"llmBlueprintId": blueprint, "llmTestConfigurationIds": None}), fake.url
    )
    assert fake.count_creates() == 2


async def test_every_start_makes_a_new_custom_model(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, blueprint: str
) -> None:
    first = contract.accepted(await start(client, {"llmBlueprintId": blueprint}), fake.url)
    second = contract.accepted(await start(client, {"llmBlueprintId": blueprint}), fake.url)
    assert first[0] != second[0] and first[1] != second[1]
    assert [m["id"] for m in fake.custom_models] == [first[0], second[0]]


async def test_start_without_llm_blueprint_id_answers_422(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    detail = contract.invalid(await start(client, {"promptColumnName": "p"}))
    assert detail == [
        {"loc": ["body", "llmBlueprintId"], "msg": "field required", "type": "value_error.missing"}
    ]
    assert fake.count_creates() == 0


@pytest.mark.parametrize(
    "body,loc",
    [
        ({"llmBlueprintId": 42}, ["body", "llmBlueprintId"]),
        ({"llmBlueprintId": "x", "promptColumnName": 1}, ["body", "promptColumnName"]),
        ({"llmBlueprintId": "x", "targetColumnName": []}, ["body", "targetColumnName"]),
        ({"llmBlueprintId": "x", "llmTestConfigurationIds": "abc"}, ["body", "llmTestConfigurationIds"]),
        (
            {"llmBlueprintId": "x", "llmTestConfigurationIds": ["a", 2]},
            ["body", "llmTestConfigurationIds", 1],
        ),
        (["llmBlueprintId"], ["body"]),
    ],
)
async def test_start_with_wrong_types_answers_422(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, body: Any, loc: list[Any]
) -> None:
    detail = contract.invalid(await start(client, body))
    assert [item["loc"] for item in detail] == [loc]
    assert fake.count_creates() == 0


async def test_start_collects_every_problem(client: httpx.AsyncClient, contract: Contract) -> None:
    detail = contract.invalid(await start(client, {"promptColumnName": 1, "llmTestConfigurationIds": {}}))
    assert [item["loc"][-1] for item in detail] == [
        "llmBlueprintId",
        "promptColumnName",
        "llmTestConfigurationIds",
    ]


async def test_start_from_an_unknown_blueprint_answers_404(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    message = contract.failed(await start(client, {"llmBlueprintId": make_object_id()}), 404)
    assert message == "LLM blueprint not found"
    assert fake.count_creates() == 0 and fake.custom_models == []
    fake.accept_any_blueprint = True
    contract.accepted(await start(client, {"llmBlueprintId": make_object_id()}), fake.url)


async def test_blueprints_given_to_the_constructor_are_known(contract: Contract) -> None:
    async with DataRobotFake(blueprints=["bp-1"]) as fake:
        token = fake.new_token()
        async with httpx.AsyncClient(base_url=fake.url, headers={"Authorization": f"Token {token}"}) as http:
            contract.accepted(await start(http, {"llmBlueprintId": "bp-1"}), fake.url)
            contract.failed(await start(http, {"llmBlueprintId": "bp-2"}), 404)


# --------------------------------------------------------------------------------------------- the status


async def test_status_progresses_with_the_clock_to_a_303(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock, blueprint: str
) -> None:
    custom_model_id, status_id = contract.accepted(
        await start(client, {"llmBlueprintId": blueprint}), fake.url
    )
    created = contract.polled(await client.get(status_path(status_id)), "INITIALIZED")
    clock.advance(0.999)
    contract.polled(await client.get(status_path(status_id)), "INITIALIZED")
    clock.advance(0.001)
    running = contract.polled(await client.get(status_path(status_id)), "RUNNING")
    assert running["created"] == created["created"]
    assert running["code"] == 0 and running["message"] == ""
    clock.advance(1.0)
    done = await client.get(status_path(status_id))
    assert done.status_code == 303
    version_id = fake.version_id_of(custom_model_id)
    assert version_id is not None and re.fullmatch(OBJECT_ID, version_id)
    assert (
        done.headers["Location"] == f"{fake.url}/api/v2/customModels/{custom_model_id}/versions/{version_id}/"
    )
    assert fake.job(status_id) == {**created, "status": "COMPLETED"}
    # the created version is the custom model's latest one now
    model = (await client.get(model_path(custom_model_id))).json()
    contract.model.validate(model)
    assert model["latestVersion"]["id"] == version_id
    clock.advance(1_000)
    again = await client.get(status_path(status_id))
    assert again.status_code == 303 and again.headers["Location"] == done.headers["Location"]


async def test_a_client_that_follows_redirects_leaves_the_status_url(
    fake: DataRobotFake, token: str, contract: Contract, clock: ManualClock, blueprint: str
) -> None:
    """Why clients must not follow: the 303 leads away from the status (to the created version)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=fake.url, headers=headers, follow_redirects=True) as following:
        _, status_id = contract.accepted(await start(following, {"llmBlueprintId": blueprint}), fake.url)
        clock.advance(2.0)
        response = await following.get(status_path(status_id))
        assert [r.status_code for r in response.history] == [303]
        assert "/versions/" in str(response.url)


async def test_completion_200_answers_completed(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock, blueprint: str
) -> None:
    fake.script(completion="200")
    custom_model_id, status_id = contract.accepted(
        await start(client, {"llmBlueprintId": blueprint}), fake.url
    )
    clock.advance(2.0)
    done = contract.polled(await client.get(status_path(status_id)), "COMPLETED")
    assert done["code"] == 0 and done["message"] == "" and done["statusId"] == status_id
    assert "Location" not in (await client.get(status_path(status_id))).headers
    # the version is found through the custom model (its id came with the 202)
    model = (await client.get(model_path(custom_model_id))).json()
    assert model["latestVersion"]["id"] == fake.version_id_of(custom_model_id)


@pytest.mark.parametrize("outcome", FAILURES)
async def test_failures_carry_code_1_and_a_message(
    fake: DataRobotFake,
    client: httpx.AsyncClient,
    contract: Contract,
    clock: ManualClock,
    blueprint: str,
    outcome: Any,
) -> None:
    fake.script(outcome=outcome)
    custom_model_id, status_id = contract.accepted(
        await start(client, {"llmBlueprintId": blueprint}), fake.url
    )
    clock.advance(1.0)
    contract.polled(await client.get(status_path(status_id)), "RUNNING")
    clock.advance(1.0)
    failed = contract.polled(await client.get(status_path(status_id)), outcome)
    assert failed["code"] == 1 and failed["message"]
    clock.advance(1_000)
    assert contract.polled(await client.get(status_path(status_id))) == failed  # terminal
    model = (await client.get(model_path(custom_model_id))).json()
    assert model["latestVersion"] is None


async def test_scripts_match_blueprints_and_the_latest_rule_wins(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    fake.accept_any_blueprint = True
    fake.script("^bad", "ERROR", message="the first rule")
    fake.script("^bad", "ERROR", message="Deployment of the LLM failed: quota exceeded")
    fake.script("^aborted", "ABORTED")
    fake.script("^hang", "hang")
    fake.script("^slow", stage_seconds=10.0)
    ids = {}
    for name in ("ok", "bad-1", "aborted-1", "hang-1", "slow-1"):
        ids[name] = contract.accepted(await start(client, {"llmBlueprintId": name}), fake.url)[1]
    clock.advance(2.0)
    assert (await client.get(status_path(ids["ok"]))).status_code == 303
    bad = contract.polled(await client.get(status_path(ids["bad-1"])), "ERROR")
    assert bad["message"] == "Deployment of the LLM failed: quota exceeded"
    assert contract.polled(await client.get(status_path(ids["aborted-1"])), "ABORTED")["message"]
    contract.polled(await client.get(status_path(ids["hang-1"])), "RUNNING")
    contract.polled(await client.get(status_path(ids["slow-1"])), "INITIALIZED")
    clock.advance(3_600.0)
    contract.polled(await client.get(status_path(ids["hang-1"])), "RUNNING")
    assert (await client.get(status_path(ids["slow-1"]))).status_code == 303
    assert [job["status"] for job in fake.jobs] == ["COMPLETED", "ERROR", "ABORTED", "RUNNING", "COMPLETED"]
    fake.clear_scripts()
    with pytest.raises(ValueError):
        fake.script(outcome="done")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fake.script(completion="302")  # type: ignore[arg-type]


@pytest.mark.parametrize("status_id", ["not-a-uuid", "12345", "65f1c0ffee0123456789abcd", "0" * 36])
async def test_a_malformed_status_id_answers_422(
    client: httpx.AsyncClient, contract: Contract, status_id: str
) -> None:
    detail = contract.invalid(await client.get(status_path(status_id)))
    assert len(detail) == 1 and detail[0]["loc"] == ["path", "statusId"]


async def test_an_unknown_status_id_answers_404(client: httpx.AsyncClient, contract: Contract) -> None:
    contract.failed(await client.get(status_path(str(uuid.uuid4()))), 404)


async def test_the_trailing_slash_is_part_of_the_path(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, blueprint: str
) -> None:
    _, status_id = contract.accepted(await start(client, {"llmBlueprintId": blueprint}), fake.url)
    assert (await client.get(f"/api/v2/genai/status/{status_id}")).status_code == 404
    contract.polled(await client.get(status_path(status_id.upper())))  # a UUID in any case


# ---------------------------------------------------------------------------------------- custom models


async def test_delete_answers_204_then_404(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, blueprint: str
) -> None:
    custom_model_id, _ = contract.accepted(await start(client, {"llmBlueprintId": blueprint}), fake.url)
    response = await client.delete(model_path(custom_model_id))
    assert response.status_code == 204 and response.content == b""
    contract.failed(await client.delete(model_path(custom_model_id)), 404)
    contract.failed(await client.get(model_path(custom_model_id)), 404)
    assert fake.custom_models == [] and fake.custom_model(custom_model_id) is None
    assert fake.count_creates() == 1
    assert [r.status for r in fake.requests_matching("DELETE", CUSTOM_MODEL_PATH)] == [204, 404]


async def test_out_of_band_deletion(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, blueprint: str
) -> None:
    kept, _ = contract.accepted(await start(client, {"llmBlueprintId": blueprint}), fake.url)
    gone, _ = contract.accepted(await start(client, {"llmBlueprintId": blueprint}), fake.url)
    fake.delete_out_of_band(gone)
    contract.failed(await client.get(model_path(gone)), 404)
    assert [m["id"] for m in fake.custom_models] == [kept]
    assert fake.custom_model(kept) == (await client.get(model_path(kept))).json()
    with pytest.raises(KeyError):
        fake.delete_out_of_band(gone)


# ---------------------------------------------------------------------------------------------------- auth


async def test_bearer_and_token_schemes_are_both_accepted(
    fake: DataRobotFake, token: str, contract: Contract, blueprint: str
) -> None:
    async with httpx.AsyncClient(base_url=fake.url) as http:
        for scheme in ("Bearer", "Token", "bearer"):
            response = await http.post(
                "/api/v2/genai/customModelVersions/",
                json={"llmBlueprintId": blueprint},
                headers={"Authorization": f"{scheme} {token}"},
            )
            contract.accepted(response, fake.url)
    recorded = fake.requests_matching("POST", CUSTOM_MODEL_VERSIONS_PATH)
    assert [r.headers["Authorization"] for r in recorded] == [
        "Bearer REDACTED",
        "Token REDACTED",
        "bearer REDACTED",
    ]
    assert all(r.principal == "token-1" for r in recorded)
    assert token not in repr(fake.requests)


async def test_auth_failures_answer_401(
    fake: DataRobotFake, token: str, contract: Contract, blueprint: str
) -> None:
    fake.add_token("second-token")
    attempts: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": token},
        {"Authorization": "Bearer"},
        {"X-Api-Key": token},
    ]
    async with httpx.AsyncClient(base_url=fake.url) as http:
        for headers in attempts:
            response = await http.post(
                "/api/v2/genai/customModelVersions/", json={"llmBlueprintId": blueprint}, headers=headers
            )
            contract.failed(response, 401)
            contract.failed(await http.get(status_path(str(uuid.uuid4())), headers=headers), 401)
        ok = await http.get(model_path(make_object_id()), headers={"Authorization": "Token second-token"})
        contract.failed(ok, 404)  # authenticated: the model just does not exist
    assert fake.count_creates() == 0
    with pytest.raises(ValueError):
        fake.add_token("has space")


# -------------------------------------------------------------------------------------------------- faults


async def test_rate_limit_with_and_without_retry_after(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract, blueprint: str
) -> None:
    handle = fake.faults.rate_limit(times=1, retry_after=3, method="POST", path=CUSTOM_MODEL_VERSIONS_PATH)
    limited = await start(client, {"llmBlueprintId": blueprint})
    contract.failed(limited, 429)
    assert limited.headers["Retry-After"] == "3"
    assert handle.exhausted and fake.count_creates() == 0  # never processed
    fake.faults.rate_limit(times=1, retry_after=None)
    bare = await start(client, {"llmBlueprintId": blueprint})
    contract.failed(bare, 429)
    assert "Retry-After" not in bare.headers
    contract.accepted(await start(client, {"llmBlueprintId": blueprint}), fake.url)
    assert [r.status for r in fake.requests_matching("POST")] == [429, 429, 202]
    assert [r.fault for r in fake.requests_matching("POST")] == ["respond", "respond", None]


@pytest.mark.parametrize("status", [413, 502, 503, 504])
async def test_retryable_statuses_use_the_error_shape(
    fake: DataRobotFake,
    client: httpx.AsyncClient,
    contract: Contract,
    blueprint: str,
    status: int,
) -> None:
    _, status_id = contract.accepted(await start(client, {"llmBlueprintId": blueprint}), fake.url)
    fake.faults.server_error(status, times=1, method="GET", path=STATUS_PATH, retry_after=2)
    failed = await client.get(status_path(status_id))
    contract.failed(failed, status)
    assert failed.headers["Retry-After"] == "2"
    contract.polled(await client.get(status_path(status_id)))


async def test_a_422_fault_uses_the_validation_shape(
    fake: DataRobotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.faults.server_error(422, times=1)
    contract.invalid(await client.get(status_path(str(uuid.uuid4()))))


async def test_gate_holds_the_202_after_the_build_started(
    fake: DataRobotFake, token: str, contract: Contract, blueprint: str
) -> None:
    """The crash window the operator must survive: the upstream acted, the answer never arrived."""
    gate = fake.gate("POST", CUSTOM_MODEL_VERSIONS_PATH)
    async with httpx.AsyncClient(base_url=fake.url, headers={"Authorization": f"Bearer {token}"}) as http:
        pending = asyncio.create_task(start(http, {"llmBlueprintId": blueprint}))
        held = await gate.wait_arrived()
        assert held.status == 202 and fake.count_creates() == 1
        gate.release(respond=False)
        with pytest.raises(httpx.TransportError):
            await pending
    assert len(fake.custom_models) == 1
