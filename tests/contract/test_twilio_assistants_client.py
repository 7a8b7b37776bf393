"""The Twilio AI Assistants client against the fake, over real HTTP, with the shared HTTP policy.

The request bodies the client sends are held to the official spec's request schemas.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import SecretStr

from modelops_operator.providers.credentials import TwilioCredentials
from modelops_operator.providers.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    PermanentUpstreamError,
    TransientUpstreamError,
)
from modelops_operator.providers.http import HttpPolicy, UpstreamHTTP
from modelops_operator.providers.pagination import check_same_origin
from modelops_operator.providers.twilio_assistants import (
    UPSTREAM,
    PolicyWrite,
    Tool,
    ToolMeta,
    ToolWrite,
    TwilioAssistantsClient,
)
from modelops_sandbox.fakes.twilio_assistants import (
    ASSISTANT_TOOL_PATH,
    TOOL_PATH,
    TOOLS_PATH,
    TwilioAssistantsFake,
    make_prefixed_id,
)
from modelops_sandbox.fakes.twilio_autopilot import make_sid

SPEC = "twilio_assistants_v1.json"
SCHEMAS = "#/components/schemas/assistants.v1.service."
MISSING_TOOL = "aia_tool_" + "0" * 26

TINY = HttpPolicy(
    timeout_seconds=5.0, max_attempts=4, backoff_base_seconds=0.001, backoff_max_seconds=0.01, concurrency=4
)


@pytest.fixture
async def fake() -> AsyncIterator[TwilioAssistantsFake]:
    async with TwilioAssistantsFake() as server:
        yield server


@pytest.fixture
def credentials(fake: TwilioAssistantsFake) -> TwilioCredentials:
    account_sid, token = fake.new_account()
    return TwilioCredentials.from_secret({"accountSid": account_sid, "authToken": token})


@pytest.fixture
async def http(fake: TwilioAssistantsFake) -> AsyncIterator[UpstreamHTTP]:
    upstream = UpstreamHTTP(UPSTREAM, fake.url, TINY)
    try:
        yield upstream
    finally:
        await upstream.aclose()


@pytest.fixture
def client(http: UpstreamHTTP) -> TwilioAssistantsClient:
    return TwilioAssistantsClient(http)


@pytest.fixture(scope="module")
def request_schemas(load_spec: Any, openapi_validator: Any) -> dict[str, Draft202012Validator]:
    spec = load_spec(SPEC)
    return {
        "create": openapi_validator(spec, SCHEMAS + "create_tool_request", require_all=False),
        "update": openapi_validator(spec, SCHEMAS + "update_tool_request", require_all=False),
    }


def desired(**overrides: Any) -> ToolWrite:
    fields: dict[str, Any] = {
        "name": "weather",
        "type": "WEBHOOK",
        "enabled": True,
        "description": "Current weather",
        "meta": ToolMeta(url="https://example.com/weather", method="GET", input_schema="{ city: string }"),
        **overrides,
    }
    return ToolWrite(**fields)


async def collect(tools: AsyncIterator[Tool]) -> list[Tool]:
    return [tool async for tool in tools]


# -------------------------------------------------------------------------------------------------- CRUD


async def test_crud(
    fake: TwilioAssistantsFake,
    client: TwilioAssistantsClient,
    credentials: TwilioCredentials,
    request_schemas: dict[str, Draft202012Validator],
) -> None:
    auth = credentials.auth()
    assistant = make_prefixed_id("aia_asst_")
    body = desired(
        assistant_id=assistant,
        policy=PolicyWrite(name="verified", type="AUTH", policy_details={"level": 2, "note": None}),
    )
    created = await client.create(auth, body)
    assert created.id.startswith("aia_tool_")
    assert created.account_sid == credentials.account_sid
    assert created.name == "weather" and created.enabled is True and created.requires_auth is True
    assert created.meta == body.meta
    assert created.policies is None and created.policy is None  # only the fetch carries policies
    assert fake.attachments(assistant) == {created.id}
    sent = fake.requests_matching("POST", TOOLS_PATH)[-1].json
    request_schemas["create"].validate(sent)
    assert sent == {
        "name": "weather",
        "type": "WEBHOOK",
        "enabled": True,
        "description": "Current weather",
        "assistant_id": assistant,
        "meta": {"url": "https://example.com/weather", "method": "GET", "input_schema": "{ city: string }"},
        "policy": {"policy_details": {"level": 2, "note": None}, "name": "verified", "type": "AUTH"},
    }

    fetched = await client.fetch(auth, created.id)
    assert fetched.policy is not None
    assert fetched.policy.id is not None and fetched.policy.id.startswith("aia_plcy_")
    assert fetched.policy.policy_details == {"level": 2, "note": None}
    assert fetched.policy.user_sid is not None and fetched.policy.user_sid.startswith("US")
    assert fetched.model_dump(exclude={"policies"}) == created.model_dump(exclude={"policies"})

    change = desired(name="weather-2", enabled=False, policy=PolicyWrite(policy_details={"level": 3}))
    updated = await client.update(auth, created.id, change)
    assert updated.name == "weather-2" and updated.enabled is False
    request_schemas["update"].validate(fake.requests_matching("PUT", TOOL_PATH)[-1].json)
    again = await client.fetch(auth, created.id)
    assert again.policy is not None and again.policy.id == fetched.policy.id
    assert again.policy.policy_details == {"level": 3} and again.policy.name == "verified"

    await client.delete(auth, created.id)
    with pytest.raises(NotFoundError) as missing:
        await client.fetch(auth, created.id)
    assert missing.value.status == 404 and missing.value.code == "20404"
    with pytest.raises(NotFoundError):
        await client.delete(auth, created.id)
    with pytest.raises(NotFoundError):
        await client.update(auth, created.id, change)
    assert fake.count_creates() == 1


async def test_write_bodies_omit_none_and_create_needs_the_required_fields(
    fake: TwilioAssistantsFake, client: TwilioAssistantsClient, credentials: TwilioCredentials
) -> None:
    assert ToolWrite(name="n").body() == {"name": "n"}
    assert desired(meta=ToolMeta(url="https://x.example", method="POST")).body()["meta"] == {
        "url": "https://x.example",
        "method": "POST",
    }
    with pytest.raises(ValueError, match="enabled"):
        await client.create(credentials.auth(), ToolWrite(name="n", type="WEBHOOK"))
    assert fake.requests == []


async def test_api_key_credentials(fake: TwilioAssistantsFake, client: TwilioAssistantsClient) -> None:
    account_sid, _ = fake.new_account()
    key_sid = make_sid("SK")
    fake.add_api_key(account_sid, key_sid, "key-secret")
    credentials = TwilioCredentials.from_secret(
        {"accountSid": account_sid, "apiKeySid": key_sid, "apiKeySecret": "key-secret"}
    )
    created = await client.create(credentials.auth(), desired())
    assert created.account_sid == account_sid
    wrong = TwilioCredentials(account_sid=account_sid, username=key_sid, password=SecretStr("nope"))
    with pytest.raises(AuthenticationError) as denied:
        await client.fetch(wrong.auth(), created.id)
    assert denied.value.status == 401 and denied.value.code == "20003"
    assert "nope" not in str(denied.value)


# ------------------------------------------------------------------------------------------------ listing


async def test_list_follows_three_pages(
    fake: TwilioAssistantsFake, client: TwilioAssistantsClient, credentials: TwilioCredentials
) -> None:
    auth = credentials.auth()
    assistant = make_prefixed_id("aia_asst_")
    ids = [(await client.create(auth, desired(name=f"t{i}", assistant_id=assistant))).id for i in range(7)]
    await client.create(auth, desired(name="unattached"))
    fake.clear_requests()
    listed = await collect(client.list(auth, assistant_id=assistant, page_size=3))
    assert [t.id for t in listed] == ids
    pages = fake.requests_matching("GET", TOOLS_PATH)
    assert len(pages) == 3
    assert pages[0].query == {"AssistantId": assistant, "PageSize": "3"}
    assert all(p.query["AssistantId"] == assistant for p in pages)
    assert [p.query.get("Page") for p in pages] == [None, "1", "2"]
    everything = await collect(client.list(auth))
    assert len(everything) == 8
    assert all(t.policies is None for t in everything)


async def test_attach_is_idempotent_detach_and_list_attached(
    fake: TwilioAssistantsFake, client: TwilioAssistantsClient, credentials: TwilioCredentials
) -> None:
    auth = credentials.auth()
    assistant = make_prefixed_id("aia_asst_")
    tools = [(await client.create(auth, desired(name=f"a{i}"))).id for i in range(3)]
    for tool_id in tools:
        await client.attach(auth, assistant, tool_id)
    await client.attach(auth, assistant, tools[0])
    assert fake.attachments(assistant) == set(tools)
    assert [t.id for t in await collect(client.list_attached(auth, assistant, page_size=2))] == tools
    assert len(fake.requests_matching("GET", r"^/v1/Assistants/[^/]+/Tools$")) == 2
    await client.detach(auth, assistant, tools[1])
    await client.detach(auth, assistant, tools[1])  # not attached any more: the upstream answers 204
    assert [t.id for t in await collect(client.list_attached(auth, assistant))] == [tools[0], tools[2]]
    with pytest.raises(NotFoundError):
        await client.detach(auth, assistant, MISSING_TOOL)
    with pytest.raises(NotFoundError):
        await client.attach(auth, assistant, MISSING_TOOL)
    fake.implicit_assistants = False
    with pytest.raises(NotFoundError):
        await client.detach(auth, assistant, tools[0])
    with pytest.raises(NotFoundError):
        await collect(client.list_attached(auth, assistant))


async def test_a_page_link_to_another_origin_is_refused(
    fake: TwilioAssistantsFake, client: TwilioAssistantsClient, credentials: TwilioCredentials
) -> None:
    page = {
        "tools": [],
        "meta": {
            "page": 0,
            "page_size": 50,
            "key": "tools",
            "url": f"{fake.url}/v1/Tools?PageSize=50&Page=0",
            "first_page_url": f"{fake.url}/v1/Tools?PageSize=50&Page=0",
            "previous_page_url": None,
            "next_page_url": "https://attacker.example/v1/Tools?PageSize=50&Page=1",
        },
    }
    fake.faults.respond(200, page, method="GET", path=TOOLS_PATH)
    with pytest.raises(MalformedResponseError, match="another origin"):
        await collect(client.list(credentials.auth()))
    assert len(fake.requests) == 1


def test_check_same_origin() -> None:
    check_same_origin("http://127.0.0.1:8080/prefix", "http://127.0.0.1:8080/v1/Tools?Page=1", "u")
    check_same_origin("https://assistants.twilio.com", "https://ASSISTANTS.twilio.com:443/v1/Tools", "u")
    check_same_origin("https://assistants.twilio.com", "/v1/Tools?Page=1", "u")
    for bad in (
        "http://assistants.twilio.com/v1/Tools",
        "https://assistants.twilio.com:8443/v1/Tools",
        "https://evil.example/v1/Tools",
        "//evil.example/v1/Tools",
        "https://assistants.twilio.com:x/v1",
    ):
        with pytest.raises(MalformedResponseError):
            check_same_origin("https://assistants.twilio.com", bad, "u")


# ------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("style", ["legacy", "rfc9457"])
async def test_error_bodies_become_readable_permanent_errors(
    fake: TwilioAssistantsFake, client: TwilioAssistantsClient, credentials: TwilioCredentials, style: Any
) -> None:
    fake.error_style = style
    auth = credentials.auth()
    with pytest.raises(PermanentUpstreamError) as invalid:
        await client.create(auth, desired(type="FUNCTION"))
    error = invalid.value
    assert type(error) is PermanentUpstreamError
    assert error.status == 400 and error.code == "20001"
    assert error.message == "type must be one of WEBHOOK"
    assert str(error) == "twilio-assistants: HTTP 400 (code 20001) type must be one of WEBHOOK"
    with pytest.raises(NotFoundError) as missing:
        await client.fetch(auth, MISSING_TOOL)
    assert missing.value.message == f"The requested resource /v1/Tools/{MISSING_TOOL} was not found"
    fake.require_detach_before_delete = True
    assistant = make_prefixed_id("aia_asst_")
    tool = await client.create(auth, desired(assistant_id=assistant))
    with pytest.raises(PermanentUpstreamError, match="detach it first"):
        await client.delete(auth, tool.id)
    assert len(fake.requests_matching("DELETE")) == 1  # permanent: not retried


async def test_rate_limits_are_retried_even_for_creates(
    fake: TwilioAssistantsFake, client: TwilioAssistantsClient, credentials: TwilioCredentials
) -> None:
    fake.faults.rate_limit(times=2, retry_after=0, method="POST", path=TOOLS_PATH)
    created = await client.create(credentials.auth(), desired())
    assert [r.status for r in fake.requests_matching("POST", TOOLS_PATH)] == [429, 429, 201]
    assert fake.count_creates() == 1
    fake.faults.rate_limit(times=2, retry_after=None, method="GET", path=TOOL_PATH)
    assert (await client.fetch(credentials.auth(), created.id)).id == created.id
    assert [r.status for r in fake.requests_matching("GET", TOOL_PATH)] == [429, 429, 200]


async def test_rate_limit_that_outlasts_the_attempts_surfaces_as_transient(
    fake: TwilioAssistantsFake, client: TwilioAssistantsClient, credentials: TwilioCredentials
) -> None:
    fake.faults.rate_limit(times=None, retry_after=None, method="POST", path=ASSISTANT_TOOL_PATH)
    with pytest.raises(TransientUpstreamError) as limited:
        await client.attach(credentials.auth(), make_prefixed_id("aia_asst_"), MISSING_TOOL)
    assert limited.value.status == 429 and limited.value.code == "20429"
    assert len(fake.requests) == TINY.max_attempts


async def test_server_errors_retry_reads_but_not_creates(
    fake: TwilioAssistantsFake, client: TwilioAssistantsClient, credentials: TwilioCredentials
) -> None:
    auth = credentials.auth()
    fake.faults.server_error(500, times=1, method="POST", path=TOOLS_PATH)
    with pytest.raises(TransientUpstreamError) as failed:
        await client.create(auth, desired())
    assert failed.value.status == 500
    assert len(fake.requests_matching("POST", TOOLS_PATH)) == 1  # may have been processed: never resent
    created = await client.create(auth, desired())
    fake.faults.server_error(503, times=2, method="GET")
    assert (await client.fetch(auth, created.id)).id == created.id
    assert [r.status for r in fake.requests_matching("GET", TOOL_PATH)] == [503, 503, 200]
    fake.faults.server_error(500, times=1, method="PUT")
    assert (await client.update(auth, created.id, desired(name="n2"))).name == "n2"


async def test_malformed_success_bodies(
    fake: TwilioAssistantsFake, client: TwilioAssistantsClient, credentials: TwilioCredentials
) -> None:
    auth = credentials.auth()
    created = await client.create(auth, desired())
    fake.faults.malformed(times=1, method="GET", path=TOOL_PATH)
    with pytest.raises(MalformedResponseError) as malformed:  # transient: the caller tries again later
        await client.fetch(auth, created.id)
    assert isinstance(malformed.value, TransientUpstreamError)
    assert (await client.fetch(auth, created.id)).id == created.id
    fake.faults.respond(200, {"tools": "nope", "meta": {"key": "tools"}}, times=None, method="GET")
    with pytest.raises(MalformedResponseError):
        await collect(client.list(auth))
