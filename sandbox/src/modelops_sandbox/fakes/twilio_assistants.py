"""A faithful fake of Twilio AI Assistants v1 Tools (``https://assistants.twilio.com``).

Contract (UPSTREAMS.md §2 and Twilio's OpenAPI ``twilio_assistants_v1.json``):

* ``POST   /v1/Tools``  JSON ``{name, type, enabled}`` required, ``assistant_id?``, ``description?``,
  ``meta?``, ``policy?`` -> 201 tool
* ``GET    /v1/Tools``  ``AssistantId?``, ``PageSize`` (1..1000, 50), ``Page``, ``PageToken``
  -> ``{tools, meta}``
* ``GET    /v1/Tools/{id}``  -> 200 tool **with** ``policies[]`` (the only call that returns policies)
* ``PUT    /v1/Tools/{id}``  same fields, none required -> 200 tool
* ``DELETE /v1/Tools/{id}``  -> 204, then 404
* ``POST   /v1/Assistants/{assistantId}/Tools/{id}``  attach -> 204 (idempotent)
* ``DELETE /v1/Assistants/{assistantId}/Tools/{id}``  detach -> 204
* ``GET    /v1/Assistants/{assistantId}/Tools``  the attached tools, paginated like ``/v1/Tools``

HTTP Basic auth with ``AccountSid:AuthToken`` or ``ApiKeySid:ApiKeySecret`` (the account registry, the Twilio
error codes and the legacy error body are shared with the Autopilot fake in ``twilio_common``); request and response bodies are JSON with
snake_case keys. The spec documents no error schema, so errors use the legacy Twilio shape ``{code, message,
more_info, status}`` by default; ``error_style = "rfc9457"`` switches every error (faults included) to an
RFC 9457 problem ``{type, title, status, detail, code}`` served as ``application/problem+json``.

Where the contract is silent, this fake decides (each choice is a documented attribute or rule):

* Ids: tools ``aia_tool_`` and policies ``aia_plcy_`` followed by a 26-character lower-case ULID (time-ordered
  from the fake's clock); policies carry a ``user_sid`` (``US…``) that is stable per authenticated principal.
* Assistants exist implicitly: any id matching ``^aia_asst_.+$`` is an assistant (``implicit_assistants =
  True``). With ``implicit_assistants = False`` only the ids given to
  :meth:`TwilioAssistantsFake.add_assistant` exist. In a path, a malformed or unknown assistant id answers
  404; as ``assistant_id`` in a body, 400.
* A tool has at most one policy. ``policy`` in a PUT updates that policy in place (its ``id`` and
  ``date_created`` are kept; fields not sent keep their value) or creates it when the tool has none; a
  ``policy.id`` that is not the tool's own policy is refused (400). A policy without ``type`` gets
  :attr:`TwilioAssistantsFake.default_policy_type`. Absent policy ``name``/``description`` render as ``""``.
* ``requires_auth`` (output only) is True exactly when the tool has a policy.
* ``description`` renders as ``""`` and ``meta`` as ``{}`` when never set. ``meta``, when sent, must be
  ``{url (absolute http(s)), method (GET|POST), input_schema? (string)}``; ``type`` must be ``WEBHOOK``.
  Unknown keys in a body (top level, ``meta``, ``policy``) are refused with 400, as are JSON ``null`` values.
* PUT: the fields sent replace the stored ones, the others are kept (no body at all is ``{}``); ``assistant_id`` in a PUT attaches the
  tool (it never detaches). ``date_updated`` moves only when something changed.
* Detaching a tool that is not attached answers 204 (the spec documents only 204); an unknown tool or
  assistant answers 404.
* Deleting a tool that is still attached detaches it implicitly, unless ``require_detach_before_delete =
  True``: then 400 (code 20001) naming the assistants.
* ``GET /v1/Tools?AssistantId=`` lists the tools attached to that assistant (a malformed id is a 400).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from aiohttp import web

from .base import Clock
from .twilio_common import TwilioFake, make_sid, reason_phrase
from .twilio_paging import PagingError, twilio_page

__all__ = [
    "ASSISTANT_TOOLS_PATH",
    "ASSISTANT_TOOL_PATH",
    "TOOLS_PATH",
    "TOOL_PATH",
    "ErrorStyle",
    "TwilioAssistantsFake",
    "make_prefixed_id",
]

ErrorStyle = Literal["legacy", "rfc9457"]

TOOLS_PATH = r"^/v1/Tools$"
"""Regex (for faults, gates and request matching) of the tool list path."""
TOOL_PATH = r"^/v1/Tools/[^/]+$"
"""Regex of a tool instance path."""
ASSISTANT_TOOLS_PATH = r"^/v1/Assistants/[^/]+/Tools$"
"""Regex of the list of the tools attached to an assistant."""
ASSISTANT_TOOL_PATH = r"^/v1/Assistants/[^/]+/Tools/[^/]+$"
"""Regex of an attachment (attach with POST, detach with DELETE)."""

TOOL_PREFIX = "aia_tool_"
POLICY_PREFIX = "aia_plcy_"
ASSISTANT_ID_RE = re.compile(r"^aia_asst_.+$")
POLICY_ID_RE = re.compile(r"^aia_plcy_.+$")
TOOL_TYPES: frozenset[str] = frozenset({"WEBHOOK"})
META_METHODS: frozenset[str] = frozenset({"GET", "POST"})
PROBLEM_CONTENT_TYPE = "application/problem+json"

_TOOL_FIELDS = ("name", "description", "type", "enabled", "meta")
_WRITE_KEYS = frozenset({*_TOOL_FIELDS, "assistant_id", "policy"})
_META_KEYS = frozenset({"url", "method", "input_schema"})
_POLICY_KEYS = frozenset({"id", "name", "description", "type", "policy_details"})
_POLICY_FIELDS = ("name", "description", "type", "policy_details")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def make_prefixed_id(prefix: str, at: dt.datetime | None = None) -> str:
    """``prefix`` + a 26-character ULID (48-bit millisecond time, 80 random bits), lower-case Crockford."""
    when = at or dt.datetime.now(dt.UTC)
    value = (int(when.timestamp() * 1000) & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Invalid(Exception):
    """A request body that breaks the contract; the message is the 400's."""


@dataclasses.dataclass
class _Policy:
    id: str
    account_sid: str
    user_sid: str
    type: str
    policy_details: dict[str, Any]
    name: str
    description: str
    created_at: float
    updated_at: float


@dataclasses.dataclass
class _Tool:
    id: str
    account_sid: str
    seq: int
    name: str
    description: str
    type: str
    enabled: bool
    meta: dict[str, Any]
    created_at: float
    updated_at: float
    policy: _Policy | None = None


@dataclasses.dataclass(frozen=True)
class _Write:
    """A validated create/update body: only the keys that were sent."""

    fields: dict[str, Any]
    assistant_id: str | None
    policy: dict[str, Any] | None


class TwilioAssistantsFake(TwilioFake):
    """Fake Twilio AI Assistants v1 Tools; see the module docstring for the contract and its decisions."""

    name = "twilio-assistants"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        error_style: ErrorStyle = "legacy",
        implicit_assistants: bool = True,
        require_detach_before_delete: bool = False,
        default_policy_type: str = "CUSTOM",
        max_recorded: int = 10_000,
    ) -> None:
        super().__init__(clock=clock, max_recorded=max_recorded)
        self.error_style: ErrorStyle = error_style
        self.implicit_assistants = implicit_assistants
        self.require_detach_before_delete = require_detach_before_delete
        self.default_policy_type = default_policy_type
        self._tools: dict[str, _Tool] = {}
        self._seq_by_id: dict[str, int] = {}  # every tool id ever created (page tokens survive deletions)
        self._next_seq = 0
        self._assistants: set[str] = set()
        self._attachments: dict[str, set[str]] = {}  # assistant id -> tool ids
        self._user_sids: dict[str, str] = {}  # principal -> US sid
        self._creates: list[tuple[str, str]] = []  # (account sid, tool id) of every successful create

        self.route("POST", "/v1/Tools", self._create)
        self.route("GET", "/v1/Tools", self._list)
        self.route("GET", "/v1/Tools/{id}", self._fetch)
        self.route("PUT", "/v1/Tools/{id}", self._update)
        self.route("DELETE", "/v1/Tools/{id}", self._delete)
        self.route("GET", "/v1/Assistants/{assistant_id}/Tools", self._list_attached)
        self.route("POST", "/v1/Assistants/{assistant_id}/Tools/{id}", self._attach)
        self.route("DELETE", "/v1/Assistants/{assistant_id}/Tools/{id}", self._detach)
        self.app.on_response_prepare.append(self._label_problem)

    # -- configuration ------------------------------------------------------------------------------------

    def add_assistant(self, assistant_id: str) -> None:
        """Make an assistant exist (needed when ``implicit_assistants`` is False)."""
        if not ASSISTANT_ID_RE.match(assistant_id):
            raise ValueError(f"not an assistant id: {assistant_id!r}")
        self._assistants.add(assistant_id)

    def assistant_exists(self, assistant_id: str) -> bool:
        if not ASSISTANT_ID_RE.match(assistant_id):
            return False
        return self.implicit_assistants or assistant_id in self._assistants

    # -- assertions and out-of-band changes --------------------------------------------------------------

    @property
    def tools(self) -> list[dict[str, Any]]:
        """Every live tool as ``GET /v1/Tools/{id}`` renders it (with ``policies``; copies), oldest first."""
        return [
            self._render(t, with_policies=True) for t in sorted(self._tools.values(), key=lambda t: t.seq)
        ]

    def tool(self, tool_id: str) -> dict[str, Any] | None:
        found = self._tools.get(tool_id)
        return None if found is None else self._render(found, with_policies=True)

    def attachments(self, assistant_id: str) -> set[str]:
        """The ids of the tools attached to ``assistant_id`` (a copy)."""
        return set(self._attachments.get(assistant_id, set()))

    def count_creates(self) -> int:
        """How many tools were created through the API (deleted ones included)."""
        return len(self._creates)

    def edit_out_of_band(self, tool_id: str, **fields: Any) -> None:
        """Change a tool behind the client's back (someone used the console).

        Accepts ``name``, ``description``, ``type``, ``enabled``, ``meta`` (validated as the API does) and
        ``policy``: a policy object updates the tool's policy in place as a PUT does (its ``id``, if any, is
        ignored) or creates one; ``None`` removes it (which the API itself cannot do).
        KeyError when the tool is unknown, ValueError when a field breaks the contract.
        """
        tool = self._require(tool_id)
        remove_policy = "policy" in fields and fields["policy"] is None
        body = {k: v for k, v in fields.items() if not (k == "policy" and v is None)}
        if "assistant_id" in body:
            raise ValueError("use attach_out_of_band() to attach a tool")
        try:
            write = self._parse_write(body, create=False)
        except _Invalid as exc:
            raise ValueError(str(exc)) from None
        if remove_policy and tool.policy is not None:
            tool.policy = None
            tool.updated_at = self.clock.now()
        self._apply(tool, write, user_sid=self._user_sid("console"))

    def attach_out_of_band(self, assistant_id: str, tool_id: str) -> None:
        self._require(tool_id)
        if not ASSISTANT_ID_RE.match(assistant_id):
            raise ValueError(f"not an assistant id: {assistant_id!r}")
        self._attachments.setdefault(assistant_id, set()).add(tool_id)

    def detach_out_of_band(self, assistant_id: str, tool_id: str) -> None:
        """KeyError when the tool is not attached to the assistant."""
        attached = self._attachments.get(assistant_id, set())
        if tool_id not in attached:
            raise KeyError(f"tool {tool_id!r} is not attached to {assistant_id!r}")
        attached.discard(tool_id)

    def delete_out_of_band(self, tool_id: str) -> None:
        """Delete a tool (and its attachments and policy) behind the client's back. KeyError when unknown."""
        self._require(tool_id)
        self._remove(tool_id)

    # -- errors and auth ----------------------------------------------------------------------------------

    def error_body(
        self, status: int, message: str | None = None, *, code: int | None = None
    ) -> bytes | str | dict[str, Any]:
        legacy = super().error_body(status, message, code=code)
        if self.error_style == "legacy" or not isinstance(legacy, dict):
            return legacy
        return {
            "type": legacy["more_info"],
            "title": reason_phrase(status),
            "status": status,
            "detail": legacy["message"],
            "code": legacy["code"],
        }

    async def _label_problem(self, request: web.Request, response: web.StreamResponse) -> None:
        if (
            self.error_style == "rfc9457"
            and response.status >= 400
            and response.headers.get("Content-Type", "").startswith("application/json")
        ):
            response.headers["Content-Type"] = f"{PROBLEM_CONTENT_TYPE}; charset=utf-8"

    # -- handlers -----------------------------------------------------------------------------------------

    def _account(self) -> str:
        return str(self.context().attrs["account_sid"])

    def _principal_user_sid(self) -> str:
        return self._user_sid(self.context().principal or self._account())

    def _find(self, tool_id: str) -> _Tool | None:
        tool = self._tools.get(tool_id)
        return tool if tool is not None and tool.account_sid == self._account() else None

    async def _create(self, request: web.Request) -> web.StreamResponse:
        try:
            write = self._parse_write(self.request_json(), create=True)
            if write.assistant_id is not None and not self.assistant_exists(write.assistant_id):
                raise _Invalid(f"Assistant {write.assistant_id} was not found")
            if write.policy is not None and "id" in write.policy:
                raise _Invalid(f"Policy {write.policy['id']} was not found")
        except _Invalid as exc:
            return self._bad_request(str(exc))
        now = self.clock.now()
        tool = _Tool(
            id=make_prefixed_id(TOOL_PREFIX, self.wall_time(now)),
            account_sid=self._account(),
            seq=self._next_seq,
            name="",
            description="",
            type="",
            enabled=False,
            meta={},
            created_at=now,
            updated_at=now,
        )
        self._apply(tool, write, user_sid=self._principal_user_sid())
        self._next_seq += 1
        self._seq_by_id[tool.id] = tool.seq
        self._tools[tool.id] = tool
        self._creates.append((tool.account_sid, tool.id))
        if write.assistant_id is not None:
            self._attachments.setdefault(write.assistant_id, set()).add(tool.id)
        return web.json_response(self._render(tool, with_policies=False), status=201)

    async def _fetch(self, request: web.Request) -> web.StreamResponse:
        tool = self._find(request.match_info["id"])
        if tool is None:
            return self._not_found(request.path)
        return web.json_response(self._render(tool, with_policies=True))

    async def _update(self, request: web.Request) -> web.StreamResponse:
        tool = self._find(request.match_info["id"])
        if tool is None:
            return self._not_found(request.path)
        body = {} if not self.context().body.strip() else self.request_json()  # the PUT body is optional
        try:
            write = self._parse_write(body, create=False)
            if write.assistant_id is not None and not self.assistant_exists(write.assistant_id):
                raise _Invalid(f"Assistant {write.assistant_id} was not found")
            policy_id = None if write.policy is None else write.policy.get("id")
            if policy_id is not None and (tool.policy is None or tool.policy.id != policy_id):
                raise _Invalid(f"Policy {policy_id} does not belong to tool {tool.id}")
        except _Invalid as exc:
            return self._bad_request(str(exc))
        self._apply(tool, write, user_sid=self._principal_user_sid())
        if write.assistant_id is not None:
            self._attachments.setdefault(write.assistant_id, set()).add(tool.id)
        return web.json_response(self._render(tool, with_policies=False))

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        tool = self._find(request.match_info["id"])
        if tool is None:
            return self._not_found(request.path)
        attached_to = sorted(a for a, ids in self._attachments.items() if tool.id in ids)
        if attached_to and self.require_detach_before_delete:
            return self._bad_request(
                f"Tool {tool.id} is attached to assistant(s) {', '.join(attached_to)}: detach it first"
            )
        self._remove(tool.id)
        return web.Response(status=204)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        assistant_id = request.query.get("AssistantId")
        if assistant_id is not None and not ASSISTANT_ID_RE.match(assistant_id):
            return self._bad_request(f"Invalid AssistantId: {assistant_id}")
        tools = self._account_tools()
        if assistant_id is not None:
            attached = self._attachments.get(assistant_id, set())
            tools = [t for t in tools if t.id in attached]
        extra = {} if assistant_id is None else {"AssistantId": assistant_id}
        return self._page(request, tools, f"{self.base_url}/v1/Tools", extra)

    async def _list_attached(self, request: web.Request) -> web.StreamResponse:
        assistant_id = request.match_info["assistant_id"]
        if not self.assistant_exists(assistant_id):
            return self._not_found(request.path)
        attached = self._attachments.get(assistant_id, set())
        tools = [t for t in self._account_tools() if t.id in attached]
        list_url = f"{self.base_url}/v1/Assistants/{quote(assistant_id, safe='')}/Tools"
        return self._page(request, tools, list_url, {})

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        assistant_id = request.match_info["assistant_id"]
        tool = self._find(request.match_info["id"])
        if tool is None or not self.assistant_exists(assistant_id):
            return self._not_found(request.path)
        self._attachments.setdefault(assistant_id, set()).add(tool.id)  # attaching twice changes nothing
        return web.Response(status=204)

    async def _detach(self, request: web.Request) -> web.StreamResponse:
        assistant_id = request.match_info["assistant_id"]
        tool = self._find(request.match_info["id"])
        if tool is None or not self.assistant_exists(assistant_id):
            return self._not_found(request.path)
        self._attachments.get(assistant_id, set()).discard(tool.id)  # not attached: 204 all the same
        return web.Response(status=204)

    # -- pagination ---------------------------------------------------------------------------------------

    def _page(
        self, request: web.Request, items: list[_Tool], list_url: str, extra: Mapping[str, str]
    ) -> web.Response:
        try:
            chosen, meta = twilio_page(
                request.query,
                items,
                seq=lambda t: t.seq,
                ident=lambda t: t.id,
                seq_of=self._seq_by_id.get,
                list_url=list_url,
                key="tools",
                extra=extra,
            )
        except PagingError as error:
            return self._bad_request(str(error))
        return web.json_response(
            {"tools": [self._render(t, with_policies=False) for t in chosen], "meta": meta}
        )

    # -- validation ---------------------------------------------------------------------------------------

    def _parse_write(self, body: Any, *, create: bool) -> _Write:
        if not isinstance(body, dict):
            raise _Invalid("The request body must be a JSON object")
        unknown = sorted(set(body) - _WRITE_KEYS)
        if unknown:
            raise _Invalid(f"Unknown parameter(s): {', '.join(unknown)}")
        if create:
            for key in ("name", "type", "enabled"):
                if key not in body:
                    raise _Invalid(f"Missing required parameter {key} in the request body")
        fields: dict[str, Any] = {}
        for key in ("name", "description", "type"):
            if key in body:
                fields[key] = _string(body[key], key, non_empty=key != "description")
        if "type" in fields and fields["type"] not in TOOL_TYPES:
            raise _Invalid(f"type must be one of {', '.join(sorted(TOOL_TYPES))}")
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise _Invalid("enabled must be a boolean")
            fields["enabled"] = body["enabled"]
        if "meta" in body:
            fields["meta"] = _meta(body["meta"])
        assistant_id: str | None = None
        if "assistant_id" in body:
            assistant_id = _string(body["assistant_id"], "assistant_id", non_empty=True)
            if not ASSISTANT_ID_RE.match(assistant_id):
                raise _Invalid(f"assistant_id must match ^aia_asst_.+$: {assistant_id}")
        policy = _policy(body["policy"]) if "policy" in body else None
        return _Write(fields, assistant_id, policy)

    # -- state helpers ------------------------------------------------------------------------------------

    def _apply(self, tool: _Tool, write: _Write, *, user_sid: str) -> None:
        """Apply the sent fields; ``date_updated`` moves only when something changed."""
        now = self.clock.now()
        changed = False
        for key, value in write.fields.items():
            if getattr(tool, key) != value:
                setattr(tool, key, copy.deepcopy(value))
                changed = True
        if write.policy is not None:
            sent = {k: v for k, v in write.policy.items() if k in _POLICY_FIELDS}
            policy = tool.policy
            if policy is None:
                tool.policy = _Policy(
                    id=make_prefixed_id(POLICY_PREFIX, self.wall_time(now)),
                    account_sid=tool.account_sid,
                    user_sid=user_sid,
                    type=sent.get("type", self.default_policy_type),
                    policy_details=copy.deepcopy(sent["policy_details"]),
                    name=sent.get("name", ""),
                    description=sent.get("description", ""),
                    created_at=now,
                    updated_at=now,
                )
                changed = True
            elif any(getattr(policy, k) != v for k, v in sent.items()):
                for key, value in sent.items():
                    setattr(policy, key, copy.deepcopy(value))
                policy.updated_at = now
                changed = True
        if changed:
            tool.updated_at = now

    def _remove(self, tool_id: str) -> None:
        del self._tools[tool_id]
        for attached in self._attachments.values():
            attached.discard(tool_id)

    def _require(self, tool_id: str) -> _Tool:
        tool = self._tools.get(tool_id)
        if tool is None:
            raise KeyError(f"no tool {tool_id!r}")
        return tool

    def _account_tools(self) -> list[_Tool]:
        account = self._account()
        return sorted((t for t in self._tools.values() if t.account_sid == account), key=lambda t: t.seq)

    def _user_sid(self, principal: str) -> str:
        if principal not in self._user_sids:
            self._user_sids[principal] = make_sid("US")
        return self._user_sids[principal]

    def _render(self, tool: _Tool, *, with_policies: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "account_sid": tool.account_sid,
            "description": tool.description,
            "enabled": tool.enabled,
            "id": tool.id,
            "meta": copy.deepcopy(tool.meta),
            "name": tool.name,
            "requires_auth": tool.policy is not None,
            "type": tool.type,
            "url": f"{self.base_url}/v1/Tools/{tool.id}",
            "date_created": _iso(self.wall_time(tool.created_at)),
            "date_updated": _iso(self.wall_time(tool.updated_at)),
        }
        if with_policies:
            body["policies"] = [] if tool.policy is None else [self._render_policy(tool.policy)]
        return body

    def _render_policy(self, policy: _Policy) -> dict[str, Any]:
        return {
            "id": policy.id,
            "name": policy.name,
            "description": policy.description,
            "account_sid": policy.account_sid,
            "user_sid": policy.user_sid,
            "type": policy.type,
            "policy_details": copy.deepcopy(policy.policy_details),
            "date_created": _iso(self.wall_time(policy.created_at)),
            "date_updated": _iso(self.wall_time(policy.updated_at)),
        }


# ------------------------------------------------------------------------------------------------- helpers


def _string(value: Any, key: str, *, non_empty: bool) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{key} must be a string")
    if non_empty and not value.strip():
        raise _Invalid(f"{key} must not be empty")
    return value


def _check_keys(value: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise _Invalid(f"Unknown parameter(s) in {where}: {', '.join(unknown)}")


def _meta(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("meta must be an object")
    _check_keys(value, _META_KEYS, "meta")
    for key in ("url", "method"):
        if key not in value:
            raise _Invalid(f"Missing required parameter meta.{key}")
    url = _string(value["url"], "meta.url", non_empty=True)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Invalid(f"meta.url is not an absolute http(s) URL: {url}")
    method = _string(value["method"], "meta.method", non_empty=True)
    if method not in META_METHODS:
        raise _Invalid(f"meta.method must be one of {', '.join(sorted(META_METHODS))}")
    meta: dict[str, Any] = {"url": url, "method": method}
    if "input_schema" in value:
        meta["input_schema"] = _string(value["input_schema"], "meta.input_schema", non_empty=False)
    return meta


def _policy(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("policy must be an object")
    _check_keys(value, _POLICY_KEYS, "policy")
    if "policy_details" not in value:
        raise _Invalid("Missing required parameter policy.policy_details")
    if not isinstance(value["policy_details"], dict):
        raise _Invalid("policy.policy_details must be an object")
    policy: dict[str, Any] = {"policy_details": value["policy_details"]}
    for key in ("name", "description", "type"):
        if key in value:
            policy[key] = _string(value[key], f"policy.{key}", non_empty=key == "type")
    if "id" in value:
        policy_id = _string(value["id"], "policy.id", non_empty=True)
        if not POLICY_ID_RE.match(policy_id):
            raise _Invalid(f"policy.id must match ^aia_plcy_.+$: {policy_id}")
        policy["id"] = policy_id
    return policy
