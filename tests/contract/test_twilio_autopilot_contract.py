"""Contract tests: the fake Twilio Autopilot v1 ModelBuilds API against Twilio's official OpenAPI spec.

Every response body the fake gives is validated against the spec's schema (``nullable`` converted, all
documented fields required, no undocumented fields). Lifecycles are driven by a ManualClock, never real time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web
from jsonschema import Draft202012Validator

from modelops_sandbox.fakes import (
    FakeUpstream,
    FaultRule,
    ManualClock,
    RecordedRequest,
    TwilioAutopilotFake,
)
from modelops_sandbox.fakes.twilio_autopilot import MODEL_BUILD_PATH, MODEL_BUILDS_PATH, make_sid

SPEC = "twilio_autopilot_v1.json"
LIST_PATH = "/v1/Assistants/{AssistantSid}/ModelBuilds"
INSTANCE_PATH = "/v1/Assistants/{AssistantSid}/ModelBuilds/{Sid}"
MODEL_BUILD_REF = "#/components/schemas/autopilot.v1.assistant.model_build"

# Twilio's error body is not in the OpenAPI spec; UPSTREAMS.md §1 documents it.
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


class Contract:
    """Validators built from the official spec."""

    def __init__(
        self, spec: dict[str, Any], make: Callable[..., Draft202012Validator], response: Any
    ) -> None:
        self.spec = spec
        self.build = make(spec, MODEL_BUILD_REF)
        self.create = make(spec, response(spec, LIST_PATH, "post", 201))
        self.fetch = make(spec, response(spec, INSTANCE_PATH, "get", 200))
        self.update = make(spec, response(spec, INSTANCE_PATH, "post", 200))
        self.list = make(spec, response(spec, LIST_PATH, "get", 200))
        self.error = Draft202012Validator(TWILIO_ERROR_SCHEMA)

    def created(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 201, response.text
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        self.create.validate(body)
        return body

    def fetched(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.fetch.validate(body)
        return body

    def updated(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.update.validate(body)
        return body

    def listed(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.list.validate(body)
        assert body["meta"]["key"] == "model_builds"
        return body

    def failed(self, response: httpx.Response, status: int, code: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        self.error.validate(body)
        assert body["status"] == status
        assert body["code"] == code
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
        return body


@pytest.fixture(scope="module")
def contract(load_spec: Any, openapi_validator: Any, spec_response: Any) -> Contract:
    return Contract(load_spec(SPEC), openapi_validator, spec_response)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[TwilioAutopilotFake]:
    async with TwilioAutopilotFake(clock=clock, callback_poll_interval=None) as server:
        yield server


@pytest.fixture
def account(fake: TwilioAutopilotFake) -> tuple[str, str]:
    return fake.new_account()


@pytest.fixture
def assistant() -> str:
    return make_sid("UA")


@pytest.fixture
async def client(fake: TwilioAutopilotFake, account: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url, auth=account, timeout=5.0) as http:
        yield http


def builds_path(assistant: str) -> str:
    return f"/v1/Assistants/{assistant}/ModelBuilds"


async def create(client: httpx.AsyncClient, assistant: str, **form: str) -> httpx.Response:
    return await client.post(builds_path(assistant), data=form)


# ------------------------------------------------------------------------------------- the converter itself


def test_spec_examples_validate_against_converted_schemas(
    contract: Contract, spec_examples: Callable[..., list[Any]]
) -> None:
    """Sanity check of the OpenAPI -> JSON Schema conversion: Twilio's own examples pass it."""
    spec = contract.spec
    cases = [
        (contract.create, spec_examples(spec, LIST_PATH, "post", 201)),
        (contract.fetch, spec_examples(spec, INSTANCE_PATH, "get", 200)),
        (contract.update, spec_examples(spec, INSTANCE_PATH, "post", 200)),
        (contract.list, spec_examples(spec, LIST_PATH, "get", 200)),
    ]
    for validator, examples in cases:
        assert examples
        for example in examples:
            validator.validate(example)
    # and the conversion really is strict: an undocumented field or a missing one is rejected
    example = spec_examples(spec, INSTANCE_PATH, "get", 200)[0]
    assert not contract.fetch.is_valid({**example, "extra": 1})
    assert not contract.fetch.is_valid({k: v for k, v in example.items() if k != "status"})
    assert not contract.fetch.is_valid({**example, "status": "done"})
    assert contract.fetch.is_valid({**example, "status": None})


# ------------------------------------------------------------------------------------------------ CRUD


async def test_create_is_form_encoded_and_answers_201_enqueued(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract, account: tuple[str, str]
) -> None:
    assistant = make_sid("UA")
    response = await create(
        client, assistant, UniqueName="build-one", StatusCallback="https://example.com/cb"
    )
    body = contract.created(response)
    assert body["status"] == "enqueued"
    assert body["unique_name"] == "build-one"
    assert body["account_sid"] == account[0]
    assert body["assistant_sid"] == assistant
    assert re.fullmatch(r"UG[0-9a-f]{32}", body["sid"])
    assert body["url"] == f"{fake.url}/v1/Assistants/{assistant}/ModelBuilds/{body['sid']}"
    assert body["build_duration"] is None and body["error_code"] is None
    assert body["date_created"] == body["date_updated"]
    assert "status_callback" not in body  # create-only, never echoed
    recorded = fake.requests_matching("POST", MODEL_BUILDS_PATH)[-1]
    assert recorded.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert recorded.form == {"UniqueName": "build-one", "StatusCallback": "https://example.com/cb"}
    assert recorded.status == 201
    assert fake.count_creates() == 1
    # the absolute url is directly usable
    contract.fetched(await client.get(body["url"]))


async def test_unique_name_defaults_to_the_sid(client: httpx.AsyncClient, contract: Contract) -> None:
    assistant = make_sid("UA")
    body = contract.created(await create(client, assistant))
    assert body["unique_name"] == body["sid"]


async def test_every_post_to_the_list_starts_a_new_build(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    assistant = make_sid("UA")
    first = contract.created(await create(client, assistant))
    second = contract.created(await create(client, assistant))
    assert first["sid"] != second["sid"]
    assert fake.count_creates(assistant) == 2


async def test_fetch_by_sid_and_by_unique_name(client: httpx.AsyncClient, contract: Contract) -> None:
    assistant = make_sid("UA")
    created = contract.created(await create(client, assistant, UniqueName="by-name"))
    by_sid = contract.fetched(await client.get(f"{builds_path(assistant)}/{created['sid']}"))
    by_name = contract.fetched(await client.get(f"{builds_path(assistant)}/by-name"))
    assert by_sid == by_name == created


async def test_update_unique_name(client: httpx.AsyncClient, contract: Contract, clock: ManualClock) -> None:
    assistant = make_sid("UA")
    created = contract.created(await create(client, assistant, UniqueName="old-name"))
    clock.advance(0.5)
    updated = contract.updated(
        await client.post(f"{builds_path(assistant)}/old-name", data={"UniqueName": "new"})
    )
    assert updated["sid"] == created["sid"]
    assert updated["unique_name"] == "new"
    assert updated["date_created"] == created["date_created"]
    contract.fetched(await client.get(f"{builds_path(assistant)}/new"))
    contract.failed(await client.get(f"{builds_path(assistant)}/old-name"), 404, 20404)
    # an update without UniqueName changes nothing
    same = contract.updated(await client.post(f"{builds_path(assistant)}/{created['sid']}", data={}))
    assert same["unique_name"] == "new"


async def test_unique_name_rules(client: httpx.AsyncClient, contract: Contract) -> None:
    assistant = make_sid("UA")
    contract.created(await create(client, assistant, UniqueName="taken"))
    duplicate = contract.failed(await create(client, assistant, UniqueName="taken"), 400, 20001)
    assert "taken" in duplicate["message"]
    contract.failed(await create(client, assistant, UniqueName="x" * 65), 400, 20001)
    contract.created(await create(client, assistant, UniqueName="y" * 64))
    other = contract.created(await create(client, assistant, UniqueName="other"))
    contract.failed(
        await client.post(f"{builds_path(assistant)}/{other['sid']}", data={"UniqueName": "taken"}),
        400,
        20001,
    )
    # unique per assistant only
    contract.created(await create(client, make_sid("UA"), UniqueName="taken"))


async def test_delete_answers_204_then_404(client: httpx.AsyncClient, contract: Contract) -> None:
    assistant = make_sid("UA")
    created = contract.created(await create(client, assistant, UniqueName="doomed"))
    response = await client.delete(f"{builds_path(assistant)}/{created['sid']}")
    assert response.status_code == 204
    assert response.content == b""
    contract.failed(await client.get(f"{builds_path(assistant)}/{created['sid']}"), 404, 20404)
    contract.failed(await client.get(f"{builds_path(assistant)}/doomed"), 404, 20404)
    contract.failed(await client.delete(f"{builds_path(assistant)}/{created['sid']}"), 404, 20404)


async def test_not_found_cases(client: httpx.AsyncClient, contract: Contract) -> None:
    assistant = make_sid("UA")
    contract.failed(await client.get(f"{builds_path(assistant)}/{make_sid('UG')}"), 404, 20404)
    contract.failed(await client.get(f"{builds_path(assistant)}/no-such-name"), 404, 20404)
    contract.failed(await client.post(f"{builds_path(assistant)}/{make_sid('UG')}", data={}), 404, 20404)
    contract.failed(await client.get(builds_path("UAnot-a-sid")), 404, 20404)
    contract.failed(await client.post(builds_path("not-a-sid"), data={}), 404, 20404)
    contract.failed(await client.get("/v1/Nothing"), 404, 20404)
    contract.failed(await client.put(builds_path(assistant)), 405, 20004)


async def test_accounts_are_isolated(fake: TwilioAutopilotFake, contract: Contract) -> None:
    assistant = make_sid("UA")
    first, second = fake.new_account(), fake.new_account()
    async with (
        httpx.AsyncClient(base_url=fake.url, auth=first) as one,
        httpx.AsyncClient(base_url=fake.url, auth=second) as two,
    ):
        created = contract.created(await create(one, assistant, UniqueName="mine"))
        contract.failed(await two.get(f"{builds_path(assistant)}/{created['sid']}"), 404, 20404)
        assert contract.listed(await two.get(builds_path(assistant)))["model_builds"] == []


# ------------------------------------------------------------------------------------------------ listing


async def test_list_pages_follow_next_page_url_verbatim(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    assistant = make_sid("UA")
    sids = []
    for i in range(7):
        sids.append(contract.created(await create(client, assistant, UniqueName=f"b{i}"))["sid"])
        clock.advance(0.1)
    pages = []
    url: str | None = f"{fake.url}{builds_path(assistant)}?PageSize=3"
    while url is not None:
        body = contract.listed(await client.get(url))
        pages.append(body)
        url = body["meta"]["next_page_url"]
        assert len(pages) <= 3
    assert [len(p["model_builds"]) for p in pages] == [3, 3, 1]
    assert [b["sid"] for p in pages for b in p["model_builds"]] == sids
    assert [p["meta"]["page"] for p in pages] == [0, 1, 2]
    for page in pages:
        meta = page["meta"]
        assert meta["page_size"] == 3
        assert meta["first_page_url"] == f"{fake.url}{builds_path(assistant)}?PageSize=3&Page=0"
    assert pages[0]["meta"]["previous_page_url"] is None
    assert pages[2]["meta"]["next_page_url"] is None
    assert pages[1]["meta"]["url"] == pages[0]["meta"]["next_page_url"]
    assert pages[2]["meta"]["url"] == pages[1]["meta"]["next_page_url"]
    back = contract.listed(await client.get(pages[2]["meta"]["previous_page_url"]))
    assert [b["sid"] for b in back["model_builds"]] == sids[3:6]
    # every listed build is a valid model build
    for page in pages:
        for build in page["model_builds"]:
            contract.build.validate(build)


async def test_list_defaults_and_empty_page_match_the_spec_example(
    fake: TwilioAutopilotFake,
    client: httpx.AsyncClient,
    contract: Contract,
    spec_examples: Callable[..., list[Any]],
) -> None:
    assistant = make_sid("UA")
    body = contract.listed(await client.get(builds_path(assistant)))
    example = spec_examples(contract.spec, LIST_PATH, "get", 200)[0]
    expected = json.loads(
        json.dumps(example)
        .replace("https://autopilot.twilio.com", fake.url)
        .replace("UA" + "a" * 32, assistant)
    )
    assert body == expected
    for i in range(3):
        contract.created(await create(client, assistant, UniqueName=f"n{i}"))
    full = contract.listed(await client.get(builds_path(assistant)))
    assert full["meta"]["page_size"] == 50
    assert len(full["model_builds"]) == 3
    assert full["meta"]["next_page_url"] is None


@pytest.mark.parametrize(
    "query", ["PageSize=0", "PageSize=1001", "PageSize=abc", "Page=-1", "PageToken=bogus"]
)
async def test_list_rejects_bad_paging(client: httpx.AsyncClient, contract: Contract, query: str) -> None:
    contract.failed(await client.get(f"{builds_path(make_sid('UA'))}?{query}"), 400, 20001)


async def test_list_page_size_bounds_accepted(client: httpx.AsyncClient, contract: Contract) -> None:
    assistant = make_sid("UA")
    contract.created(await create(client, assistant))
    for size in (1, 1000):
        body = contract.listed(await client.get(f"{builds_path(assistant)}?PageSize={size}"))
        assert body["meta"]["page_size"] == size


# ---------------------------------------------------------------------------------------------- lifecycles


async def test_status_progresses_with_the_clock(
    client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    assistant = make_sid("UA")
    created = contract.created(await create(client, assistant, UniqueName="life"))
    path = f"{builds_path(assistant)}/life"
    clock.advance(0.999)
    assert contract.fetched(await client.get(path))["status"] == "enqueued"
    clock.advance(0.001)
    building = contract.fetched(await client.get(path))
    assert building["status"] == "building"
    assert building["build_duration"] is None
    assert building["date_updated"] > created["date_updated"]
    clock.advance(1.0)
    done = contract.fetched(await client.get(path))
    assert done["status"] == "completed"
    assert done["build_duration"] == 1
    assert done["error_code"] is None
    clock.advance(100)
    assert contract.fetched(await client.get(path)) == done  # terminal: nothing moves any more


async def test_scripted_outcomes(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    fake.script(".*", "completed", build_duration=42)
    fake.script("^fail-", "failed", error_code=23002)
    fake.script("^cancel-", "canceled")
    fake.script("^hang-", "hang")
    fake.script("^slow-", "completed", stage_seconds=5.0)
    assistant = make_sid("UA")
    for name in ("ok-1", "fail-1", "cancel-1", "hang-1", "slow-1"):
        contract.created(await create(client, assistant, UniqueName=name))
    clock.advance(2.0)
    listed = contract.listed(await client.get(builds_path(assistant)))
    by_name = {b["unique_name"]: b for b in listed["model_builds"]}
    assert by_name["ok-1"]["status"] == "completed" and by_name["ok-1"]["build_duration"] == 42
    assert by_name["fail-1"]["status"] == "failed"
    assert by_name["fail-1"]["error_code"] == 23002 and by_name["fail-1"]["build_duration"] is None
    assert by_name["cancel-1"]["status"] == "canceled" and by_name["cancel-1"]["error_code"] is None
    assert by_name["hang-1"]["status"] == "building"
    assert by_name["slow-1"]["status"] == "enqueued"
    clock.advance(3600.0)
    assert contract.fetched(await client.get(f"{builds_path(assistant)}/hang-1"))["status"] == "building"
    assert contract.fetched(await client.get(f"{builds_path(assistant)}/slow-1"))["status"] == "completed"


async def test_force_status_and_out_of_band_deletion(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract, clock: ManualClock
) -> None:
    assistant = make_sid("UA")
    kept = contract.created(await create(client, assistant, UniqueName="kept"))
    gone = contract.created(await create(client, assistant, UniqueName="gone"))
    clock.advance(1.5)
    fake.force_status(assistant, "kept", "canceled")
    clock.advance(10)
    assert (
        contract.fetched(await client.get(f"{builds_path(assistant)}/{kept['sid']}"))["status"] == "canceled"
    )
    fake.delete_out_of_band(assistant, gone["sid"])
    contract.failed(await client.get(f"{builds_path(assistant)}/{gone['sid']}"), 404, 20404)
    contract.failed(await client.delete(f"{builds_path(assistant)}/gone"), 404, 20404)
    listed = contract.listed(await client.get(builds_path(assistant)))
    assert [b["sid"] for b in listed["model_builds"]] == [kept["sid"]]
    assert [b["sid"] for b in fake.builds] == [kept["sid"]]
    assert fake.count_creates() == 2
    with pytest.raises(KeyError):
        fake.delete_out_of_band(assistant, gone["sid"])


# ---------------------------------------------------------------------------------------------------- auth


async def test_auth_failures_answer_20003(
    fake: TwilioAutopilotFake, contract: Contract, account: tuple[str, str]
) -> None:
    path = builds_path(make_sid("UA"))
    attempts: list[Any] = [
        None,
        (account[0], "wrong-token"),
        (make_sid("AC"), account[1]),
        (make_sid("SK"), "secret"),
    ]
    async with httpx.AsyncClient(base_url=fake.url) as anonymous:
        for auth in attempts:
            response = await anonymous.get(path, auth=auth) if auth else await anonymous.get(path)
            body = contract.failed(response, 401, 20003)
            assert body["message"] == "Authenticate"
            assert response.headers["WWW-Authenticate"].startswith("Basic")
        bearer = await anonymous.get(path, headers={"Authorization": f"Bearer {account[1]}"})
        contract.failed(bearer, 401, 20003)
        garbage = await anonymous.get(path, headers={"Authorization": "Basic !!!"})
        contract.failed(garbage, 401, 20003)
    assert fake.count_creates() == 0


async def test_api_key_auth_acts_for_its_account(
    fake: TwilioAutopilotFake, contract: Contract, account: tuple[str, str]
) -> None:
    key_sid, secret = make_sid("SK"), "key-secret"
    fake.add_api_key(account[0], key_sid, secret)
    assistant = make_sid("UA")
    async with httpx.AsyncClient(base_url=fake.url, auth=(key_sid, secret)) as http:
        body = contract.created(await create(http, assistant, UniqueName="via-key"))
        assert body["account_sid"] == account[0]
        contract.failed(await http.get(builds_path(assistant), auth=(key_sid, "nope")), 401, 20003)
    async with httpx.AsyncClient(base_url=fake.url, auth=account) as http:
        contract.fetched(await http.get(f"{builds_path(assistant)}/via-key"))
    recorded = fake.requests_matching("POST", MODEL_BUILDS_PATH)[0]
    assert recorded.principal == key_sid
    assert recorded.headers["Authorization"] == "Basic REDACTED"
    assert secret not in repr(fake.requests)


# -------------------------------------------------------------------------------------------------- faults


async def test_rate_limit_with_retry_after(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    handle = fake.faults.rate_limit(times=2, retry_after=1, method="POST", path=MODEL_BUILDS_PATH)
    assistant = make_sid("UA")
    for _ in range(2):
        response = await create(client, assistant, UniqueName="limited")
        contract.failed(response, 429, 20429)
        assert response.headers["Retry-After"] == "1"
    assert handle.exhausted and handle.hits == 2
    assert fake.count_creates() == 0  # never processed: safe to retry
    contract.created(await create(client, assistant, UniqueName="limited"))
    statuses = [r.status for r in fake.requests_matching("POST", MODEL_BUILDS_PATH)]
    assert statuses == [429, 429, 201]
    assert [r.fault for r in fake.requests_matching("POST")] == ["respond", "respond", None]


async def test_rate_limit_without_retry_after(
    client: httpx.AsyncClient, fake: TwilioAutopilotFake, contract: Contract
) -> None:
    fake.faults.rate_limit(times=1, retry_after=None)
    response = await client.get(builds_path(make_sid("UA")))
    contract.failed(response, 429, 20429)
    assert "Retry-After" not in response.headers
    contract.listed(await client.get(builds_path(make_sid("UA"))))


@pytest.mark.parametrize("status,code", [(500, 20500), (503, 20503)])
async def test_server_error_fault(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract, status: int, code: int
) -> None:
    fake.faults.server_error(status, times=1, method="GET")
    assistant = make_sid("UA")
    contract.created(await create(client, assistant))  # POST is not matched
    contract.failed(await client.get(builds_path(assistant)), status, code)
    contract.listed(await client.get(builds_path(assistant)))


async def test_malformed_fault(fake: TwilioAutopilotFake, client: httpx.AsyncClient) -> None:
    fake.faults.malformed(times=1, path=MODEL_BUILD_PATH)
    response = await client.get(f"{builds_path(make_sid('UA'))}/{make_sid('UG')}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()
    assert fake.requests[-1].fault == "malformed"


async def test_delay_fault_then_real_handler(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.faults.add(FaultRule(method="POST", path=MODEL_BUILDS_PATH, delay=0.3))
    started = time.monotonic()
    contract.created(await create(client, make_sid("UA"), UniqueName="slow"))
    assert time.monotonic() - started >= 0.3
    assert fake.count_creates() == 1
    # a delayed canned answer
    fake.faults.add(FaultRule(status=503, delay=0.2))
    started = time.monotonic()
    contract.failed(await client.get(builds_path(make_sid("UA"))), 503, 20503)
    assert time.monotonic() - started >= 0.2


async def test_timeout_fault_holds_the_request(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.faults.timeout(times=1, method="POST")
    assistant = make_sid("UA")
    with pytest.raises(httpx.ReadTimeout):
        await client.post(builds_path(assistant), data={"UniqueName": "never"}, timeout=0.3)
    held = await fake.wait_for_request("POST", MODEL_BUILDS_PATH, timeout=5)
    assert held.status == 0 and held.fault == "timeout"
    assert fake.count_creates() == 0
    contract.created(await create(client, assistant, UniqueName="later"))


async def test_reset_fault_drops_the_connection(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.faults.reset(times=1)
    with pytest.raises(httpx.TransportError):
        await client.get(builds_path(make_sid("UA")))
    assert fake.requests[-1].fault == "reset" and fake.requests[-1].status == 0
    contract.listed(await client.get(builds_path(make_sid("UA"))))


async def test_fault_rules_forever_custom_body_and_clear(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    fake.faults.add(
        FaultRule(
            method="get",
            path=r"/ModelBuilds$",
            status=418,
            body={"teapot": True},
            headers={"X-A": "b"},
            times=None,
        )
    )
    for _ in range(3):
        response = await client.get(builds_path(make_sid("UA")))
        assert response.status_code == 418
        assert response.json() == {"teapot": True}
        assert response.headers["X-A"] == "b"
    contract.created(await create(client, make_sid("UA")))
    fake.faults.clear()
    contract.listed(await client.get(builds_path(make_sid("UA"))))
    with pytest.raises(ValueError):
        FaultRule()
    with pytest.raises(ValueError):
        FaultRule(status=500, times=0)


# ------------------------------------------------------------------------------------ hooks, gates, recording


async def test_gate_holds_the_response_after_the_create_is_applied(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    """The operator dies between the upstream's create and its receipt of the 201: the build exists."""
    assistant = make_sid("UA")
    gate = fake.gate("POST", MODEL_BUILDS_PATH)
    call = asyncio.create_task(create(client, assistant, UniqueName="gated"))
    held = await gate.wait_arrived(timeout=5)
    assert held.status == 201
    assert fake.count_creates() == 1
    assert fake.build(assistant, "gated") is not None
    assert not call.done()
    call.cancel()  # the operator is killed before it reads the answer
    with pytest.raises(asyncio.CancelledError):
        await call
    gate.release(respond=False)
    # after a restart, the deterministic unique name finds the build instead of creating another one
    found = contract.fetched(await client.get(f"{builds_path(assistant)}/gated"))
    assert found["sid"] == fake.builds[0]["sid"]
    assert fake.count_creates() == 1


async def test_gate_release_lets_the_response_through(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient, contract: Contract
) -> None:
    gate = fake.gate("POST", MODEL_BUILDS_PATH)
    call = asyncio.create_task(create(client, make_sid("UA"), UniqueName="released"))
    await gate.wait_arrived(timeout=5)
    assert not call.done()
    gate.release()
    body = contract.created(await call)
    assert body["unique_name"] == "released"
    contract.created(await create(client, make_sid("UA")))  # a used gate holds nothing more


async def test_wait_for_request_and_on_request_hooks(
    fake: TwilioAutopilotFake, client: httpx.AsyncClient
) -> None:
    seen: list[RecordedRequest] = []

    async def hook(record: RecordedRequest) -> None:
        seen.append(record)

    fake.on_request.append(hook)
    assistant = make_sid("UA")
    calls = [asyncio.create_task(create(client, assistant, UniqueName=f"w{i}")) for i in range(2)]
    second = await fake.wait_for_request("POST", MODEL_BUILDS_PATH, count=2, timeout=5)
    assert second.method == "POST" and second.form is not None
    await asyncio.gather(*calls)
    assert len(seen) == 2
    await client.get(f"{builds_path(assistant)}?PageSize=5&Page=0")
    listed = fake.requests_matching("GET", MODEL_BUILDS_PATH)[-1]
    assert listed.query == {"PageSize": "5", "Page": "0"}
    assert listed.query_string == "PageSize=5&Page=0"
    with pytest.raises(TimeoutError):
        await fake.wait_for_request("DELETE", timeout=0.05)
    fake.clear_requests()
    assert fake.requests == []


async def test_recording_is_bounded() -> None:
    class Echo(FakeUpstream):
        def __init__(self) -> None:
            super().__init__(max_recorded=5)
            self.route("POST", "/echo", self.echo)

        async def echo(self, request: web.Request) -> web.StreamResponse:
            return web.json_response({"got": self.request_json()})

    async with Echo() as echo, httpx.AsyncClient(base_url=echo.url) as http:
        assert not echo.url.endswith("/")
        for i in range(8):
            response = await http.post("/echo", json={"i": i}, headers={"X-API-Key": "s3cret"})
            assert response.json() == {"got": {"i": i}}
        assert [r.json for r in echo.requests] == [{"i": i} for i in range(3, 8)]
        assert echo.requests[-1].headers["x-api-key"] == "REDACTED"
        missing = await http.get("/nowhere")
        assert missing.status_code == 404
        assert missing.json()["code"] == 404
    assert not echo.running


# --------------------------------------------------------------------------------------- status callbacks


def expected_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's documented algorithm, written independently of the fake."""
    data = url
    for key in sorted(params):
        data += key + params[key]
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], str]] = []
        self.changed = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/cb", self.receive)
        self.runner = web.AppRunner(self.app)
        self.url = ""

    async def receive(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.calls.append((str(request.url), form, request.headers.get("X-Twilio-Signature", "")))
        self.changed.set()
        return web.Response(status=204)

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while len(self.calls) < count:
                self.changed.clear()
                await self.changed.wait()

    async def __aenter__(self) -> Receiver:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


async def test_status_callbacks_are_signed_and_follow_transitions(clock: ManualClock) -> None:
    fake = TwilioAutopilotFake(clock=clock, callback_poll_interval=0.02)
    async with fake, Receiver() as receiver:
        account_sid, token = fake.new_account()
        callback_url = f"{receiver.url}/cb?tenant=a"
        assistant = make_sid("UA")
        async with httpx.AsyncClient(base_url=fake.url, auth=(account_sid, token)) as http:
            created = (
                await create(http, assistant, UniqueName="cb-build", StatusCallback=callback_url)
            ).json()
        clock.advance(1.0)
        await receiver.wait_for(1)  # driven by the fake's background task, no request needed
        clock.advance(1.0)
        await receiver.wait_for(2)
        statuses = [form["Status"] for _, form, _ in receiver.calls]
        assert statuses == ["building", "completed"]
        for url, form, signature in receiver.calls:
            assert url == callback_url
            assert signature == expected_signature(token, callback_url, form)
            assert signature != expected_signature("other-token", callback_url, form)
            assert form["AccountSid"] == account_sid
            assert form["AssistantSid"] == assistant
            assert form["ModelBuildSid"] == created["sid"]
            assert form["UniqueName"] == "cb-build"
            assert "ErrorCode" not in form
        assert receiver.calls[1][1]["BuildDuration"] == "1"
        assert "BuildDuration" not in receiver.calls[0][1]
        assert all(d.status == 204 and d.error is None for d in fake.callbacks)


async def test_failed_build_callback_and_unreachable_callbacks_are_tolerated(clock: ManualClock) -> None:
    fake = TwilioAutopilotFake(clock=clock, callback_poll_interval=None, callback_timeout=2.0)
    fake.script("^bad", "failed", error_code=23001)
    async with fake, Receiver() as receiver:
        account_sid, token = fake.new_account()
        assistant = make_sid("UA")
        async with Receiver() as dead:
            dead_url = f"{dead.url}/cb"
        async with httpx.AsyncClient(base_url=fake.url, auth=(account_sid, token)) as http:
            await create(http, assistant, UniqueName="bad-build", StatusCallback=f"{receiver.url}/cb")
            await create(http, assistant, UniqueName="lost", StatusCallback=dead_url)
            clock.advance(5.0)
            await fake.deliver_status_callbacks(timeout=5)
            assert [form["Status"] for _, form, _ in receiver.calls] == ["building", "failed"]
            failed = receiver.calls[1][1]
            assert failed["ErrorCode"] == "23001"
            assert receiver.calls[1][2] == expected_signature(token, f"{receiver.url}/cb", failed)
            lost = [d for d in fake.callbacks if d.url == dead_url]
            assert len(lost) == 2 and all(d.status is None and d.error for d in lost)
            # the fake keeps serving; polling stays the source of truth
            body = (await http.get(f"{builds_path(assistant)}/lost")).json()
            assert body["status"] == "completed"
