"""AssistantTool on Twilio Assistants v1 Tools: the resource's spec is the tool; remote drift is corrected.

The whole spec of the kind is the provider's (``key = ""``), so the mirrored fields go top-level in `.status`.

Decisions where the API leaves room (each one is what the comparison below does):

* Strings: ``None`` and ``""`` mean the same (the upstream renders a never-set description as ``""``). To
  clear a description set out of band, updates send ``description: ""`` for a spec without one.
* ``policy``: a spec without a policy ignores the remote policy, because the API can create or update a
  tool's policy but cannot remove one. With a policy, only the policy fields the spec sets are compared
  (``policyDetails`` always; ``name``, ``description`` and ``type`` when given): the upstream fills the
  others (e.g. a default ``type``).
* ``meta``: same rule as the policy (a PUT cannot remove it); with a meta, ``url``, ``method`` and
  ``inputSchema`` are compared.
* Attachments: the API answers "which tools are attached to assistant X" but never "which assistants is tool T
  attached to". The operator therefore checks the assistants it knows of: ``spec.assistantIds`` plus
  ``status.attachedAssistantIds`` (attached when last seen). An attachment added out of band to any other
  assistant cannot be seen.
* The Tools API has no status word; ``remoteStatus`` says ``in sync`` or ``out of sync``. A tool that exists
  and matches the spec is ``RemoteState.SUCCEEDED`` (phase Ready); one that does not is ``RUNNING`` until
  `update` brings it in line.
* Finding a tool after a crash (ids are server-chosen, names are not unique): list the account's tools and
  keep those with the spec's name created at or after the pending marker, less `CLOCK_SKEW`. A tool whose
  creation date does not parse is kept as a candidate (an Ambiguous answer is better than a duplicate).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections.abc import Collection, Iterable
from typing import Any

import httpx

from modelops_operator.api.assistanttool import AssistantToolSpec, FetchedPolicy
from modelops_operator.core.resource import parse_time
from modelops_operator.providers.base import (
    Ambiguous,
    FindResult,
    Found,
    NotFound,
    Observation,
    Provider,
    RemoteState,
    Request,
)
from modelops_operator.providers.credentials import TwilioCredentials
from modelops_operator.providers.errors import (
    NotFoundError,
    PermanentUpstreamError,
    TransientUpstreamError,
    UpstreamError,
)
from modelops_operator.providers.twilio_assistants.client import (
    UPSTREAM,
    Policy,
    PolicyWrite,
    Tool,
    ToolMeta,
    ToolWrite,
    TwilioAssistantsClient,
)

log = logging.getLogger(__name__)

ToolRequest = Request[AssistantToolSpec, TwilioCredentials]

IN_SYNC = "in sync"
OUT_OF_SYNC = "out of sync"
ATTACHMENTS = "attachments"
# Tool dates have whole seconds and the upstream's clock is not ours: a tool created up to this long before
# the pending marker still counts as one this resource may have created.
CLOCK_SKEW = datetime.timedelta(seconds=5)


# ---------------------------------------------------------------------------------------- pure comparison


def _text(value: str | None) -> str:
    return value or ""


def desired_write(spec: AssistantToolSpec) -> ToolWrite:
    """The full desired tool, as the body of a POST or a PUT (attachments are separate calls)."""
    meta = None
    if spec.meta is not None:
        meta = ToolMeta(url=spec.meta.url, method=spec.meta.method, input_schema=spec.meta.input_schema)
    policy = None
    if spec.policy is not None:
        policy = PolicyWrite(
            policy_details=dict(spec.policy.policy_details),
            name=spec.policy.name,
            description=spec.policy.description,
            type=spec.policy.type,
        )
    return ToolWrite(
        name=spec.name,
        type=spec.type,
        enabled=spec.enabled,
        description=_text(spec.description),
        meta=meta,
        policy=policy,
    )


def _meta_differs(spec: AssistantToolSpec, remote: ToolMeta | None) -> bool:
    if spec.meta is None:
        return False  # a PUT cannot remove a meta: the remote one is left alone
    remote = remote or ToolMeta()
    return (
        _text(spec.meta.url) != _text(remote.url)
        or _text(spec.meta.method) != _text(remote.method)
        or _text(spec.meta.input_schema) != _text(remote.input_schema)
    )


def _policy_differs(spec: AssistantToolSpec, remote: Policy | None) -> bool:
    wanted = spec.policy
    if wanted is None:
        return False  # the API cannot remove a policy: a spec without one ignores the remote one
    if remote is None:
        return True
    if dict(wanted.policy_details) != (remote.policy_details or {}):
        return True
    for field in ("name", "description", "type"):
        value = getattr(wanted, field)
        if value is not None and _text(value) != _text(getattr(remote, field)):
            return True
    return False


def attachment_changes(wanted: Iterable[str], attached: Iterable[str]) -> tuple[list[str], list[str]]:
    """(assistants to attach to, assistants to detach from), each sorted."""
    wanted_set, attached_set = set(wanted), set(attached)
    return sorted(wanted_set - attached_set), sorted(attached_set - wanted_set)


def tool_differences(spec: AssistantToolSpec, tool: Tool, attached: Collection[str]) -> tuple[str, ...]:
    """What differs between the spec and the remote tool, in words for an Event (empty when in sync).

    ``tool`` must come from a fetch (with ``policies``) when the spec has a policy.
    """
    differences: list[str] = []
    if spec.name != _text(tool.name):
        differences.append("name")
    if _text(spec.description) != _text(tool.description):
        differences.append("description")
    if spec.type != _text(tool.type):
        differences.append("type")
    if tool.enabled is None or spec.enabled != tool.enabled:
        differences.append("enabled")
    if _meta_differs(spec, tool.meta):
        differences.append("meta")
    if _policy_differs(spec, tool.policy):
        differences.append("policy")
    to_attach, to_detach = attachment_changes(spec.assistant_ids, attached)
    if to_attach or to_detach:
        listed = ", ".join([f"+{a}" for a in to_attach] + [f"-{a}" for a in to_detach])
        differences.append(f"{ATTACHMENTS} ({listed})")
    return tuple(differences)


def _policy_status(policy: Policy) -> dict[str, Any]:
    fetched = FetchedPolicy(
        id=policy.id,
        name=policy.name,
        description=policy.description,
        type=policy.type,
        policy_details=policy.policy_details,
        date_created=policy.date_created,
        date_updated=policy.date_updated,
    )
    return fetched.model_dump(mode="json", by_alias=True, exclude_none=True)


def status_fields_of(tool: Tool, attached: Collection[str] | None) -> dict[str, Any]:
    """Top-level status fields (camelCase); what the answer did not carry is left out (status keeps it)."""
    fields: dict[str, Any] = {
        "id": tool.id,
        "requiresAuth": tool.requires_auth,
        "url": tool.url,
        "dateCreated": tool.date_created,
        "dateUpdated": tool.date_updated,
    }
    if tool.policies is not None:
        fields["policies"] = [_policy_status(policy) for policy in tool.policies]
    if attached is not None:
        fields["attachedAssistantIds"] = sorted(attached)
    return fields


def observation_of(spec: AssistantToolSpec, tool: Tool, attached: Collection[str]) -> Observation:
    differences = tool_differences(spec, tool, attached)
    return Observation(
        external_id=tool.id,
        remote_status=OUT_OF_SYNC if differences else IN_SYNC,
        state=RemoteState.RUNNING if differences else RemoteState.SUCCEEDED,
        up_to_date=not differences,
        differences=differences,
        status_fields=status_fields_of(tool, attached),
    )


def known_assistants(request: ToolRequest) -> list[str]:
    """The assistants whose attachments are checked: the spec's and those the status saw attached."""
    saved = request.saved.get("attachedAssistantIds") or []
    return sorted({*request.spec.assistant_ids, *(a for a in saved if isinstance(a, str) and a)})


def created_at(tool: Tool) -> datetime.datetime | None:
    return parse_time(tool.date_created)


# --------------------------------------------------------------------------------------------- provider


class TwilioAssistantsProvider(Provider[AssistantToolSpec, TwilioCredentials]):
    key = ""
    upstream = UPSTREAM
    spec_model = AssistantToolSpec
    recreate_when_deleted_remotely = True

    def __init__(self, client: TwilioAssistantsClient) -> None:
        self._client = client

    def credentials(self, secret_data: dict[str, str]) -> TwilioCredentials:
        return TwilioCredentials.from_secret(secret_data)

    async def find(self, request: ToolRequest) -> FindResult:
        if request.pending_since is None:
            return NotFound()
        earliest = request.pending_since - CLOCK_SKEW
        candidates: list[str] = []
        async for tool in self._client.list(request.credentials.auth()):
            if _text(tool.name) != request.spec.name:
                continue
            created = created_at(tool)
            if created is None or created >= earliest:
                candidates.append(tool.id)
        if len(candidates) > 1:
            return Ambiguous(candidates)
        if not candidates:
            return NotFound()
        observation = await self.observe(request, candidates[0])
        return NotFound() if observation is None else Found(observation)

    async def create(self, request: ToolRequest) -> Observation:
        auth = request.credentials.auth()
        tool = await self._client.create(auth, desired_write(request.spec))
        # From here on the tool exists: nothing may escape that could make the lifecycle create it again.
        try:
            for assistant in request.spec.assistant_ids:
                await self._client.attach(auth, assistant, tool.id)
            observation = await self.observe(request, tool.id)
        except UpstreamError as error:
            log.warning("tool %s was created, but attaching or reading it failed: %s", tool.id, error)
            observation = None
        if observation is not None:
            return observation
        # The next poll observes the tool and attaches what is missing.
        return Observation(
            external_id=tool.id,
            remote_status=OUT_OF_SYNC,
            state=RemoteState.RUNNING,
            up_to_date=False,
            differences=(ATTACHMENTS,),
            status_fields=status_fields_of(tool, None),
        )

    async def observe(
        self, request: ToolRequest, external_id: str, listed: None = None
    ) -> Observation | None:
        auth = request.credentials.auth()
        try:
            tool = await self._client.fetch(auth, external_id)
        except NotFoundError:
            return None
        attached = await self._attached(auth, external_id, known_assistants(request))
        return observation_of(request.spec, tool, attached)

    async def update(self, request: ToolRequest, observation: Observation) -> Observation:
        auth = request.credentials.auth()
        tool_id = observation.external_id
        if any(not d.startswith(ATTACHMENTS) for d in observation.differences):
            try:
                await self._client.update(auth, tool_id, desired_write(request.spec))
            except NotFoundError:
                raise self._vanished(tool_id) from None
        attached = observation.status_fields.get("attachedAssistantIds")
        if attached is None:  # not known (a create whose attachments failed): look now
            attached = await self._attached(auth, tool_id, known_assistants(request))
        to_attach, to_detach = attachment_changes(request.spec.assistant_ids, attached)
        for assistant in to_attach:
            await self._attach(auth, assistant, tool_id)
        for assistant in to_detach:
            with contextlib.suppress(NotFoundError):  # the assistant or the tool is gone: not attached
                await self._client.detach(auth, assistant, tool_id)
        fresh = await self.observe(request, tool_id)
        if fresh is None:
            raise self._vanished(tool_id)
        return fresh

    async def delete(self, request: ToolRequest, external_id: str) -> bool:
        auth = request.credentials.auth()
        # Some upstreams refuse to delete an attached tool: detach it from every assistant it may be on first
        # (detaching a tool that is not attached answers 204).
        for assistant in known_assistants(request):
            with contextlib.suppress(NotFoundError):
                await self._client.detach(auth, assistant, external_id)
        try:
            await self._client.delete(auth, external_id)
        except NotFoundError:
            return True
        # The finalizer is released only once the upstream confirms: a read must now answer 404.
        try:
            await self._client.fetch(auth, external_id)
        except NotFoundError:
            return True
        return False

    # ----------------------------------------------------------------------------------------------- helpers

    async def _attached(self, auth: httpx.Auth, tool_id: str, assistants: Iterable[str]) -> set[str]:
        """The assistants, among ``assistants``, that the tool is attached to."""
        attached: set[str] = set()
        for assistant in assistants:
            try:
                async for tool in self._client.list_attached(auth, assistant):
                    if tool.id == tool_id:
                        attached.add(assistant)
            except NotFoundError:
                continue  # an assistant that does not exist has nothing attached
        return attached

    async def _attach(self, auth: httpx.Auth, assistant: str, tool_id: str) -> None:
        try:
            await self._client.attach(auth, assistant, tool_id)
        except NotFoundError as error:
            try:
                await self._client.fetch(auth, tool_id)
            except NotFoundError:
                raise self._vanished(tool_id) from None
            raise PermanentUpstreamError(
                upstream=UPSTREAM,
                message=f"cannot attach tool {tool_id} to assistant {assistant}: {error.message}",
                status=error.status,
                code=error.code,
            ) from None

    @staticmethod
    def _vanished(tool_id: str) -> TransientUpstreamError:
        # Deleted between the read and the write: the next pass sees it missing and creates it again.
        return TransientUpstreamError(
            upstream=UPSTREAM, message=f"tool {tool_id} disappeared while it was being updated"
        )
