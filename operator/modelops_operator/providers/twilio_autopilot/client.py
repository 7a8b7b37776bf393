"""Async client for Twilio Autopilot v1 ModelBuilds (UPSTREAMS.md §1). No Kubernetes knowledge here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

from modelops_operator.providers.http import NonEmpty, UpstreamHTTP, parse_model
from modelops_operator.providers.pagination import twilio_pages

UPSTREAM = "twilio-autopilot"
BUILDS_ROUTE = "/v1/Assistants/{AssistantSid}/ModelBuilds"
BUILD_ROUTE = "/v1/Assistants/{AssistantSid}/ModelBuilds/{Sid}"
TERMINAL_STATUSES = frozenset({"completed", "failed", "canceled"})


class ModelBuild(BaseModel):
    """The wire representation. Every field is nullable in the spec, but a build without its sid and status
    is nothing the operator can act on (a proxy's or a broken gateway's 200): those two are required, and a
    body without them is a `MalformedResponseError`, never a build."""

    model_config = ConfigDict(extra="ignore")

    sid: NonEmpty
    account_sid: str | None = None
    assistant_sid: str | None = None
    # Not limited to the documented words: an unknown one is followed as still running, not refused.
    status: NonEmpty
    unique_name: str | None = None
    build_duration: int | None = None
    error_code: int | None = None
    date_created: str | None = None
    date_updated: str | None = None
    url: str | None = None


class TwilioAutopilotClient:
    def __init__(self, http: UpstreamHTTP) -> None:
        self._http = http

    def _builds(self, assistant_sid: str) -> str:
        return f"/v1/Assistants/{quote(assistant_sid, safe='')}/ModelBuilds"

    async def create(
        self,
        auth: httpx.Auth,
        assistant_sid: str,
        *,
        unique_name: str | None,
        status_callback: str | None,
    ) -> ModelBuild:
        form = {"UniqueName": unique_name, "StatusCallback": status_callback}
        response = await self._http.request(
            "POST",
            self._builds(assistant_sid),
            route=BUILDS_ROUTE,
            auth=auth,
            data={key: value for key, value in form.items() if value},
            idempotent=False,  # every POST starts a new training build
            ok=(201, 200),
        )
        return self._build(response)

    async def fetch(self, auth: httpx.Auth, assistant_sid: str, sid_or_unique_name: str) -> ModelBuild:
        """Fetch by sid, or by unique name (the upstream's documented alternative addressing)."""
        response = await self._http.request(
            "GET",
            f"{self._builds(assistant_sid)}/{quote(sid_or_unique_name, safe='')}",
            route=BUILD_ROUTE,
            auth=auth,
            idempotent=True,
        )
        return self._build(response)

    async def update(self, auth: httpx.Auth, assistant_sid: str, sid: str, *, unique_name: str) -> ModelBuild:
        response = await self._http.request(
            "POST",
            f"{self._builds(assistant_sid)}/{quote(sid, safe='')}",
            route=BUILD_ROUTE,
            auth=auth,
            data={"UniqueName": unique_name},
            idempotent=True,  # setting the same name twice is harmless
        )
        return self._build(response)

    async def delete(self, auth: httpx.Auth, assistant_sid: str, sid: str) -> None:
        await self._http.request(
            "DELETE",
            f"{self._builds(assistant_sid)}/{quote(sid, safe='')}",
            route=BUILD_ROUTE,
            auth=auth,
            idempotent=True,
            ok=(204, 200),
        )

    async def list(
        self, auth: httpx.Auth, assistant_sid: str, *, page_size: int = 1000
    ) -> AsyncIterator[ModelBuild]:
        """Every build of the assistant, following `meta.next_page_url` verbatim (same origin only). Pages
        of the API's maximum size (default 50): one list per interval observes every build of the
        assistant, and Twilio's rate limits count requests, not builds."""
        first = f"{self._builds(assistant_sid)}?PageSize={page_size}"
        async for build in twilio_pages(
            self._http,
            auth,
            first,
            route=BUILDS_ROUTE,
            default_key="model_builds",
            model=ModelBuild,
            what="model build",
        ):
            yield build

    @staticmethod
    def _build(response: httpx.Response) -> ModelBuild:
        return parse_model(UPSTREAM, response, ModelBuild, "model build")
