"""The fake Twilio Autopilot v1 ModelBuilds API, driven by Twilio's official SDK (``twilio`` 8.12.0).

8.12.0 is the last release of twilio-python with Autopilot. The SDK runs in a subprocess (see ``harness``);
these tests assert on what it returned or raised and on the requests the fake recorded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from modelops_sandbox.fakes import FakeUpstream, ManualClock, TwilioAutopilotFake
from modelops_sandbox.fakes.twilio_autopilot import MODEL_BUILD_PATH, MODEL_BUILDS_PATH, make_sid

from .harness import TWILIO_AUTOPILOT_SDK, run_driver, sdk_dir, url_of

DRIVER = "drive_twilio_autopilot"
STAGE_SECONDS = 10.0  # builds only progress when a test advances the ManualClock


class CallbackReceiver(FakeUpstream):
    """Where the fake sends status callbacks: answers 204 and records what it got (signature included)."""

    name = "callback-receiver"
    path = "/twilio/model-build-status"

    def __init__(self) -> None:
        super().__init__()
        self.route("POST", self.path, self._accept)

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)


@pytest.fixture
def sdk() -> Path:
    return sdk_dir(TWILIO_AUTOPILOT_SDK)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000.0)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[TwilioAutopilotFake]:
    # callback_poll_interval=None: callbacks go out only when the test asks (deliver_status_callbacks)
    async with TwilioAutopilotFake(
        clock=clock, stage_seconds=STAGE_SECONDS, callback_poll_interval=None
    ) as server:
        yield server


@pytest.fixture
def account(fake: TwilioAutopilotFake) -> tuple[str, str]:
    return fake.new_account()


def credentials(fake: TwilioAutopilotFake, account: tuple[str, str], assistant: str) -> dict[str, str]:
    return {"url": fake.url, "account_sid": account[0], "auth_token": account[1], "assistant_sid": assistant}


async def test_lifecycle_create_fetch_update_list_delete(
    sdk: Path, fake: TwilioAutopilotFake, account: tuple[str, str]
) -> None:
    assistant = make_sid("UA")
    callback = "https://hooks.example.com/autopilot/status"
    params = {
        **credentials(fake, account, assistant),
        "unique_name": "sdk-build",
        "renamed": "sdk-build-renamed",
        "status_callback": callback,
        "more": 6,
        "page_size": 2,
    }
    result = await run_driver(DRIVER, "lifecycle", sdk, params)

    created = result["created"]
    sid = created["sid"]
    assert sid.startswith("UG") and len(sid) == 34
    assert created["status"] == "enqueued"
    assert created["unique_name"] == "sdk-build"
    assert (created["account_sid"], created["assistant_sid"]) == (account[0], assistant)
    assert created["url"] == f"{fake.url}/v1/Assistants/{assistant}/ModelBuilds/{sid}"
    assert created["build_duration"] is None and created["error_code"] is None
    # the SDK parses the ISO 8601 dates into datetimes (it keeps the raw string when it cannot)
    assert created["date_created_type"] == created["date_updated_type"] == "datetime"
    assert result["fetched_by_sid"]["sid"] == result["fetched_by_unique_name"]["sid"] == sid
    assert result["updated"]["sid"] == sid and result["updated"]["unique_name"] == "sdk-build-renamed"
    assert result["fetched_by_new_name"]["sid"] == sid

    # the create and the update were form-encoded with the SDK's PascalCase keys
    creates = fake.requests_matching("POST", MODEL_BUILDS_PATH)
    assert creates[0].headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert creates[0].form == {"UniqueName": "sdk-build", "StatusCallback": callback}
    assert [r.form for r in creates[1:]] == [{"UniqueName": f"more-{i}"} for i in range(6)]
    update = fake.requests_matching("POST", MODEL_BUILD_PATH)
    assert [r.form for r in update] == [{"UniqueName": "sdk-build-renamed"}]
    assert all(r.status == 201 for r in creates) and update[0].status == 200

    # 7 builds in pages of 2: the SDK followed next_page_url over 4 pages, verbatim
    every = [sid, *result["more_sids"]]
    assert result["listed_sids"] == every
    pages = result["pages"]
    assert [page["sids"] for page in pages] == [every[0:2], every[2:4], every[4:6], every[6:7]]
    assert pages[-1]["next_page_url"] is None
    lists = fake.requests_matching("GET", MODEL_BUILDS_PATH)
    assert len(lists) == 8  # list() walked the 4 pages, then walk_pages() did it again
    first_walk = lists[4:]
    assert first_walk[0].query == {"PageSize": "2"}
    followed = [url_of(fake.url, request) for request in first_walk[1:]]
    assert followed == [page["next_page_url"] for page in pages[:-1]]
    assert all("PageToken" in request.query for request in first_walk[1:])

    # delete answers 204 (the SDK says True), then the build is gone: 404 with Twilio's code 20404
    assert result["deleted"] == {"returned": "True"}
    for after in (result["fetch_after_delete"], result["delete_after_delete"]):
        raised = after["raised"]
        assert raised["type"] == "TwilioRestException"
        assert (raised["status"], raised["code"]) == (404, 20404)
    assert [r.status for r in fake.requests_matching("DELETE", MODEL_BUILD_PATH)] == [204, 404]

    # every request carried HTTP Basic auth with the account SID, and the SDK's identity
    assert all(r.header("Authorization") == "Basic REDACTED" for r in fake.requests)
    assert {r.principal for r in fake.requests} == {account[0]}
    assert all((r.header("User-Agent") or "").startswith("twilio-python/8.12.0") for r in fake.requests)


async def test_terminal_statuses_reach_the_sdk(
    sdk: Path, fake: TwilioAutopilotFake, account: tuple[str, str], clock: ManualClock
) -> None:
    assistant = make_sid("UA")
    fake.script("^doomed$", outcome="failed", error_code=23001)
    fake.script("^trained$", outcome="completed", build_duration=42)
    sids = []
    for name in ("trained", "doomed"):
        params = {**credentials(fake, account, assistant), "unique_name": name, "status_callback": None}
        sids.append((await run_driver(DRIVER, "create", sdk, params))["created"]["sid"])
    clock.advance(2 * STAGE_SECONDS)
    fetched = await run_driver(DRIVER, "fetch", sdk, {**credentials(fake, account, assistant), "sids": sids})
    trained, doomed = fetched["builds"]
    assert (trained["status"], trained["build_duration"], trained["error_code"]) == ("completed", 42, None)
    assert (doomed["status"], doomed["build_duration"], doomed["error_code"]) == ("failed", None, 23001)
    # an omitted StatusCallback is not sent at all (the SDK drops unset values)
    assert [r.form for r in fake.requests_matching("POST", MODEL_BUILDS_PATH)] == [
        {"UniqueName": "trained"},
        {"UniqueName": "doomed"},
    ]


async def test_wrong_credentials_raise_20003(
    sdk: Path, fake: TwilioAutopilotFake, account: tuple[str, str]
) -> None:
    wrong = (account[0], "not-the-token")
    result = await run_driver(DRIVER, "unauthorized", sdk, credentials(fake, wrong, make_sid("UA")))
    raised = result["create"]["raised"]
    assert raised["type"] == "TwilioRestException"
    assert (raised["status"], raised["code"]) == (401, 20003)
    # SDK fault, not the fake's: a list whose first page is refused raises a bare TwilioException("Unable to
    # fetch page", response) from Page.process_response, without Twilio's status or error code, although the
    # answer carried them (twilio 8.12.0 base/page.py; the same in 9.x). The answer itself is checked here.
    listed = result["list"]["raised"]
    assert listed["type"] == "TwilioException" and listed["code"] is None and listed["status"] is None
    assert listed["response"]["status_code"] == 401
    assert json.loads(listed["response"]["text"])["code"] == 20003
    assert [r.status for r in fake.requests] == [401, 401]
    assert all(r.header("Authorization") == "Basic REDACTED" for r in fake.requests)
    assert fake.count_creates() == 0


async def test_status_callbacks_pass_the_sdks_request_validator(
    sdk: Path, fake: TwilioAutopilotFake, account: tuple[str, str], clock: ManualClock
) -> None:
    async with CallbackReceiver() as receiver:
        assistant = make_sid("UA")
        params = {
            **credentials(fake, account, assistant),
            "unique_name": "signed",
            "status_callback": f"{receiver.url}{receiver.path}",
        }
        sid = (await run_driver(DRIVER, "create", sdk, params))["created"]["sid"]
        clock.advance(2 * STAGE_SECONDS)  # enqueued -> building -> completed
        await fake.deliver_status_callbacks()
        received = receiver.requests_matching("POST", f"^{receiver.path}$")
        receiver_url = receiver.url
    assert [r.form["Status"] for r in received if r.form] == ["building", "completed"]
    assert all(r.form and r.form["ModelBuildSid"] == sid for r in received)
    deliveries = [
        {"url": url_of(receiver_url, r), "params": r.form, "signature": r.header("X-Twilio-Signature")}
        for r in received
    ]
    checked = await run_driver(
        DRIVER, "validate_signatures", sdk, {"auth_token": account[1], "deliveries": deliveries}
    )
    assert checked["results"] == [{"valid": True, "tampered_valid": False}] * 2
