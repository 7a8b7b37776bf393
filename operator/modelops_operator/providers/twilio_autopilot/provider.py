"""ModelBuild on Twilio Autopilot: idempotent through the build's unique name."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from modelops_operator.api.modelbuild import TwilioAutopilotBuildSpec
from modelops_operator.providers import twilio_signature
from modelops_operator.providers.base import (
    Batch,
    FindResult,
    Found,
    NotFound,
    Observation,
    Provider,
    RemoteState,
    Request,
    ResourceRef,
)
from modelops_operator.providers.credentials import TwilioCredentials
from modelops_operator.providers.errors import NotFoundError
from modelops_operator.providers.twilio_autopilot.client import UPSTREAM, ModelBuild, TwilioAutopilotClient

STATES = {
    "enqueued": RemoteState.PENDING,
    "building": RemoteState.RUNNING,
    "completed": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
    "canceled": RemoteState.CANCELED,
}

UNIQUE_NAME_LIMIT = 64

AutopilotRequest = Request[TwilioAutopilotBuildSpec, TwilioCredentials]


def derived_unique_name(resource: ResourceRef) -> str:
    """Deterministic, ≤64 chars, readable, and different for a re-created resource (the uid is in the hash)."""
    digest = hashlib.sha256(f"{resource.namespace}/{resource.name}/{resource.uid}".encode()).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9-]+", "-", f"{resource.namespace}-{resource.name}").strip("-")
    return f"{readable[: UNIQUE_NAME_LIMIT - len(digest) - 1]}-{digest}"


def effective_unique_name(request: AutopilotRequest) -> str:
    return request.spec.unique_name or derived_unique_name(request.resource)


def observation_of(build: ModelBuild, wanted_unique_name: str | None) -> Observation:
    status = (build.status or "").lower()
    state = STATES.get(status, RemoteState.RUNNING)
    failure = None
    if state is RemoteState.FAILED:
        failure = (
            f"the model build failed with error code {build.error_code}"
            if build.error_code
            else ("the model build failed")
        )
    elif state is RemoteState.CANCELED:
        failure = "the model build was canceled upstream"
    return Observation(
        external_id=build.sid or "",
        remote_status=build.status,
        state=state,
        status_block={
            "sid": build.sid,
            "accountSid": build.account_sid,
            "uniqueName": build.unique_name,
            "buildDuration": build.build_duration,
            "errorCode": build.error_code,
            "dateCreated": build.date_created,
            "dateUpdated": build.date_updated,
            "url": build.url,
        },
        failure_message=failure,
        up_to_date=wanted_unique_name is None or build.unique_name == wanted_unique_name,
    )


class TwilioAutopilotProvider(Provider[TwilioAutopilotBuildSpec, TwilioCredentials]):
    key = "twilioAutopilot"
    upstream = UPSTREAM
    spec_model = TwilioAutopilotBuildSpec
    find_without_marker = True  # a fetch by unique name is exact and cheap
    accepts_callbacks = True

    def __init__(self, client: TwilioAutopilotClient) -> None:
        self._client = client

    def credentials(self, secret_data: dict[str, str]) -> TwilioCredentials:
        return TwilioCredentials.from_secret(secret_data)

    async def find(self, request: AutopilotRequest) -> FindResult:
        name = effective_unique_name(request)
        try:
            build = await self._client.fetch(request.credentials.auth(), request.spec.assistant_sid, name)
        except NotFoundError:
            return NotFound()
        return Found(observation_of(build, name))

    async def create(self, request: AutopilotRequest) -> Observation:
        name = effective_unique_name(request)
        build = await self._client.create(
            request.credentials.auth(),
            request.spec.assistant_sid,
            unique_name=name,
            # A user's own callback goes through unchanged; else the operator's own URL for this resource.
            status_callback=request.spec.status_callback or request.callback_url,
        )
        return observation_of(build, name)

    async def observe(
        self, request: AutopilotRequest, external_id: str, listed: ModelBuild | None = None
    ) -> Observation | None:
        build = listed
        if build is None:
            try:
                build = await self._client.fetch(
                    request.credentials.auth(), request.spec.assistant_sid, external_id
                )
            except NotFoundError:
                return None
        return observation_of(build, request.spec.unique_name)

    def verify_callback(
        self,
        request: AutopilotRequest,
        url: str,
        form: Mapping[str, str],
        headers: Mapping[str, str],
        external_id: str,
    ) -> str | None:
        credentials = request.credentials
        if credentials.username != credentials.account_sid:
            return "Twilio signs callbacks with the account's auth token; the Secret holds an API key"
        given = headers.get("X-Twilio-Signature")
        if not given:
            return "unsigned"
        if not twilio_signature.valid(credentials.password.get_secret_value(), url, form, given):
            return "the signature does not match this resource's URL and account"
        if form.get("ModelBuildSid") != external_id:
            return "the callback is about another build"
        return None

    def batch(self, request: AutopilotRequest) -> Batch:
        """One list of the assistant's builds (every page) per interval answers every ModelBuild of that
        assistant and account."""
        auth = request.credentials.auth()
        assistant = request.spec.assistant_sid

        async def fetch() -> dict[str, ModelBuild]:
            return {build.sid: build async for build in self._client.list(auth, assistant) if build.sid}

        return Batch(key=(UPSTREAM, request.credentials.account_sid, assistant), fetch=fetch)

    async def update(self, request: AutopilotRequest, observation: Observation) -> Observation:
        name = request.spec.unique_name or effective_unique_name(request)
        build = await self._client.update(
            request.credentials.auth(), request.spec.assistant_sid, observation.external_id, unique_name=name
        )
        return observation_of(build, name)

    async def delete(self, request: AutopilotRequest, external_id: str) -> bool:
        auth = request.credentials.auth()
        try:
            await self._client.delete(auth, request.spec.assistant_sid, external_id)
        except NotFoundError:
            return True
        # The finalizer is released only once the upstream confirms: a read must now answer 404.
        try:
            await self._client.fetch(auth, request.spec.assistant_sid, external_id)
        except NotFoundError:
            return True
        return False
