"""Twilio status callbacks, verified: the fake posts signed callbacks to each build's own URL and status
follows at once (polling is only the safety net); forged, unsigned, replayed and off-target callbacks are
refused and change nothing; a signed callback's payload is never taken for status."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, OperatorHandle, Stack
from tests.integration.conftest import (
    ASSISTANT,
    create_secret,
    modelbuild,
    status_of,
    wait_event,
    wait_phase,
)
from tests.support.waiting import eventually

NEVER = 3600  # a poll interval no test waits for: only callbacks can move these builds' status


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign(token: str, url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(key + params[key] for key in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


class Callbacks:
    def __init__(self, stack: Stack, port: int) -> None:
        self.stack = stack
        self.base = f"http://127.0.0.1:{port}"

    def url_of(self, obj: dict[str, Any]) -> str:
        meta = obj["metadata"]
        return f"{self.base}/callbacks/modelbuilds/{meta['namespace']}/{meta['name']}/{meta['uid']}"

    async def post(self, url: str, params: dict[str, str], signature: str | None) -> int:
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        async with httpx.AsyncClient() as client:
            return (await client.post(url, data=params, headers=headers)).status_code


@pytest.fixture
async def callbacks(stack: Stack) -> AsyncIterator[tuple[Callbacks, OperatorHandle]]:
    await create_secret(stack)
    port = free_port()
    hooks = Callbacks(stack, port)
    async with stack.operator(callback_port=port, callback_base_url=hooks.base) as handle:
        yield hooks, handle


def slow_build(name: str) -> dict[str, Any]:
    return modelbuild(name, polling={"intervalSeconds": NEVER, "driftIntervalSeconds": NEVER})


async def test_a_signed_callback_moves_status_without_polling(
    stack: Stack, callbacks: tuple[Callbacks, OperatorHandle]
) -> None:
    hooks, _ = callbacks
    await stack.apply(slow_build("pushed"))
    running = await wait_phase(stack, "pushed", "Running")
    sid = running["status"]["externalId"]
    # The build was given this resource's own callback URL.
    [create] = stack.autopilot.requests_matching("POST", rf"^/v1/Assistants/{ASSISTANT}/ModelBuilds$")
    assert create.form["StatusCallback"] == hooks.url_of(running)
    done = await wait_phase(stack, "pushed", "Succeeded", timeout=15)
    assert done["status"]["externalId"] == sid
    delivered = [c for c in stack.autopilot.callbacks if c.url == hooks.url_of(running)]
    assert delivered and all(c.status == 204 for c in delivered)
    # Each callback made one read of that build; no list, no other resource.
    reads = stack.autopilot.requests_matching("GET", rf"/ModelBuilds/{sid}$")
    assert 1 <= len(reads) <= len(delivered) + 1
    # The transitions a callback revealed are told as Events, as when polling finds them (kopf posts Events
    # from a queue: wait for them).
    await wait_event(stack, "pushed", "Succeeded")
    await wait_event(stack, "pushed", "RemoteStatusChanged")


async def test_forged_unsigned_replayed_and_off_target_callbacks_change_nothing(
    stack: Stack, callbacks: tuple[Callbacks, OperatorHandle]
) -> None:
    hooks, _ = callbacks
    stack.autopilot.script("held", outcome="completed", stage_seconds=NEVER)  # stays enqueued
    await stack.apply(slow_build("held-one"))
    await stack.apply(slow_build("held-two"))
    one = await wait_phase(stack, "held-one", "Running")
    two = await wait_phase(stack, "held-two", "Running")
    sid_one, sid_two = one["status"]["externalId"], two["status"]["externalId"]
    url_one, url_two = hooks.url_of(one), hooks.url_of(two)
    claim = {
        "AccountSid": SANDBOX_ACCOUNT_SID,
        "AssistantSid": ASSISTANT,
        "ModelBuildSid": sid_one,
        "Status": "completed",
    }
    other_account_token = "not-this-accounts-token"
    stack.autopilot.clear_requests()
    refused = {
        "unsigned": await hooks.post(url_one, claim, None),
        "wrongly signed": await hooks.post(url_one, claim, "c2lnbmF0dXJl"),
        "signed for another account": await hooks.post(
            url_one, claim, sign(other_account_token, url_one, claim)
        ),
        "replayed to another resource": await hooks.post(
            url_two, claim, sign(SANDBOX_AUTH_TOKEN, url_one, claim)
        ),
        "about another build": await hooks.post(
            url_two, claim, sign(SANDBOX_AUTH_TOKEN, url_two, claim)
        ),  # genuine for url_two, but it names held-one's build
        "unknown resource": await hooks.post(
            url_one.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000",
            claim,
            sign(SANDBOX_AUTH_TOKEN, url_one, claim),
        ),
    }
    assert all(400 <= status < 500 for status in refused.values()), refused
    # A genuine callback that claims "completed" for a build still enqueued: accepted, observed, not believed.
    assert await hooks.post(url_one, claim, sign(SANDBOX_AUTH_TOKEN, url_one, claim)) == 204
    await eventually(
        lambda: stack.autopilot.requests_matching("GET", rf"/ModelBuilds/{sid_one}$"), what="one observation"
    )
    assert (
        stack.autopilot.requests_matching("GET", rf"/ModelBuilds/{sid_two}$") == []
    )  # refused: nothing read
    for name in ("held-one", "held-two"):
        status = await status_of(stack, name)
        assert status["phase"] == "Running" and status["remoteStatus"] == "enqueued", name


async def test_a_users_own_callback_goes_through_unchanged(
    stack: Stack, callbacks: tuple[Callbacks, OperatorHandle]
) -> None:
    hooks, _ = callbacks
    await stack.apply(
        modelbuild("theirs", uniqueName="theirs", statusCallback="https://hooks.example.com/done")
    )
    await stack.apply(modelbuild("ours", uniqueName="ours"))
    await wait_phase(stack, "theirs", "Running")
    ours = await wait_phase(stack, "ours", "Running")
    posts = {
        r.form["UniqueName"]: r.form.get("StatusCallback")
        for r in stack.autopilot.requests_matching("POST", rf"^/v1/Assistants/{ASSISTANT}/ModelBuilds$")
    }
    assert posts == {"theirs": "https://hooks.example.com/done", "ours": hooks.url_of(ours)}
