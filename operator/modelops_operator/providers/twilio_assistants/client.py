"""Async client for Twilio AI Assistants v1 Tools (UPSTREAMS.md §2). No Kubernetes knowledge here.

Request and response bodies are JSON with snake_case keys. Tool ids are chosen by the server and tool names
are not unique, so creating is not idempotent: a caller that lost a create's answer must list and match before
it creates again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ConfigDict

from modelops_operator.providers.http import NonEmpty, UpstreamHTTP, parse_model
from modelops_operator.providers.pagination import twilio_pages

__all__ = ["UPSTREAM", "Policy", "PolicyWrite", "Tool", "ToolMeta", "ToolWrite", "TwilioAssistantsClient"]

UPSTREAM = "twilio-assistants"
TOOLS = "/v1/Tools"
TOOL_ROUTE = "/v1/Tools/{id}"
ATTACHMENTS_ROUTE = "/v1/Assistants/{assistantId}/Tools"
ATTACHMENT_ROUTE = "/v1/Assistants/{assistantId}/Tools/{id}"


class ToolMeta(BaseModel):
    """How the assistant calls the tool: ``input_schema`` is a TypeScript-like type, as a string."""

    model_config = ConfigDict(extra="ignore")

    url: str | None = None
    method: str | None = None
    input_schema: str | None = None


class Policy(BaseModel):
    """A tool's policy as ``GET /v1/Tools/{id}`` returns it. ``policy_details`` is required (by the spec, and
    by the drift comparison: a policy without details would read as drift and be "corrected")."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    name: str | None = None
    description: str | None = None
    account_sid: str | None = None
    user_sid: str | None = None
    type: str | None = None
    policy_details: dict[str, Any]
    date_created: str | None = None
    date_updated: str | None = None


class Tool(BaseModel):
    """The wire representation of a tool. ``policies`` is None unless the tool came from :meth:`fetch`.

    Required: what the operator relies on (all required by the spec too). ``id`` is the external id; ``name``
    matches a lost create's tool after a crash; ``name``, ``type`` and ``enabled`` are compared with the spec,
    so a body without them would read as drift and be "corrected" with a PUT.
    """

    model_config = ConfigDict(extra="ignore")

    id: NonEmpty
    account_sid: str | None = None
    name: str
    description: str | None = None
    type: str
    enabled: bool
    requires_auth: bool | None = None
    meta: ToolMeta | None = None
    url: str | None = None
    date_created: str | None = None
    date_updated: str | None = None
    policies: list[Policy] | None = None

    @property
    def policy(self) -> Policy | None:
        """The tool's (first) policy; None when it has none or the response did not carry policies."""
        return self.policies[0] if self.policies else None


class PolicyWrite(BaseModel):
    """The ``policy`` of a create or update body."""

    model_config = ConfigDict(extra="forbid")

    policy_details: dict[str, Any]
    id: str | None = None
    name: str | None = None
    description: str | None = None
    type: str | None = None


class ToolWrite(BaseModel):
    """The JSON body of ``POST /v1/Tools`` and ``PUT /v1/Tools/{id}``; None fields are not sent.

    A create needs ``name``, ``type`` and ``enabled``. An update replaces the fields it sends: send the full
    desired object. ``assistant_id`` attaches the tool to that assistant (it never detaches).
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    type: str | None = None
    enabled: bool | None = None
    description: str | None = None
    assistant_id: str | None = None
    meta: ToolMeta | None = None
    policy: PolicyWrite | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body: snake_case keys, None fields omitted (values inside ``policy_details`` are kept)."""
        return self.model_dump(mode="json", exclude_none=True)


class TwilioAssistantsClient:
    def __init__(self, http: UpstreamHTTP) -> None:
        self._http = http

    @staticmethod
    def _tool_path(tool_id: str) -> str:
        return f"{TOOLS}/{quote(tool_id, safe='')}"

    @staticmethod
    def _attachments_path(assistant_id: str) -> str:
        return f"/v1/Assistants/{quote(assistant_id, safe='')}/Tools"

    async def create(self, auth: httpx.Auth, body: ToolWrite) -> Tool:
        """Create a tool. Not idempotent: every POST creates a new tool with a new id."""
        missing = [key for key in ("name", "type", "enabled") if getattr(body, key) is None]
        if missing:
            raise ValueError(f"a tool create needs {', '.join(missing)}")
        response = await self._http.request(
            "POST", TOOLS, route=TOOLS, auth=auth, json=body.body(), idempotent=False, ok=(201, 200)
        )
        return self._tool(response)

    async def fetch(self, auth: httpx.Auth, tool_id: str) -> Tool:
        """The tool with its ``policies`` (the only call that returns them). 404 raises NotFoundError."""
        response = await self._http.request(
            "GET", self._tool_path(tool_id), route=TOOL_ROUTE, auth=auth, idempotent=True
        )
        return self._tool(response)

    async def update(self, auth: httpx.Auth, tool_id: str, body: ToolWrite) -> Tool:
        """Replace the fields ``body`` sends (PUT: sending the same object twice is harmless)."""
        response = await self._http.request(
            "PUT", self._tool_path(tool_id), route=TOOL_ROUTE, auth=auth, json=body.body(), idempotent=True
        )
        return self._tool(response)

    async def delete(self, auth: httpx.Auth, tool_id: str) -> None:
        """Delete the tool. 404 raises NotFoundError (callers deleting treat it as already gone)."""
        await self._http.request(
            "DELETE", self._tool_path(tool_id), route=TOOL_ROUTE, auth=auth, idempotent=True, ok=(204, 200)
        )

    async def list(
        self, auth: httpx.Auth, *, assistant_id: str | None = None, page_size: int = 50
    ) -> AsyncIterator[Tool]:
        """Every tool of the account (or those attached to ``assistant_id``), following the pages."""
        query: dict[str, str | int] = {} if assistant_id is None else {"AssistantId": assistant_id}
        query["PageSize"] = page_size
        async for tool in self._pages(auth, f"{TOOLS}?{urlencode(query)}", TOOLS):
            yield tool

    async def attach(self, auth: httpx.Auth, assistant_id: str, tool_id: str) -> None:
        """Attach the tool to the assistant (idempotent). Unknown tool or assistant: NotFoundError."""
        await self._http.request(
            "POST",
            f"{self._attachments_path(assistant_id)}/{quote(tool_id, safe='')}",
            route=ATTACHMENT_ROUTE,
            auth=auth,
            idempotent=True,
            ok=(204, 200),
        )

    async def detach(self, auth: httpx.Auth, assistant_id: str, tool_id: str) -> None:
        """Detach the tool from the assistant. 404 raises NotFoundError."""
        await self._http.request(
            "DELETE",
            f"{self._attachments_path(assistant_id)}/{quote(tool_id, safe='')}",
            route=ATTACHMENT_ROUTE,
            auth=auth,
            idempotent=True,
            ok=(204, 200),
        )

    async def list_attached(
        self, auth: httpx.Auth, assistant_id: str, *, page_size: int = 50
    ) -> AsyncIterator[Tool]:
        """The tools attached to the assistant, following the pages."""
        first = f"{self._attachments_path(assistant_id)}?{urlencode({'PageSize': page_size})}"
        async for tool in self._pages(auth, first, ATTACHMENTS_ROUTE):
            yield tool

    async def _pages(self, auth: httpx.Auth, first: str, route: str) -> AsyncIterator[Tool]:
        async for tool in twilio_pages(
            self._http, auth, first, route=route, default_key="tools", model=Tool, what="tool"
        ):
            yield tool

    @staticmethod
    def _tool(response: httpx.Response) -> Tool:
        return parse_model(UPSTREAM, response, Tool, "tool")
