"""The pydantic models of the upstreams' answers: what the operator relies on is required, what the upstream
may leave out stays optional, and a body that does not match becomes a MalformedResponseError (transient)
whose message names what is missing or wrong. Never a half-empty object taken for state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from modelops_operator.providers.datarobot.client import CustomModel, DataRobotClient, DataRobotCredentials
from modelops_operator.providers.errors import MalformedResponseError, TransientUpstreamError
from modelops_operator.providers.http import HttpPolicy, UpstreamHTTP, validate_model
from modelops_operator.providers.models_api.client import (
    ModelRun,
    ModelRunPage,
    ModelRunStep,
    ModelRunStepPage,
    ModelsApiClient,
    ModelTestResult,
)
from modelops_operator.providers.models_api.credentials import ModelsApiCredentials
from modelops_operator.providers.twilio_assistants.client import Tool, TwilioAssistantsClient
from modelops_operator.providers.twilio_autopilot.client import ModelBuild, TwilioAutopilotClient

SID = "UG" + "a" * 32
BUILD = {"sid": SID, "status": "completed"}
TOOL = {"id": "aia_tool_1", "name": "lookup", "type": "WEBHOOK", "enabled": True}
RUN = {"id": "2edd769f-2551-404e-908f-fd7056df21b5", "status": "SUCCESS"}


def problems(model: type[BaseModel], body: Any, what: str = "thing") -> str:
    with pytest.raises(MalformedResponseError) as caught:
        validate_model("upstream", body, model, what, status=200)
    error = caught.value
    assert isinstance(error, TransientUpstreamError)  # retried with backoff, never taken for state
    assert (error.status, error.code) == (200, "malformed")
    return error.message


# ------------------------------------------------------------------------------------------ the message


@pytest.mark.parametrize("body", [{}, {"unexpected": 1}])
def test_a_body_without_the_fields_names_each_of_them(body: dict[str, Any]) -> None:
    assert problems(ModelBuild, body, "model build") == (
        "model build: field 'sid' is required; field 'status' is required"
    )


def test_a_field_of_the_wrong_type_is_named_with_the_reason_not_the_value() -> None:
    message = problems(ModelBuild, {"sid": SID, "status": {"secret": "do-not-echo"}}, "model build")
    assert message.startswith("model build: field 'status' is invalid (")
    assert "do-not-echo" not in message


def test_nested_fields_are_named_by_their_path() -> None:
    body = {**TOOL, "policies": [{"id": "aia_plcy_1"}]}
    assert problems(Tool, body, "tool") == "tool: field 'policies[0].policy_details' is required"


@pytest.mark.parametrize(
    ("body", "said"),
    [([BUILD], "an array"), ("<html>", "a string"), (None, "null"), (3, "a number")],
)
def test_a_body_that_is_not_an_object(body: Any, said: str) -> None:
    assert problems(ModelBuild, body, "model build") == f"model build: expected a JSON object, got {said}"


# ------------------------------------------------------------------------------------- Twilio Autopilot


def test_model_build_requires_sid_and_status_only() -> None:
    build = ModelBuild.model_validate({**BUILD, "unique_name": None, "build_duration": None, "url": None})
    assert (build.sid, build.status, build.unique_name) == (SID, "completed", None)
    # An unknown status word is followed as in progress by the provider, not refused here.
    assert ModelBuild.model_validate({**BUILD, "status": "retraining"}).status == "retraining"


@pytest.mark.parametrize("field", ["sid", "status"])
def test_model_build_refuses_an_empty_sid_or_status(field: str) -> None:
    assert f"field '{field}' is invalid" in problems(ModelBuild, {**BUILD, field: ""})
    assert f"field '{field}' is null" in problems(ModelBuild, {**BUILD, field: None})


# ------------------------------------------------------------------------------------ Twilio Assistants


def test_tool_requires_what_the_drift_comparison_reads() -> None:
    assert problems(Tool, {"id": "aia_tool_1"}, "tool") == (
        "tool: field 'name' is required; field 'type' is required; field 'enabled' is required"
    )
    tool = Tool.model_validate(TOOL)  # description, meta, policies: optional
    assert (tool.description, tool.meta, tool.policies) == (None, None, None)


def test_tool_id_must_not_be_empty() -> None:
    assert "field 'id' is invalid" in problems(Tool, {**TOOL, "id": ""})


# ------------------------------------------------------------------------------------------- Models API


@pytest.mark.parametrize("model", [ModelRun, ModelRunStep, ModelTestResult])
def test_runs_steps_and_results_require_id_and_status(model: type[BaseModel]) -> None:
    assert problems(model, {"model_name": "orders"}) == (
        "thing: field 'id' is required; field 'status' is required"
    )


def test_optional_run_fields_may_be_omitted() -> None:
    run = ModelRun.model_validate(RUN)
    assert (run.started_at, run.compile_diagnostics, run.model_names) == (None, None, None)


def test_a_page_without_data_is_not_an_empty_page() -> None:
    assert problems(ModelRunStepPage, {}, "step list") == "step list: field 'data' is required"
    assert ModelRunStepPage.model_validate({"data": []}).data == []


def test_an_invalid_item_makes_the_page_invalid() -> None:
    page = {"data": [RUN, {"status": "RUNNING"}], "next_page_token": "t"}
    assert problems(ModelRunPage, page, "model run list") == "model run list: field 'data[1].id' is required"


# -------------------------------------------------------------------------------------------- DataRobot


def test_custom_model_requires_its_id() -> None:
    assert problems(CustomModel, {"latestVersion": None}, "custom model") == (
        "custom model: field 'id' is required"
    )
    assert CustomModel.model_validate({"id": "cm1", "latestVersion": None}).latest_version is None
    assert problems(CustomModel, {"id": "cm1", "latestVersion": {}}, "custom model") == (
        "custom model: field 'latestVersion.id' is required"
    )


# ------------------------------------------------------------------------------- the clients, on the wire


def upstream(body: Any, status: int = 200) -> UpstreamHTTP:
    """An upstream that answers every request with `status` and `body` (a proxy, a broken gateway)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return UpstreamHTTP(
        "u", "http://u.invalid", HttpPolicy(max_attempts=1), transport=httpx.MockTransport(answer)
    )


AUTH = httpx.BasicAuth("AC" + "0" * 32, "token")
MODELS = ModelsApiCredentials.from_secret({"apiKey": "k"})
DATAROBOT = DataRobotCredentials.from_secret({"token": "t"})


async def collect(items: Any) -> list[Any]:
    return [item async for item in items]


CLIENT_READS: dict[str, tuple[Callable[[UpstreamHTTP], Any], str]] = {
    "autopilot fetch": (
        lambda http: TwilioAutopilotClient(http).fetch(AUTH, "UA1", SID),
        "model build: field 'sid' is required; field 'status' is required",
    ),
    "assistants fetch": (
        lambda http: TwilioAssistantsClient(http).fetch(AUTH, "aia_tool_1"),
        "tool: field 'id' is required",
    ),
    "models api get": (
        lambda http: ModelsApiClient(http).get(MODELS, RUN["id"]),
        "model run: field 'id' is required; field 'status' is required",
    ),
    "models api steps": (
        lambda http: ModelsApiClient(http).steps(MODELS, RUN["id"]),
        "step list: field 'data' is required",
    ),
    "datarobot status": (
        lambda http: DataRobotClient(http).status(DATAROBOT, "s1"),
        "job status: field 'status' is required",
    ),
    "datarobot custom model": (
        lambda http: DataRobotClient(http).get_custom_model(DATAROBOT, "cm1"),
        "custom model: field 'id' is required",
    ),
}


@pytest.mark.parametrize("read", list(CLIENT_READS))
async def test_every_client_refuses_an_empty_object(read: str) -> None:
    call, message = CLIENT_READS[read]
    with pytest.raises(MalformedResponseError) as caught:
        await call(upstream({}))
    assert message in caught.value.message


async def test_a_twilio_list_item_that_is_not_a_build_makes_the_page_malformed() -> None:
    page = {
        "meta": {"key": "model_builds", "next_page_url": None},
        "model_builds": [BUILD, {"unique_name": "x"}],
    }
    with pytest.raises(MalformedResponseError) as caught:
        await collect(TwilioAutopilotClient(upstream(page)).list(AUTH, "UA1"))
    assert caught.value.message == (
        "model build list: page 1, item 1: field 'sid' is required; field 'status' is required"
    )


async def test_a_twilio_list_page_without_meta() -> None:
    with pytest.raises(MalformedResponseError) as caught:
        await collect(TwilioAssistantsClient(upstream({"tools": [TOOL]})).list(AUTH))
    assert caught.value.message == "tool list: page 1 meta: expected a JSON object, got null"


async def test_a_models_api_list_item_that_is_not_a_run_makes_the_page_malformed() -> None:
    page = {"data": [RUN, {"id": "x"}]}
    with pytest.raises(MalformedResponseError) as caught:
        await collect(ModelsApiClient(upstream(page)).list(MODELS))
    assert caught.value.message == "model run list: field 'data[1].status' is required"
