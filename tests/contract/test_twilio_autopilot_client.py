"""The Autopilot client against the fake over real HTTP: pagination, errors, and the same-origin guard."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from modelops_operator.providers.errors import MalformedResponseError, NotFoundError, PermanentUpstreamError
from modelops_operator.providers.http import HttpPolicy, UpstreamHTTP
from modelops_operator.providers.twilio_autopilot.client import TwilioAutopilotClient
from modelops_sandbox.fakes import TwilioAutopilotFake

ASSISTANT = "UA" + "c" * 32


@pytest.fixture
async def fake() -> AsyncIterator[TwilioAutopilotFake]:
    async with TwilioAutopilotFake() as fake:
        yield fake


@pytest.fixture
async def client(fake: TwilioAutopilotFake) -> AsyncIterator[tuple[TwilioAutopilotClient, httpx.Auth]]:
    sid, token = fake.new_account()
    http = UpstreamHTTP("twilio-autopilot", fake.url, HttpPolicy(backoff_base_seconds=0.01, max_attempts=3))
    yield TwilioAutopilotClient(http), httpx.BasicAuth(sid, token)
    await http.aclose()


async def test_list_follows_next_page_url_across_pages(
    client: tuple[TwilioAutopilotClient, httpx.Auth],
) -> None:
    api, auth = client
    made = [await api.create(auth, ASSISTANT, unique_name=f"b{i}", status_callback=None) for i in range(7)]
    listed = [build.sid async for build in api.list(auth, ASSISTANT, page_size=3)]
    assert sorted(listed) == sorted(b.sid for b in made)  # 3 pages: 3 + 3 + 1


async def test_fetch_by_unique_name_update_and_delete(
    client: tuple[TwilioAutopilotClient, httpx.Auth],
) -> None:
    api, auth = client
    build = await api.create(auth, ASSISTANT, unique_name="first", status_callback=None)
    assert (await api.fetch(auth, ASSISTANT, "first")).sid == build.sid
    assert (await api.update(auth, ASSISTANT, build.sid or "", unique_name="second")).unique_name == "second"
    await api.delete(auth, ASSISTANT, build.sid or "")
    with pytest.raises(NotFoundError):
        await api.fetch(auth, ASSISTANT, build.sid or "")


async def test_duplicate_unique_name_is_permanent(client: tuple[TwilioAutopilotClient, httpx.Auth]) -> None:
    api, auth = client
    await api.create(auth, ASSISTANT, unique_name="same", status_callback=None)
    with pytest.raises(PermanentUpstreamError) as caught:
        await api.create(auth, ASSISTANT, unique_name="same", status_callback=None)
    assert caught.value.status == 400


async def test_a_next_page_on_another_host_is_refused(
    fake: TwilioAutopilotFake, client: tuple[TwilioAutopilotClient, httpx.Auth]
) -> None:
    api, auth = client
    for i in range(3):
        await api.create(auth, ASSISTANT, unique_name=f"x{i}", status_callback=None)
    fake.public_url = "http://attacker.invalid:81"  # the fake now writes absolute links to another origin
    with pytest.raises(MalformedResponseError, match="origin"):
        [build async for build in api.list(auth, ASSISTANT, page_size=2)]
