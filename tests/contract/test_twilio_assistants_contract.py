"""Contract tests: the fake Twilio AI Assistants v1 Tools API against Twilio's official OpenAPI spec.

Every response body the fake gives is validated against the spec's schema (``$ref`` inlined, no undocumented
fields; the spec's own ``required`` lists are kept). Dates are driven by a ManualClock, never real time.
The spec documents no error schema: the legacy Twilio body (UPSTREAMS.md §1/§2) and the RFC 9457 problem are
held to the schemas below.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from modelops_sandbox.fakes import ManualClock
from modelops_sandbox.fakes.twilio_assistants import (
    ASSISTANT_TOOL_PATH,
    ASSISTANT_TOOLS_PATH,
    TOOL_PATH,
    TOOLS_PATH,
    TwilioAssistantsFake,
    make_prefixed_id,
)
from modelops_sandbox.fakes.twilio_autopilot import make_sid

SPEC = "twilio_assistants_v1.json"
SCHEMAS = "#/components/schemas/assistants.v1.service."
TOOL_ID = re.compile(r"^aia_tool_[0-9a-hjkmnp-tv-z]{26}$")
POLICY_ID = re.compile(r"^aia_plcy_[0-9a-hjkmnp-tv-z]{26}$")
TOOL_KEYS = {
    "account_sid", "description", "enabled", "id", "meta", "name", "requires_auth", "type", "url",
    "date_created", "date_updated",
}  # fmt: skip
POLICY_KEYS = {
    "id", "name", "description", "account_sid", "user_sid", "type", "policy_details", "date_created",
    "date_updated",
}  # fmt: skip

# Twilio's error bodies are not in the OpenAPI spec; UPSTREAMS.md documents the legacy one.
TWILIO_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string", "minLength": 1},
        "more_info": {"type": "string", "pattern": r"^https://www\.twilio\.com/docs/errors/\d+$"},
        "status": {"type": "integer"},
    },
    "required": ["code", "message", "more_info", "status"],
    "additionalProperties": False,
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "pattern": r"^https://www\.twilio\.com/docs/errors/\d+$"},
        "title": {"type": "string", "minLength": 1},
        "status": {"type": "integer"},
        "detail": {"type": "string", "minLength": 1},
        "code": {"type": "integer"},
    },
    "required": ["type", "title", "status", "detail", "code"],
    "additionalProperties": False,
}

WEATHER_META = {"url": "https://example.com/weather", "method": "GET", "input_schema": "{ city: string }"}


class Contract:
    """Validators built from the official spec."""

    def __init__(
        self, spec: dict[str, Any], make: Callable[..., Draft202012Validator], response: Any
    ) -> None:
        self.spec = spec
        self.tool = make(spec, SCHEMAS + "tool")
        self.tool_with_policies = make(spec, SCHEMAS + "tool_with_policies")
        self.policy = make(spec, SCHEMAS + "policy")
        self.create_request = make(spec, SCHEMAS + "create_tool_request", require_all=False)
        self.update_request = make(spec, SCHEMAS + "update_tool_request", require_all=False)
        self.create = make(spec, response(spec, "/v1/Tools", "post", 201))
        self.fetch = make(spec, response(spec, "/v1/Tools/{id}", "get", 200))
        self.update = make(spec, response(spec, "/v1/Tools/{id}", "put", 200))
        self.list = make(spec, response(spec, "/v1/Tools", "get", 200))
        self.list_attached = make(spec, response(spec, "/v1/Assistants/{assistantId}/Tools", "get", 200))
        self.error = Draft202012Validator(TWILIO_ERROR_SCHEMA)
        self.problem = Draft202012Validator(PROBLEM_SCHEMA)

    def created(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 201, response.text
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        self.create.validate(body)
        assert set(body) == TOOL_KEYS  # no policies outside GET /v1/Tools/{id}
        return body

    def fetched(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.fetch.validate(body)
        assert set(body) == {*TOOL_KEYS, "policies"}
        for policy in body["policies"]:
            assert set(policy) == POLICY_KEYS
        return body

    def updated(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.update.validate(body)
        assert set(body) == TOOL_KEYS
        return body

    def listed(self, response: httpx.Response, *, attached: bool = False) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        (self.list_attached if attached else self.list).validate(body)
        assert body["meta"]["key"] == "tools"
        for tool in body["tools"]:
            assert set(tool) == TOOL_KEYS
        return body

    def no_content(self, response: httpx.Response) -> None:
        assert response.status_code == 204, response.text
        assert response.content == b""

    def failed(self, response: httpx.Response, status: int, code: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        self.error.validate(body)
        assert body["status"] == status
        assert body["code"] == code
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
        return body

    def problem_failed(self, response: httpx.Response, status: int, code: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        body: dict[str, Any] = response.json()
        self.problem.validate(body)
        assert body["status"] == status
        assert body["code"] == code
        assert body["type"] == f"https://www.twilio.com/docs/errors/{code}"
        return body


@pytest.fixture(scope="module")
def contract(load_spec: Any, openapi_validator: Any, spec_response: Any) -> Contract:
    return Contract(load_spec(SPEC), openapi_validator, spec_response)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[TwilioAssistantsFake]:
    async with TwilioAssistantsFake(clock=clock) as server:
        yield server


@pytest.fixture
def account(fake: TwilioAssistantsFake) -> tuple[str, str]:
    return fake.new_account()


@pytest.fixture
async def client(fake: TwilioAssistantsFake, account: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url, auth=account, timeout=5.0) as http:
        yield http


def assistant_id() -> str:
    return make_prefixed_id("aia_asst_")


def tool_body(**overrides: Any) -> dict[str, Any]:
    return {"name": "weather", "type": "WEBHOOK", "enabled": True, **overrides}


async def create(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    return await client.post("/v1/Tools", json=tool_body(**overrides))


def parse_date(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# ------------------------------------------------------------------------------------- the converter itself


def test_converted_schemas_are_strict(contract: Contract) -> None:
    tool = {
        "account_sid": "AC" + "a" * 32,
        "description": "",
        "enabled": True,
        "id": "aia_tool_x",
        "meta": {},
        "name": "n",
        "requires_auth": False,
        "type": "WEBHOOK",
        "url": "https://assistants.twilio.com/v1/Tools/aia_tool_x",
        "date_created": "2024-01-01T00:00:00Z",
        "date_updated": "2024-01-01T00:00:00Z",
    }
    contract.tool.validate(tool)
    assert not contract.tool.is_valid({**tool, "policies": []})  # policies only on the fetch
    assert contract.tool_with_policies.is_valid({**tool, "policies": []})
    assert not contract.tool.is_valid({k: v for k, v in tool.items() if k != "requires_auth"})
    assert not contract.tool.is_valid({**tool, "id": "tool_x"})
    assert not contract.tool.is_valid({**tool, "date_created": "2024-01-01 00:00:00"})
    assert not contract.tool.is_valid({**tool, "description": None})
    policy = {"type": "CUSTOM", "policy_details": {}}
    assert contract.policy.is_valid(policy)
    assert not contract.policy.is_valid({**policy, "user_sid": "XX" + "0" * 32})
    assert not contract.create_request.is_valid({"name": "n", "type": "WEBHOOK"})
    assert contract.update_request.is_valid({})
    assert not contract.update_request.is_valid({"inputSchema": "x"})
    assert not contract.update_request.is_valid({"policy": {"policy_details": {}, "extra": 1}})


def test_prefixed_ids_are_ulid_like_and_time_ordered() -> None:
    early = make_prefixed_id("aia_tool_", dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    late = make_prefixed_id("aia_tool_", dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=dt.UTC))
    assert TOOL_ID.match(early) and TOOL_ID.match(late)
    assert early < late
    assert len({make_prefixed_id("aia_plcy_") for _ in range(100)}) == 100


# ------------------------------------------------------------------------------------------------ create


async def test_create_with_policy_and_assistant_id(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract, account: tuple[str, str]
) -> None:
    assistant = assistant_id()
    request = tool_body(
        description="Current weather",
        assistant_id=assistant,
        meta=WEATHER_META,
        policy={"name": "verified", "type": "AUTH", "policy_details": {"level": 2, "note": None}},
    )
    contract.create_request.validate(request)
    body = contract.created(await client.post("/v1/Tools", json=request))
    assert TOOL_ID.match(body["id"])
    assert body["account_sid"] == account[0]
    assert body["name"] == "weather" and body["description"] == "Current weather"
    assert body["type"] == "WEBHOOK" and body["enabled"] is True
    assert body["meta"] == WEATHER_META
    assert body["requires_auth"] is True
    assert body["url"] == f"{fake.url}/v1/Tools/{body['id']}"
    assert body["date_created"] == body["date_updated"]
    assert fake.attachments(assistant) == {body["id"]}
    assert fake.count_creates() == 1
    recorded = fake.requests_matching("POST", TOOLS_PATH)[-1]
    assert recorded.headers["Content-Type"].startswith("application/json")
    assert recorded.json == request
    # the absolute url is directly usable, and the fetch carries the policy
    fetched = contract.fetched(await client.get(body["url"]))
    assert {k: v for k, v in fetched.items() if k != "policies"} == body
    [policy] = fetched["policies"]
    contract.policy.validate(policy)
    assert POLICY_ID.match(policy["id"])
    assert re.fullmatch(r"US[0-9a-f]{32}", policy["user_sid"])
    assert policy["account_sid"] == account[0]
    assert policy["name"] == "verified" and policy["description"] == ""
    assert policy["type"] == "AUTH"
    assert policy["policy_details"] == {"level": 2, "note": None}
    assert policy["date_created"] == body["date_created"]


async def test_create_minimal_renders_defaults(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    body = contract.created(await create(client, enabled=False))
    assert body["description"] == "" and body["meta"] == {}
    assert body["requires_auth"] is False and body["enabled"] is False
    assert contract.fetched(await client.get(f"/v1/Tools/{body['id']}"))["policies"] == []
    # names are not unique and ids are server-chosen: a second identical create is a second tool
    second = contract.created(await create(client, enabled=False))
    assert second["id"] != body["id"]
    assert fake.count_creates() == 2


async def test_policy_type_defaults_and_user_sid_is_per_principal(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    first = contract.created(await create(client, policy={"policy_details": {}}))
    second = contract.created(await create(client, policy={"policy_details": {"a": 1}}))
    policies = [
        contract.fetched(await client.get(f"/v1/Tools/{t['id']}"))["policies"][0] for t in (first, second)
    ]
    assert [p["type"] for p in policies] == ["CUSTOM", "CUSTOM"]
    assert policies[0]["user_sid"] == policies[1]["user_sid"]
    assert policies[0]["id"] != policies[1]["id"]
    fake.default_policy_type = "OTHER"
    third = contract.created(await create(client, policy={"policy_details": {}}))
    assert contract.fetched(await client.get(f"/v1/Tools/{third['id']}"))["policies"][0]["type"] == "OTHER"


@pytest.mark.parametrize(
    "body,message",
    [
        ([], "must be a JSON object"),
        ({"type": "WEBHOOK", "enabled": True}, "Missing required parameter name"),
        ({"name": "n", "enabled": True}, "Missing required parameter type"),
        ({"name": "n", "type": "WEBHOOK"}, "Missing required parameter enabled"),
        (tool_body(name=""), "name must not be empty"),
        (tool_body(name=None), "name must be a string"),
        (tool_body(type="FUNCTION"), "type must be one of WEBHOOK"),
        (tool_body(enabled="true"), "enabled must be a boolean"),
        (tool_body(description=3), "description must be a string"),
        (tool_body(assistant_id="asst_1"), "assistant_id must match"),
        (tool_body(requires_auth=True), "Unknown parameter(s): requires_auth"),
        (tool_body(meta="GET https://x"), "meta must be an object"),
        (tool_body(meta={"method": "GET"}), "Missing required parameter meta.url"),
        (tool_body(meta={"url": "https://x.example"}), "Missing required parameter meta.method"),
        (tool_body(meta={"url": "ftp://x.example", "method": "GET"}), "not an absolute http(s) URL"),
        (tool_body(meta={"url": "https://x.example", "method": "PUT"}), "meta.method must be one of"),
        (tool_body(meta={**WEATHER_META, "inputSchema": "x"}), "Unknown parameter(s) in meta: inputSchema"),
        (tool_body(meta={**WEATHER_META, "input_schema": 1}), "meta.input_schema must be a string"),
        (tool_body(policy=[]), "policy must be an object"),
        (tool_body(policy={"name": "p"}), "Missing required parameter policy.policy_details"),
        (tool_body(policy={"policy_details": "x"}), "policy_details must be an object"),
        (tool_body(policy={"policy_details": {}, "extra": 1}), "Unknown parameter(s) in policy: extra"),
        (tool_body(policy={"policy_details": {}, "id": "plcy_1"}), "policy.id must match"),
        (tool_body(policy={"policy_details": {}, "id": "aia_plcy_1"}), "Policy aia_plcy_1 was not found"),
    ],
)
async def test_create_validation_errors(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract, body: Any, message: str
) -> None:
    error = contract.failed(await client.post("/v1/Tools", json=body), 400, 20001)
    assert message in error["message"]
    assert fake.count_creates() == 0


async def test_create_needs_a_json_body(client: httpx.AsyncClient, contract: Contract) -> None:
    form = await client.post("/v1/Tools", data={"name": "n", "type": "WEBHOOK", "enabled": "true"})
    contract.failed(form, 400, 20001)
    garbage = await client.post("/v1/Tools", content=b"{", headers={"Content-Type": "application/json"})
    contract.failed(garbage, 400, 20001)


# ------------------------------------------------------------------------------------------ fetch / update


async def test_update_replaces_the_fields_sent(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    created = contract.created(await create(client, description="d", meta=WEATHER_META))
    path = f"/v1/Tools/{created['id']}"
    clock.advance(5)
    new_meta = {"url": "https://example.com/v2", "method": "POST"}
    request = {"name": "weather-2", "meta": new_meta}
    contract.update_request.validate(request)
    updated = contract.updated(await client.put(path, json=request))
    assert updated["name"] == "weather-2" and updated["meta"] == new_meta  # meta replaced as a whole
    assert updated["description"] == "d" and updated["enabled"] is True  # not sent: kept
    assert updated["id"] == created["id"] and updated["date_created"] == created["date_created"]
    assert parse_date(updated["date_updated"]) - parse_date(created["date_updated"]) == dt.timedelta(
        seconds=5
    )
    # the same object again, or nothing at all, changes nothing (date_updated included)
    clock.advance(5)
    assert contract.updated(await client.put(path, json=request)) == updated
    assert contract.updated(await client.put(path, json={})) == updated
    assert contract.updated(await client.put(path)) == updated  # the spec does not require a body
    fetched = contract.fetched(await client.get(path))
    assert {k: v for k, v in fetched.items() if k != "policies"} == updated
    assert fake.count_creates() == 1


async def test_update_creates_then_updates_the_policy_in_place(
    client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    created = contract.created(await create(client))
    path = f"/v1/Tools/{created['id']}"
    clock.advance(1)
    first = contract.updated(
        await client.put(path, json={"policy": {"policy_details": {"v": 1}, "name": "p"}})
    )
    assert first["requires_auth"] is True
    assert first["date_updated"] > created["date_updated"]
    [policy] = contract.fetched(await client.get(path))["policies"]
    assert policy["policy_details"] == {"v": 1} and policy["name"] == "p" and policy["type"] == "CUSTOM"
    clock.advance(1)
    contract.updated(
        await client.put(path, json={"policy": {"policy_details": {"v": 2}, "id": policy["id"]}})
    )
    [again] = contract.fetched(await client.get(path))["policies"]
    assert again["id"] == policy["id"] and again["date_created"] == policy["date_created"]
    assert again["policy_details"] == {"v": 2} and again["name"] == "p"  # name not sent: kept
    assert again["date_updated"] > policy["date_updated"]
    foreign = {"policy": {"policy_details": {}, "id": "aia_plcy_" + "0" * 26}}
    error = contract.failed(await client.put(path, json=foreign), 400, 20001)
    assert "does not belong to tool" in error["message"]


async def test_update_with_assistant_id_attaches(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    first, second = assistant_id(), assistant_id()
    created = contract.created(await create(client, assistant_id=first))
    contract.updated(await client.put(f"/v1/Tools/{created['id']}", json={"assistant_id": second}))
    assert fake.attachments(first) == fake.attachments(second) == {created["id"]}


async def test_update_errors(client: httpx.AsyncClient, contract: Contract) -> None:
    created = contract.created(await create(client))
    path = f"/v1/Tools/{created['id']}"
    contract.failed(await client.put(path, json={"enabled": 1}), 400, 20001)
    contract.failed(await client.put(path, json={"type": "OTHER"}), 400, 20001)
    contract.failed(await client.put(path, json={"id": "aia_tool_other"}), 400, 20001)
    missing = "/v1/Tools/aia_tool_" + "0" * 26
    error = contract.failed(await client.put(missing, json={"name": "n"}), 404, 20404)
    assert missing in error["message"]
    contract.failed(await client.get(missing), 404, 20404)
    contract.failed(await client.get("/v1/Tools/not-a-tool"), 404, 20404)


# ------------------------------------------------------------------------------------------------ delete


async def test_delete_answers_204_then_404_and_detaches(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    assistant = assistant_id()
    created = contract.created(await create(client, assistant_id=assistant))
    kept = contract.created(await create(client, assistant_id=assistant))
    path = f"/v1/Tools/{created['id']}"
    contract.no_content(await client.delete(path))
    contract.failed(await client.get(path), 404, 20404)
    contract.failed(await client.delete(path), 404, 20404)
    contract.failed(await client.put(path, json={"name": "x"}), 404, 20404)
    assert fake.attachments(assistant) == {kept["id"]}
    assert fake.tool(created["id"]) is None
    listed = contract.listed(await client.get(f"/v1/Assistants/{assistant}/Tools"), attached=True)
    assert [t["id"] for t in listed["tools"]] == [kept["id"]]


async def test_delete_of_an_attached_tool_can_require_a_detach(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.require_detach_before_delete = True
    assistant = assistant_id()
    created = contract.created(await create(client, assistant_id=assistant))
    path = f"/v1/Tools/{created['id']}"
    error = contract.failed(await client.delete(path), 400, 20001)
    assert assistant in error["message"] and "detach it first" in error["message"]
    contract.fetched(await client.get(path))
    contract.no_content(await client.delete(f"/v1/Assistants/{assistant}/Tools/{created['id']}"))
    contract.no_content(await client.delete(path))


# ------------------------------------------------------------------------------------------------ listing


async def test_list_pages_follow_next_page_url_verbatim(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    ids = []
    for i in range(7):
        ids.append(contract.created(await create(client, name=f"t{i}"))["id"])
        clock.advance(0.1)
    pages = []
    url: str | None = f"{fake.url}/v1/Tools?PageSize=3"
    while url is not None:
        body = contract.listed(await client.get(url))
        pages.append(body)
        url = body["meta"]["next_page_url"]
        assert len(pages) <= 3
    assert [len(p["tools"]) for p in pages] == [3, 3, 1]
    assert [t["id"] for p in pages for t in p["tools"]] == ids
    assert [p["meta"]["page"] for p in pages] == [0, 1, 2]
    for page in pages:
        assert page["meta"]["page_size"] == 3
        assert page["meta"]["first_page_url"] == f"{fake.url}/v1/Tools?PageSize=3&Page=0"
        for tool in page["tools"]:
            contract.tool.validate(tool)
    assert pages[0]["meta"]["previous_page_url"] is None
    assert pages[2]["meta"]["next_page_url"] is None
    assert pages[1]["meta"]["url"] == pages[0]["meta"]["next_page_url"]
    back = contract.listed(await client.get(pages[2]["meta"]["previous_page_url"]))
    assert [t["id"] for t in back["tools"]] == ids[3:6]
    # a page token stays valid when its anchor tool is deleted in between
    fake.delete_out_of_band(ids[2])
    rest = contract.listed(await client.get(pages[0]["meta"]["next_page_url"]))
    assert [t["id"] for t in rest["tools"]] == ids[3:6]


async def test_list_defaults_and_empty_list(client: httpx.AsyncClient, contract: Contract) -> None:
    empty = contract.listed(await client.get("/v1/Tools"))
    assert empty["tools"] == []
    assert empty["meta"]["page"] == 0 and empty["meta"]["page_size"] == 50
    assert empty["meta"]["next_page_url"] is None and empty["meta"]["previous_page_url"] is None
    for i in range(3):
        contract.created(await create(client, name=f"n{i}"))
    full = contract.listed(await client.get("/v1/Tools"))
    assert len(full["tools"]) == 3 and full["meta"]["next_page_url"] is None


async def test_list_filters_by_assistant_id_and_keeps_it_in_page_links(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    assistant, other = assistant_id(), assistant_id()
    mine = [contract.created(await create(client, assistant_id=assistant))["id"] for _ in range(3)]
    contract.created(await create(client, assistant_id=other))
    contract.created(await create(client))
    first = contract.listed(await client.get(f"/v1/Tools?AssistantId={assistant}&PageSize=2"))
    assert [t["id"] for t in first["tools"]] == mine[:2]
    assert first["meta"]["next_page_url"].startswith(f"{fake.url}/v1/Tools?AssistantId={assistant}&")
    second = contract.listed(await client.get(first["meta"]["next_page_url"]))
    assert [t["id"] for t in second["tools"]] == mine[2:]
    assert second["meta"]["next_page_url"] is None
    nobody = contract.listed(await client.get(f"/v1/Tools?AssistantId={assistant_id()}"))
    assert nobody["tools"] == []
    contract.failed(await client.get("/v1/Tools?AssistantId=asst_1"), 400, 20001)


@pytest.mark.parametrize(
    "query", ["PageSize=0", "PageSize=1001", "PageSize=abc", "Page=-1", "PageToken=bogus"]
)
async def test_list_rejects_bad_paging(client: httpx.AsyncClient, contract: Contract, query: str) -> None:
    contract.failed(await client.get(f"/v1/Tools?{query}"), 400, 20001)
    contract.failed(await client.get(f"/v1/Assistants/{assistant_id()}/Tools?{query}"), 400, 20001)


# ------------------------------------------------------------------------------------------- attachments


async def test_attach_detach_and_list_attached(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    assistant = assistant_id()
    tools = []
    for i in range(3):
        tools.append(contract.created(await create(client, name=f"a{i}"))["id"])
        clock.advance(0.1)
    for tool in tools:
        contract.no_content(await client.post(f"/v1/Assistants/{assistant}/Tools/{tool}"))
    contract.no_content(await client.post(f"/v1/Assistants/{assistant}/Tools/{tools[0]}"))  # idempotent
    assert fake.attachments(assistant) == set(tools)
    first = contract.listed(await client.get(f"/v1/Assistants/{assistant}/Tools?PageSize=2"), attached=True)
    assert [t["id"] for t in first["tools"]] == tools[:2]
    assert first["meta"]["url"] == f"{fake.url}/v1/Assistants/{assistant}/Tools?PageSize=2&Page=0"
    second = contract.listed(await client.get(first["meta"]["next_page_url"]), attached=True)
    assert [t["id"] for t in second["tools"]] == tools[2:]
    contract.no_content(await client.delete(f"/v1/Assistants/{assistant}/Tools/{tools[1]}"))
    # detaching a tool that is not attached answers 204 as well (the spec documents only 204)
    contract.no_content(await client.delete(f"/v1/Assistants/{assistant}/Tools/{tools[1]}"))
    assert fake.attachments(assistant) == {tools[0], tools[2]}
    listed = contract.listed(await client.get(f"/v1/Assistants/{assistant}/Tools"), attached=True)
    assert [t["id"] for t in listed["tools"]] == [tools[0], tools[2]]
    recorded = fake.requests_matching("POST", ASSISTANT_TOOL_PATH)
    assert len(recorded) == 4 and all(r.status == 204 for r in recorded)
    assert fake.requests_matching("GET", ASSISTANT_TOOLS_PATH)[0].status == 200


async def test_attachment_not_found_cases(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    assistant = assistant_id()
    tool = contract.created(await create(client))["id"]
    unknown_tool = "aia_tool_" + "0" * 26
    contract.failed(await client.post(f"/v1/Assistants/{assistant}/Tools/{unknown_tool}"), 404, 20404)
    contract.failed(await client.delete(f"/v1/Assistants/{assistant}/Tools/{unknown_tool}"), 404, 20404)
    contract.failed(await client.post(f"/v1/Assistants/UA{'0' * 32}/Tools/{tool}"), 404, 20404)
    contract.failed(await client.get("/v1/Assistants/not-an-assistant/Tools"), 404, 20404)
    # explicit assistants only
    fake.implicit_assistants = False
    contract.failed(await client.post(f"/v1/Assistants/{assistant}/Tools/{tool}"), 404, 20404)
    contract.failed(await client.get(f"/v1/Assistants/{assistant}/Tools"), 404, 20404)
    error = contract.failed(await create(client, assistant_id=assistant), 400, 20001)
    assert f"Assistant {assistant} was not found" in error["message"]
    fake.add_assistant(assistant)
    contract.no_content(await client.post(f"/v1/Assistants/{assistant}/Tools/{tool}"))
    contract.created(await create(client, assistant_id=assistant))
    with pytest.raises(ValueError):
        fake.add_assistant("UA" + "0" * 32)


# ---------------------------------------------------------------------------------------- accounts / auth


async def test_accounts_are_isolated(fake: TwilioAssistantsFake, contract: Contract) -> None:
    first, second = fake.new_account(), fake.new_account()
    assistant = assistant_id()
    async with httpx.AsyncClient(base_url=fake.url, auth=first) as one:
        tool = contract.created(await create(one, assistant_id=assistant))["id"]
    async with httpx.AsyncClient(base_url=fake.url, auth=second) as two:
        contract.failed(await two.get(f"/v1/Tools/{tool}"), 404, 20404)
        contract.failed(await two.delete(f"/v1/Tools/{tool}"), 404, 20404)
        contract.failed(await two.post(f"/v1/Assistants/{assistant}/Tools/{tool}"), 404, 20404)
        assert contract.listed(await two.get("/v1/Tools"))["tools"] == []
        attached = await two.get(f"/v1/Assistants/{assistant}/Tools")
        assert contract.listed(attached, attached=True)["tools"] == []


async def test_auth_failures_answer_20003(
    fake: TwilioAssistantsFake, contract: Contract, account: tuple[str, str]
) -> None:
    attempts: list[Any] = [
        None,
        (account[0], "wrong-token"),
        (make_sid("AC"), account[1]),
        (make_sid("SK"), "s"),
    ]
    async with httpx.AsyncClient(base_url=fake.url) as anonymous:
        for auth in attempts:
            response = await anonymous.post("/v1/Tools", json=tool_body(), auth=auth)
            body = contract.failed(response, 401, 20003)
            assert body["message"] == "Authenticate"
            assert response.headers["WWW-Authenticate"].startswith("Basic")
        bearer = await anonymous.get("/v1/Tools", headers={"Authorization": f"Bearer {account[1]}"})
        contract.failed(bearer, 401, 20003)
    assert fake.count_creates() == 0


async def test_api_key_auth_acts_for_its_account(
    fake: TwilioAssistantsFake, contract: Contract, account: tuple[str, str]
) -> None:
    key_sid, secret = make_sid("SK"), "key-secret"
    fake.add_api_key(account[0], key_sid, secret)
    async with httpx.AsyncClient(base_url=fake.url, auth=(key_sid, secret)) as http:
        body = contract.created(await create(http, policy={"policy_details": {}}))
        assert body["account_sid"] == account[0]
    async with httpx.AsyncClient(base_url=fake.url, auth=account) as http:
        contract.fetched(await http.get(f"/v1/Tools/{body['id']}"))
    recorded = fake.requests_matching("POST", TOOLS_PATH)[0]
    assert recorded.principal == key_sid
    assert recorded.headers["Authorization"] == "Basic REDACTED"
    assert secret not in repr(fake.requests)


# ------------------------------------------------------------------------------------------ error styles


async def test_errors_in_the_rfc9457_style(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.error_style = "rfc9457"
    invalid = contract.problem_failed(await create(client, type="FUNCTION"), 400, 20001)
    assert invalid["title"] == "Bad Request" and "type must be one of WEBHOOK" in invalid["detail"]
    missing = contract.problem_failed(await client.get("/v1/Tools/aia_tool_x"), 404, 20404)
    assert missing["title"] == "Not Found" and "/v1/Tools/aia_tool_x" in missing["detail"]
    async with httpx.AsyncClient(base_url=fake.url) as anonymous:
        denied = await anonymous.get("/v1/Tools")
        assert contract.problem_failed(denied, 401, 20003)["detail"] == "Authenticate"
        assert denied.headers["WWW-Authenticate"].startswith("Basic")
    fake.faults.rate_limit(times=1, retry_after=2)
    limited = await client.get("/v1/Tools")
    contract.problem_failed(limited, 429, 20429)
    assert limited.headers["Retry-After"] == "2"
    # back to the legacy shape
    fake.error_style = "legacy"
    contract.failed(await client.get("/v1/Tools/aia_tool_x"), 404, 20404)
    contract.listed(await client.get("/v1/Tools"))


# -------------------------------------------------------------------------------------------------- faults


async def test_rate_limit_with_retry_after(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    handle = fake.faults.rate_limit(times=2, retry_after=1, method="POST", path=TOOLS_PATH)
    for _ in range(2):
        response = await create(client)
        contract.failed(response, 429, 20429)
        assert response.headers["Retry-After"] == "1"
    assert handle.exhausted and handle.hits == 2
    assert fake.count_creates() == 0  # never processed: safe to retry
    contract.created(await create(client))
    assert [r.status for r in fake.requests_matching("POST", TOOLS_PATH)] == [429, 429, 201]
    assert [r.fault for r in fake.requests_matching("POST")] == ["respond", "respond", None]


async def test_rate_limit_without_retry_after(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.faults.rate_limit(times=1, retry_after=None, path=TOOL_PATH)
    tool = contract.created(await create(client))["id"]
    response = await client.get(f"/v1/Tools/{tool}")
    contract.failed(response, 429, 20429)
    assert "Retry-After" not in response.headers
    contract.fetched(await client.get(f"/v1/Tools/{tool}"))


@pytest.mark.parametrize("status,code", [(500, 20500), (503, 20503)])
async def test_server_error_fault(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract, status: int, code: int
) -> None:
    fake.faults.server_error(status, times=1, method="GET")
    contract.created(await create(client))  # POST is not matched
    contract.failed(await client.get("/v1/Tools"), status, code)
    contract.listed(await client.get("/v1/Tools"))


async def test_gate_holds_the_create_after_it_is_applied(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    gate = fake.gate("POST", TOOLS_PATH)
    pending = asyncio.ensure_future(create(client))
    recorded = await gate.wait_arrived()
    assert recorded.status == 201
    assert fake.count_creates() == 1 and len(fake.tools) == 1  # applied before the answer goes out
    gate.release()
    body = contract.created(await pending)
    assert fake.tools[0]["id"] == body["id"]


# --------------------------------------------------------------------------------------- out-of-band edits


async def test_out_of_band_edits_show_up_as_drift(
    fake: TwilioAssistantsFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    assistant = assistant_id()
    created = contract.created(await create(client, meta=WEATHER_META, policy={"policy_details": {"v": 1}}))
    tool_id = created["id"]
    path = f"/v1/Tools/{tool_id}"
    policy_id = contract.fetched(await client.get(path))["policies"][0]["id"]
    clock.advance(60)
    fake.edit_out_of_band(
        tool_id, name="renamed", enabled=False, meta={**WEATHER_META, "method": "POST"},
        policy={"policy_details": {"v": 2}},
    )  # fmt: skip
    fetched = contract.fetched(await client.get(path))
    assert fetched["name"] == "renamed" and fetched["enabled"] is False
    assert fetched["meta"]["method"] == "POST"
    assert fetched["date_updated"] > created["date_updated"]
    [policy] = fetched["policies"]
    assert policy["id"] == policy_id and policy["policy_details"] == {"v": 2}
    fake.edit_out_of_band(tool_id, policy=None)
    removed = contract.fetched(await client.get(path))
    assert removed["policies"] == [] and removed["requires_auth"] is False
    assert fake.tool(tool_id) == removed
    contract.tool_with_policies.validate(fake.tools[0])

    fake.attach_out_of_band(assistant, tool_id)
    attached = contract.listed(await client.get(f"/v1/Assistants/{assistant}/Tools"), attached=True)
    assert [t["id"] for t in attached["tools"]] == [tool_id]
    fake.detach_out_of_band(assistant, tool_id)
    assert fake.attachments(assistant) == set()
    fake.delete_out_of_band(tool_id)
    contract.failed(await client.get(path), 404, 20404)
    assert fake.tools == [] and fake.count_creates() == 1

    with pytest.raises(KeyError):
        fake.delete_out_of_band(tool_id)
    with pytest.raises(KeyError):
        fake.edit_out_of_band(tool_id, name="x")
    with pytest.raises(KeyError):
        fake.detach_out_of_band(assistant, tool_id)
    other = contract.created(await create(client))["id"]
    with pytest.raises(ValueError, match="type must be one of"):
        fake.edit_out_of_band(other, type="OTHER")
    with pytest.raises(ValueError, match="Unknown parameter"):
        fake.edit_out_of_band(other, colour="red")
    with pytest.raises(ValueError):
        fake.attach_out_of_band("not-an-assistant", other)
