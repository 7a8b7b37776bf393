"""Contract tests: the fake Models API (model runs) against the project's own schemas of UPSTREAMS.md §3.

The vendor's spec may not be copied into the project, so the JSON Schemas below are written from the facts in
UPSTREAMS.md: the documented field sets (nothing more), enums, uuids, ISO 8601 ``Z`` timestamps, and no nulls
(optional fields are omitted). Every body the fake answers is validated. Time is a ManualClock: no waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from modelops_sandbox.fakes.base import REDACTED, ManualClock
from modelops_sandbox.fakes.models_api import (
    CANCEL_PATH,
    DEFAULT_MODELS,
    MODEL_RUN_PATH,
    MODEL_RUNS_PATH,
    ModelsApiFake,
    RunStatus,
)

UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
RUN_STATUSES: list[RunStatus] = ["PENDING", "RUNNING", "SUCCESS", "FAILED", "CANCELLED"]
STEP_STATUSES = ["PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED", "CANCELLED"]
TEST_STATUSES = ["PASS", "FAIL", "ERROR"]

_ID: dict[str, Any] = {"type": "string", "pattern": UUID}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^\S+$"}
_MESSAGE: dict[str, Any] = {"type": "string", "minLength": 1}
_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string", "minLength": 1}}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}


def _obj(properties: dict[str, Any], required: list[str], *rules: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if rules:
        schema["allOf"] = list(rules)
    return schema


def _when(field: str, values: list[str], then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {field: {"enum": values}}, "required": [field]}, "then": then}


MODEL_RUN_SCHEMA = _obj(
    {
        "id": _ID,
        "status": {"type": "string", "enum": RUN_STATUSES},
        "trigger_type": {"type": "string", "enum": ["MANUAL", "SCHEDULED"]},
        "triggered_by": {"type": "string", "minLength": 1, "pattern": r"^\S+$"},
        "project_name": _NAME,
        "model_names": _STRINGS,
        "full_refresh": {"type": "boolean"},
        "started_at": _TIME,
        "finished_at": _TIME,
        "created_at": _TIME,
        "error_message": _MESSAGE,
        "compile_diagnostics": _obj({"warnings": _STRINGS, "errors": _STRINGS}, ["warnings", "errors"]),
    },
    ["id", "status", "trigger_type", "triggered_by", "project_name", "full_refresh", "created_at"],
    _when(
        "status",
        ["PENDING"],
        {"not": {"anyOf": [{"required": ["started_at"]}, {"required": ["finished_at"]}]}},
    ),
    _when("status", ["RUNNING"], {"required": ["started_at"], "not": {"required": ["finished_at"]}}),
    _when("status", ["SUCCESS", "FAILED"], {"required": ["started_at", "finished_at"]}),
    _when("status", ["CANCELLED"], {"required": ["finished_at"]}),
    _when("status", ["FAILED"], {"required": ["error_message"]}),
    _when("status", ["PENDING", "RUNNING", "SUCCESS"], {"not": {"required": ["error_message"]}}),
)

MODEL_RUN_STEP_SCHEMA = _obj(
    {
        "id": _ID,
        "run_id": _ID,
        "model_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "status": {"type": "string", "enum": STEP_STATUSES},
        "rows_affected": _COUNT,
        "error_message": _MESSAGE,
        "started_at": _TIME,
        "finished_at": _TIME,
        "depends_on": _STRINGS,
    },
    ["id", "run_id", "model_name", "status", "depends_on"],
    _when("status", ["SUCCESS"], {"required": ["started_at", "finished_at", "rows_affected"]}),
    _when("status", ["FAILED"], {"required": ["started_at", "finished_at", "error_message"]}),
    _when("status", ["RUNNING"], {"required": ["started_at"], "not": {"required": ["finished_at"]}}),
    _when(
        "status",
        ["PENDING"],
        {"not": {"anyOf": [{"required": ["started_at"]}, {"required": ["finished_at"]}]}},
    ),
    _when("status", ["SKIPPED"], {"not": {"required": ["started_at"]}}),
)

MODEL_TEST_RESULT_SCHEMA = _obj(
    {
        "id": _ID,
        "run_step_id": _ID,
        "test_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "status": {"type": "string", "enum": TEST_STATUSES},
        "rows_returned": _COUNT,
        "error_message": _MESSAGE,
    },
    ["id", "run_step_id", "test_name", "status"],
    _when("status", ["FAIL", "ERROR"], {"required": ["error_message"]}),
)

RUN_LIST_SCHEMA = _obj(
    {
        "data": {"type": "array", "items": MODEL_RUN_SCHEMA},
        "next_page_token": {"type": "string", "pattern": r"^\S+$"},
    },
    ["data"],
)
STEP_LIST_SCHEMA = _obj({"data": {"type": "array", "items": MODEL_RUN_STEP_SCHEMA}}, ["data"])
TEST_RESULT_LIST_SCHEMA = _obj({"data": {"type": "array", "items": MODEL_TEST_RESULT_SCHEMA}}, ["data"])
ERROR_SCHEMA = _obj(
    {"code": {"type": "integer", "minimum": 100, "maximum": 599}, "message": _MESSAGE}, ["code", "message"]
)

ALL_SCHEMAS = {
    "ModelRun": MODEL_RUN_SCHEMA,
    "ModelRunStep": MODEL_RUN_STEP_SCHEMA,
    "ModelTestResult": MODEL_TEST_RESULT_SCHEMA,
    "RunList": RUN_LIST_SCHEMA,
    "StepList": STEP_LIST_SCHEMA,
    "TestResultList": TEST_RESULT_LIST_SCHEMA,
    "Error": ERROR_SCHEMA,
}


class Contract:
    """Validators of every response shape; each helper checks the status, the media type and the body."""

    def __init__(self, make: Callable[..., Draft202012Validator]) -> None:
        self.v = {name: make({}, schema, strict=False) for name, schema in ALL_SCHEMAS.items()}

    def _json(self, response: httpx.Response, status: int, schema: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        self.v[schema].validate(body)
        return body

    def run(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        return self._json(response, status, "ModelRun")

    def runs(self, response: httpx.Response) -> dict[str, Any]:
        return self._json(response, 200, "RunList")

    def steps(self, response: httpx.Response) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._json(response, 200, "StepList")["data"]
        return data

    def tests(self, response: httpx.Response) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._json(response, 200, "TestResultList")["data"]
        return data

    def error(self, response: httpx.Response, status: int) -> str:
        body = self._json(response, status, "Error")
        assert body["code"] == status
        message: str = body["message"]
        return message


@pytest.fixture(scope="module")
def contract(openapi_validator: Any) -> Contract:
    return Contract(openapi_validator)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(5_000.0)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[ModelsApiFake]:
    async with ModelsApiFake(clock=clock, pending_seconds=2.0, step_seconds=10.0) as server:
        yield server


API_KEY = "mk_contract_key_0123456789"
TOKEN = "tok_contract_0123456789abcdef"


@pytest.fixture
async def client(fake: ModelsApiFake) -> AsyncIterator[httpx.AsyncClient]:
    fake.add_api_key(API_KEY)
    fake.add_bearer_token(TOKEN)
    async with httpx.AsyncClient(base_url=fake.url, headers={"X-API-Key": API_KEY}, timeout=5.0) as http:
        yield http


async def trigger(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/v1/model-runs", json=body)


async def steps_of(client: httpx.AsyncClient, contract: Contract, run_id: str) -> dict[str, dict[str, Any]]:
    return {s["model_name"]: s for s in contract.steps(await client.get(f"/v1/model-runs/{run_id}/steps"))}


# ------------------------------------------------------------------------------------------ the schemas


def test_the_schemas_are_strict_and_have_no_nulls(contract: Contract) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert node.get("type") != "null" and "null" not in (node.get("type") or []), node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for schema in ALL_SCHEMAS.values():
        walk(schema)
    run = {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "status": "FAILED",
        "trigger_type": "MANUAL",
        "triggered_by": "admin",
        "project_name": "analytics",
        "full_refresh": False,
        "created_at": "2025-01-15T10:00:00Z",
        "started_at": "2025-01-15T10:00:01Z",
        "finished_at": "2025-01-15T10:05:00Z",
        "error_message": "1 model failed: fct_orders",
    }
    validator = contract.v["ModelRun"]
    validator.validate(run)
    assert not validator.is_valid({**run, "model_names": None})  # no nulls: omitted instead
    assert not validator.is_valid({**run, "compile_manifest": "{}"})  # nothing outside §3
    assert not validator.is_valid({**run, "status": "DONE"})
    assert not validator.is_valid({**run, "id": "not-a-uuid"})
    assert not validator.is_valid({**run, "created_at": "2025-01-15T10:00:00+00:00"})
    assert not validator.is_valid({k: v for k, v in run.items() if k != "error_message"})  # FAILED says why


# ---------------------------------------------------------------------------------------------- trigger


async def test_trigger_answers_201_pending_with_only_documented_fields(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    response = await trigger(client, project_name="analytics", model_names=["stg_orders", "fct_orders"])
    run = contract.run(response, 201)
    assert run["status"] == "PENDING"
    assert run["trigger_type"] == "MANUAL"
    assert run["project_name"] == "analytics"
    assert run["model_names"] == ["stg_orders", "fct_orders"]
    assert run["full_refresh"] is False
    assert run["compile_diagnostics"] == {"warnings": [], "errors": []}
    assert "started_at" not in run and "finished_at" not in run and "error_message" not in run
    assert None not in run.values()
    # the principal names the key without revealing it
    assert run["triggered_by"] == f"api-key:{API_KEY[:4]}…"
    assert API_KEY not in response.text
    # what was sent is recorded, the credential redacted
    recorded = fake.requests_matching("POST", MODEL_RUNS_PATH)[-1]
    assert recorded.json == {"project_name": "analytics", "model_names": ["stg_orders", "fct_orders"]}
    assert recorded.header("X-API-Key") == REDACTED
    assert recorded.principal == run["triggered_by"]
    assert (
        fake.count_triggers() == 1 and fake.count_triggers("analytics") == 1 and fake.count_triggers("x") == 0
    )
    assert fake.run(run["id"]) == run
    assert contract.run(await client.get(f"/v1/model-runs/{run['id']}")) == run


async def test_trigger_defaults_and_every_post_is_a_new_run(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    first = contract.run(await trigger(client, project_name="analytics"), 201)
    second = contract.run(
        await trigger(
            client,
            project_name="analytics",
            target_catalog="lake",
            target_schema="marts",
            full_refresh=True,
        ),
        201,
    )
    assert first["id"] != second["id"]
    assert "model_names" not in first  # the whole project: nothing named
    assert second["full_refresh"] is True
    assert fake.count_triggers("analytics") == 2
    steps = await steps_of(client, contract, first["id"])
    assert list(steps) == ["stg_customers", "stg_orders", "fct_orders"]  # DEFAULT_MODELS, dependency order
    assert steps["fct_orders"]["depends_on"] == list(DEFAULT_MODELS["fct_orders"])


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"project_name": "analytics", "schedule": "daily"}, "schedule"),
        ({"project_name": "analytics", "idempotency_key": "k"}, "idempotency_key"),
        ({"model_names": ["a"]}, "project_name"),
        ({"project_name": "has space"}, "project_name"),
        ({"project_name": ""}, "project_name"),
        ({"project_name": "p" * 256}, "project_name"),
        ({"project_name": 7}, "project_name"),
        ({"project_name": "analytics", "model_names": "stg_orders"}, "model_names"),
        ({"project_name": "analytics", "model_names": [""]}, "model name"),
        ({"project_name": "analytics", "full_refresh": "yes"}, "full_refresh"),
        ({"project_name": "analytics", "target_schema": None}, "target_schema"),
        ({"project_name": "analytics", "target_catalog": "a b"}, "target_catalog"),
    ],
)
async def test_invalid_trigger_bodies_answer_400(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, body: dict[str, Any], fragment: str
) -> None:
    message = contract.error(await client.post("/v1/model-runs", json=body), 400)
    assert fragment in message
    assert fake.count_triggers() == 0 and fake.runs == []


async def test_a_project_name_of_255_characters_is_accepted(
    client: httpx.AsyncClient, contract: Contract
) -> None:
    contract.run(await trigger(client, project_name="p" * 255), 201)


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2"])
async def test_malformed_json_answers_400_text_plain(
    fake: ModelsApiFake, client: httpx.AsyncClient, raw: bytes
) -> None:
    response = await client.post("/v1/model-runs", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "JSON" in response.text
    assert fake.runs == []


async def test_compile_failures_answer_400(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.fail_compile(r"^broken", "model fct_orders: syntax error near 'FORM'")
    message = contract.error(await trigger(client, project_name="broken-project"), 400)
    assert message == "Compilation failed: model fct_orders: syntax error near 'FORM'"
    contract.run(await trigger(client, project_name="fine"), 201)
    # a project with declared models rejects a model it does not have
    fake.script("^declared$", models={"a": [], "b": ["a"]})
    message = contract.error(await trigger(client, project_name="declared", model_names=["a", "nope"]), 400)
    assert message.startswith("Compilation failed:") and "'nope'" in message
    assert fake.count_triggers() == 1
    fake.clear_scripts()
    contract.run(await trigger(client, project_name="broken-project"), 201)


# ----------------------------------------------------------------------------------------------- reads


async def test_unknown_runs_and_steps_answer_404(client: httpx.AsyncClient, contract: Contract) -> None:
    missing = "550e8400-e29b-41d4-a716-446655440999"
    contract.error(await client.get(f"/v1/model-runs/{missing}"), 404)
    contract.error(await client.get(f"/v1/model-runs/{missing}/steps"), 404)
    contract.error(await client.post(f"/v1/model-runs/{missing}/cancel"), 404)
    contract.error(await client.get("/v1/model-runs/not-a-uuid"), 404)
    run = contract.run(await trigger(client, project_name="analytics"), 201)
    contract.error(await client.get(f"/v1/model-runs/{run['id']}/steps/{missing}/test-results"), 404)
    contract.error(await client.get("/v1/no-such-route"), 404)


async def test_list_pages_newest_first_and_the_last_page_has_no_token(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    created = []
    for index in range(7):
        created.append(fake.seed_run(f"p{index}", status="SUCCESS")["id"])
        clock.advance(1.0)
    seen: list[str] = []
    pages = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"max_results": 3}
        if token is not None:
            params["page_token"] = token
        page = contract.runs(await client.get("/v1/model-runs", params=params))
        pages.append(page)
        seen.extend(run["id"] for run in page["data"])
        if "next_page_token" not in page:
            break
        token = page["next_page_token"]
    assert [len(p["data"]) for p in pages] == [3, 3, 1]
    assert "next_page_token" in pages[0] and "next_page_token" in pages[1]
    assert "next_page_token" not in pages[2]  # absent, not null
    assert seen == list(reversed(created))
    # the default page holds up to 100 and is the last one here
    everything = contract.runs(await client.get("/v1/model-runs"))
    assert [r["id"] for r in everything["data"]] == seen and "next_page_token" not in everything
    # an exact fit has no next page either
    exact = contract.runs(await client.get("/v1/model-runs", params={"max_results": 7}))
    assert len(exact["data"]) == 7 and "next_page_token" not in exact


async def test_pages_stay_stable_when_new_runs_arrive(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    older = [fake.seed_run("p", age_seconds=100 - i)["id"] for i in range(4)]
    first = contract.runs(await client.get("/v1/model-runs", params={"max_results": 2}))
    contract.run(await trigger(client, project_name="newer"), 201)
    second = contract.runs(
        await client.get("/v1/model-runs", params={"max_results": 2, "page_token": first["next_page_token"]})
    )
    assert [r["id"] for r in first["data"] + second["data"]] == list(reversed(older))
    assert "next_page_token" not in second


async def test_list_filters_by_status(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    ids = {status: fake.seed_run("p", status=status)["id"] for status in RUN_STATUSES}
    for status in RUN_STATUSES:
        page = contract.runs(await client.get("/v1/model-runs", params={"status": status}))
        assert [r["id"] for r in page["data"]] == [ids[status]]
        assert page["data"][0]["status"] == status
    failed = contract.runs(await client.get("/v1/model-runs", params={"status": "FAILED", "max_results": 1}))
    assert "next_page_token" not in failed


@pytest.mark.parametrize(
    "params",
    [
        {"max_results": 0},
        {"max_results": 1001},
        {"max_results": "many"},
        {"status": "DONE"},
        {"page_token": "garbage!"},
    ],
)
async def test_invalid_list_parameters_answer_400(
    client: httpx.AsyncClient, contract: Contract, params: dict[str, Any]
) -> None:
    contract.error(await client.get("/v1/model-runs", params=params), 400)


async def test_max_results_bounds_are_inclusive(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.seed_run("p")
    fake.seed_run("p")
    one = contract.runs(await client.get("/v1/model-runs", params={"max_results": 1}))
    assert len(one["data"]) == 1 and "next_page_token" in one
    contract.runs(await client.get("/v1/model-runs", params={"max_results": 1000}))


# ------------------------------------------------------------------------------------------- lifecycle


async def test_a_run_progresses_with_the_clock_through_its_dag(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    fake.script(
        "^shop$",
        models={
            "fct_orders": ["stg_orders", "stg_customers"],
            "stg_orders": [],
            "stg_customers": ["source:raw"],
        },
        rows_affected={"fct_orders": 1500},
    )
    run = contract.run(await trigger(client, project_name="shop"), 201)
    path = f"/v1/model-runs/{run['id']}"
    steps = await steps_of(client, contract, run["id"])
    # dependency order, ties in declaration order; external dependencies are reported but never wait
    assert list(steps) == ["stg_orders", "stg_customers", "fct_orders"]
    assert steps["stg_customers"]["depends_on"] == ["source:raw"]
    assert {s["status"] for s in steps.values()} == {"PENDING"}

    clock.advance(2.0)  # pending_seconds
    assert contract.run(await client.get(path))["status"] == "RUNNING"
    steps = await steps_of(client, contract, run["id"])
    assert [s["status"] for s in steps.values()] == ["RUNNING", "RUNNING", "PENDING"]

    clock.advance(10.0)  # the two staging models are done, the fact model starts only now
    steps = await steps_of(client, contract, run["id"])
    assert [s["status"] for s in steps.values()] == ["SUCCESS", "SUCCESS", "RUNNING"]
    assert steps["fct_orders"]["started_at"] == steps["stg_orders"]["finished_at"]
    assert contract.run(await client.get(path))["status"] == "RUNNING"

    clock.advance(10.0)
    done = contract.run(await client.get(path))
    assert done["status"] == "SUCCESS" and "error_message" not in done
    assert done["started_at"] < done["finished_at"]
    steps = await steps_of(client, contract, run["id"])
    assert steps["fct_orders"]["rows_affected"] == 1500
    assert all(isinstance(s["rows_affected"], int) for s in steps.values())
    assert done["finished_at"] == steps["fct_orders"]["finished_at"]


async def test_a_failed_step_skips_everything_downstream(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    fake.script(
        "^dag$",
        models={"a": [], "b": ["a"], "c": ["b"], "d": ["c", "a"], "e": ["a"], "f": []},
        fail_models={"b"},
    )
    run = contract.run(await trigger(client, project_name="dag"), 201)
    clock.advance(2.0 + 10.0 + 10.0)  # a done, then b failed
    steps = await steps_of(client, contract, run["id"])
    assert list(steps) == ["a", "b", "c", "d", "e", "f"]
    assert steps["b"]["status"] == "FAILED" and "b" in steps["b"]["error_message"]
    assert steps["c"]["status"] == steps["d"]["status"] == "SKIPPED"
    assert "started_at" not in steps["c"] and "rows_affected" not in steps["c"]
    assert steps["e"]["status"] == steps["f"]["status"] == steps["a"]["status"] == "SUCCESS"
    final = contract.run(await client.get(f"/v1/model-runs/{run['id']}"))
    assert final["status"] == "FAILED"
    assert final["error_message"] == "1 model failed: b"
    assert "rows_affected" not in steps["b"]
    # nothing changes afterwards
    clock.advance(1_000.0)
    assert contract.run(await client.get(f"/v1/model-runs/{run['id']}")) == final


async def test_only_named_models_run_and_dependencies_outside_the_run_do_not_wait(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    fake.script("^shop$", models={"a": [], "b": ["a"], "c": ["b"]})
    run = contract.run(await trigger(client, project_name="shop", model_names=["c", "b"]), 201)
    clock.advance(2.0)
    steps = await steps_of(client, contract, run["id"])
    assert list(steps) == ["b", "c"]
    assert steps["b"]["status"] == "RUNNING" and steps["c"]["status"] == "PENDING"
    # without a declared DAG, the named models run side by side
    free = contract.run(await trigger(client, project_name="free", model_names=["x", "y"]), 201)
    clock.advance(2.0)
    steps = await steps_of(client, contract, free["id"])
    assert [s["status"] for s in steps.values()] == ["RUNNING", "RUNNING"]
    assert all(s["depends_on"] == [] for s in steps.values())


async def test_test_results_pass_fail_error(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    fake.script(
        "^tested$",
        models={"orders": [], "customers": []},
        tests={
            "orders": [("not_null_order_id", "PASS"), ("unique_order_id", "FAIL"), ("fk_customer", "ERROR")],
            "customers": [("not_null_customer_id", "PASS")],
        },
    )
    run = contract.run(await trigger(client, project_name="tested"), 201)
    steps = await steps_of(client, contract, run["id"])
    orders = steps["orders"]
    results_path = f"/v1/model-runs/{run['id']}/steps/{orders['id']}/test-results"
    assert contract.tests(await client.get(results_path)) == []  # tests run after the model is built
    clock.advance(12.0)
    results = {t["test_name"]: t for t in contract.tests(await client.get(results_path))}
    assert {name: t["status"] for name, t in results.items()} == {
        "not_null_order_id": "PASS",
        "unique_order_id": "FAIL",
        "fk_customer": "ERROR",
    }
    assert all(t["run_step_id"] == orders["id"] for t in results.values())
    assert results["not_null_order_id"]["rows_returned"] == 0
    assert results["unique_order_id"]["rows_returned"] > 0
    assert "rows_returned" not in results["fk_customer"]
    # a failing test does not fail the run unless scripted
    assert contract.run(await client.get(f"/v1/model-runs/{run['id']}"))["status"] == "SUCCESS"

    fake.script(
        "^strict$",
        models={"orders": [], "report": ["orders"]},
        tests={"orders": [("t", "FAIL")]},
        tests_fail_run=True,
    )
    strict = contract.run(await trigger(client, project_name="strict"), 201)
    clock.advance(100.0)
    steps = await steps_of(client, contract, strict["id"])
    assert steps["orders"]["status"] == "FAILED" and "t" in steps["orders"]["error_message"]
    assert steps["report"]["status"] == "SKIPPED"
    failed = contract.run(await client.get(f"/v1/model-runs/{strict['id']}"))
    assert failed["status"] == "FAILED" and "orders" in failed["error_message"]
    path = f"/v1/model-runs/{strict['id']}/steps/{steps['orders']['id']}/test-results"
    assert [t["status"] for t in contract.tests(await client.get(path))] == ["FAIL"]


async def test_scripts_most_recent_match_wins_and_can_hang(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    fake.script(".*", models={"m": []}, fail_models={"m"})
    fake.script("^stuck", models={"m": []}, hang=True, warnings=["source registry is empty"])
    fake.script("^quick", models={"m": []}, step_seconds=0.5)
    failing = contract.run(await trigger(client, project_name="other"), 201)
    stuck = contract.run(await trigger(client, project_name="stuck-one"), 201)
    quick = contract.run(await trigger(client, project_name="quick-one"), 201)
    assert stuck["compile_diagnostics"] == {"warnings": ["source registry is empty"], "errors": []}
    clock.advance(2.5)
    assert contract.run(await client.get(f"/v1/model-runs/{quick['id']}"))["status"] == "SUCCESS"
    clock.advance(10_000.0)
    assert contract.run(await client.get(f"/v1/model-runs/{failing['id']}"))["status"] == "FAILED"
    assert contract.run(await client.get(f"/v1/model-runs/{stuck['id']}"))["status"] == "RUNNING"
    assert [s["status"] for s in (await steps_of(client, contract, stuck["id"])).values()] == ["RUNNING"]


# ---------------------------------------------------------------------------------------------- cancel


async def test_cancel_a_running_run_then_again(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    fake.script("^shop$", models={"a": [], "b": ["a"], "c": []})
    run = contract.run(await trigger(client, project_name="shop"), 201)
    clock.advance(2.0 + 10.0 + 5.0)  # a and c done, b running
    response = await client.post(f"/v1/model-runs/{run['id']}/cancel")
    cancelled = contract.run(response)
    assert cancelled["status"] == "CANCELLED"
    assert "started_at" in cancelled and "finished_at" in cancelled and "error_message" not in cancelled
    steps = await steps_of(client, contract, run["id"])
    assert {name: s["status"] for name, s in steps.items()} == {
        "a": "SUCCESS",
        "c": "SUCCESS",
        "b": "CANCELLED",
    }
    assert steps["b"]["finished_at"] == cancelled["finished_at"] and "started_at" in steps["b"]
    # terminal now: cancelling again is refused, and time changes nothing
    clock.advance(1_000.0)
    assert contract.run(await client.get(f"/v1/model-runs/{run['id']}")) == cancelled
    message = contract.error(await client.post(f"/v1/model-runs/{run['id']}/cancel"), 400)
    assert "CANCELLED" in message
    # the spec also allows 409 for this
    fake.cancel_conflict_status = 409
    contract.error(await client.post(f"/v1/model-runs/{run['id']}/cancel"), 409)
    assert len(fake.requests_matching("POST", CANCEL_PATH)) == 3


async def test_cancel_a_pending_run_and_refuse_finished_ones(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    pending = contract.run(await trigger(client, project_name="analytics"), 201)
    cancelled = contract.run(await client.post(f"/v1/model-runs/{pending['id']}/cancel"))
    assert cancelled["status"] == "CANCELLED" and "started_at" not in cancelled
    steps = await steps_of(client, contract, pending["id"])
    assert {s["status"] for s in steps.values()} == {"CANCELLED"}
    assert all("started_at" not in s for s in steps.values())
    finished: tuple[RunStatus, ...] = ("SUCCESS", "FAILED", "CANCELLED")
    for status in finished:
        done = fake.seed_run("p", status=status)
        contract.error(await client.post(f"/v1/model-runs/{done['id']}/cancel"), 400)


# ----------------------------------------------------------------------------------- out-of-band changes


async def test_seeded_and_out_of_band_runs(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    theirs = fake.seed_run(
        "analytics", model_names=["stg_orders"], trigger_type="SCHEDULED", triggered_by="cron"
    )
    contract.v["ModelRun"].validate(theirs)
    assert theirs["status"] == "PENDING" and theirs["trigger_type"] == "SCHEDULED"
    assert fake.count_triggers() == 0  # seeding is not a trigger
    old = fake.seed_run("analytics", status="FAILED", age_seconds=3600)
    assert old["status"] == "FAILED" and old["error_message"] == "1 model failed: fct_orders"
    contract.run(await client.get(f"/v1/model-runs/{old['id']}"))
    page = contract.runs(await client.get("/v1/model-runs"))
    assert [r["id"] for r in page["data"]] == [theirs["id"], old["id"]]

    running = fake.seed_run("p", status="RUNNING")
    clock.advance(10_000.0)
    assert contract.run(await client.get(f"/v1/model-runs/{running['id']}"))["status"] == "RUNNING"
    assert fake.cancel_out_of_band(running["id"]) is True
    assert contract.run(await client.get(f"/v1/model-runs/{running['id']}"))["status"] == "CANCELLED"
    assert fake.cancel_out_of_band(running["id"]) is False

    fake.delete_out_of_band(theirs["id"])
    contract.error(await client.get(f"/v1/model-runs/{theirs['id']}"), 404)
    assert fake.run(theirs["id"]) is None
    with pytest.raises(KeyError):
        fake.delete_out_of_band(theirs["id"])
    assert all(contract.v["ModelRun"].is_valid(r) for r in fake.runs)


# ------------------------------------------------------------------------------------------------ auth


async def test_both_auth_styles_and_401s(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    base = fake.url + "/v1/model-runs"
    async with httpx.AsyncClient(timeout=5.0) as anonymous:
        response = await anonymous.get(base)
        assert contract.error(response, 401) == "Authentication required"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        contract.error(await anonymous.get(base, headers={"X-API-Key": "wrong"}), 401)
        contract.error(await anonymous.get(base, headers={"Authorization": "Bearer wrong"}), 401)
        contract.error(await anonymous.get(base, headers={"Authorization": f"Basic {TOKEN}"}), 401)
        contract.error(await anonymous.get(base, headers={"Authorization": API_KEY}), 401)
        contract.runs(await anonymous.get(base, headers={"Authorization": f"Bearer {TOKEN}"}))
        run = contract.run(
            await anonymous.post(
                base, json={"project_name": "p"}, headers={"Authorization": f"Bearer {TOKEN}"}
            ),
            201,
        )
        assert run["triggered_by"] == f"bearer:{TOKEN[:4]}…"
        contract.runs(await anonymous.get(base, headers={"X-API-Key": API_KEY}))
    assert fake.add_api_key("another-key-0000", principal="ci-bot") == "ci-bot"
    recorded = fake.requests_matching("POST", MODEL_RUNS_PATH)[-1]
    assert recorded.header("Authorization") == f"Bearer {REDACTED}"
    unauthenticated = [r for r in fake.requests if r.status == 401]
    assert len(unauthenticated) == 5 and all(r.principal is None for r in unauthenticated)


# ------------------------------------------------------------------------------------------ rate limit


async def test_token_bucket_answers_429_with_retry_after(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    bucket_clock = ManualClock()
    fake.rate_limit_config(0.5, 2, clock=bucket_clock)
    contract.runs(await client.get("/v1/model-runs"))
    contract.runs(await client.get("/v1/model-runs"))
    limited = await client.get("/v1/model-runs")
    assert contract.error(limited, 429).startswith("Rate limit exceeded")
    assert limited.headers["Retry-After"] == "2"  # one token takes 1 / 0.5 s
    # per client: another credential has its own bucket
    other = {"Authorization": f"Bearer {TOKEN}"}
    contract.runs(await client.get("/v1/model-runs", headers={"X-API-Key": "", **other}))
    # refills with time
    bucket_clock.advance(1.0)
    partial = await client.get("/v1/model-runs")
    assert contract.error(partial, 429) and partial.headers["Retry-After"] == "1"
    bucket_clock.advance(1.0)
    contract.runs(await client.get("/v1/model-runs"))
    assert contract.error(await client.post("/v1/model-runs", json={"project_name": "p"}), 429)
    assert fake.runs == []  # never processed
    fake.rate_limit_config(None)
    for _ in range(5):
        contract.runs(await client.get("/v1/model-runs"))


async def test_a_burst_of_200_then_100_per_second(fake: ModelsApiFake, client: httpx.AsyncClient) -> None:
    bucket_clock = ManualClock()
    fake.rate_limit_config(100, 200, clock=bucket_clock)
    statuses = [
        (await client.get("/v1/model-runs", params={"max_results": 1})).status_code for _ in range(201)
    ]
    assert statuses[:200] == [200] * 200 and statuses[200] == 429


# ------------------------------------------------------------------------------------------------ faults


async def test_fault_injection_comes_from_the_base(
    fake: ModelsApiFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.faults.server_error(503, method="GET", path=MODEL_RUNS_PATH)
    assert contract.error(await client.get("/v1/model-runs"), 503) == "Service Unavailable"
    fake.faults.rate_limit(times=1, retry_after=7)
    limited = await client.get("/v1/model-runs")
    contract.error(limited, 429)
    assert limited.headers["Retry-After"] == "7"
    fake.faults.respond(500, "panic: runtime error: invalid memory address\n", method="POST")
    crashed = await trigger(client, project_name="analytics")
    assert crashed.status_code == 500 and crashed.headers["content-type"].startswith("text/plain")
    fake.faults.malformed(path=MODEL_RUN_PATH)
    run = contract.run(await trigger(client, project_name="analytics"), 201)
    garbled = await client.get(f"/v1/model-runs/{run['id']}")
    assert garbled.status_code == 200
    with pytest.raises(ValueError):
        garbled.json()
    gate = fake.gate("POST", MODEL_RUNS_PATH)
    gate.release(respond=False)
    with pytest.raises(httpx.TransportError):
        await trigger(client, project_name="lost-answer")
    # the upstream acted although the answer was lost: exactly the case crash recovery must handle
    assert fake.count_triggers("lost-answer") == 1
    faults = [r.fault for r in fake.requests if r.fault is not None]
    assert faults == ["respond", "respond", "respond", "malformed"]
    assert fake.requests[0].principal is None  # faults answer before authentication
