"""The generic lifecycle, written once for every kind and provider.

pending marker → lookup or adopt → create → poll → status and conditions → Events → deletion by policy.
Handlers call `reconcile` and `delete`; providers supply the upstream calls.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import kopf
from pydantic import ValidationError

from modelops_operator.api.common import (
    ANNOTATION_CREATE_PENDING,
    ANNOTATION_EXTERNAL_ID,
    ANNOTATION_PAUSED,
    DeletionPolicy,
)
from modelops_operator.api.crd import KindDefinition
from modelops_operator.config import Settings
from modelops_operator.core import status as st
from modelops_operator.core.kube import KubeClient, KubeError, SecretNotFound
from modelops_operator.core.resource import ObjectMemory, ObjectView, format_time, memory_of, parse_time
from modelops_operator.core.secrets import SecretCache
from modelops_operator.metrics import Metrics
from modelops_operator.providers.backoff import Backoff
from modelops_operator.providers.base import (
    Ambiguous,
    Found,
    NotFound,
    Observation,
    Provider,
    RemoteState,
    Request,
    Undecidable,
)
from modelops_operator.providers.credentials import MissingCredentialKeys
from modelops_operator.providers.errors import (
    AuthenticationError,
    PermanentUpstreamError,
    TransientUpstreamError,
    UpstreamError,
)

log = logging.getLogger(__name__)

AnyProvider = Provider[Any, Any]


class EventSink(Protocol):
    def __call__(self, body: Mapping[str, Any], type: str, reason: str, message: str) -> None: ...


def kopf_events(body: Mapping[str, Any], type: str, reason: str, message: str) -> None:
    kopf.event(dict(body), type=type, reason=reason, message=message)  # type: ignore[arg-type]


class InvalidSpec(Exception):
    pass


@dataclass(frozen=True)
class Selected:
    provider: AnyProvider
    spec: Any
    common: Mapping[str, Any]


class Lifecycle:
    def __init__(
        self,
        kind: KindDefinition,
        providers: list[AnyProvider],
        kube: KubeClient,
        settings: Settings,
        metrics: Metrics,
        events: EventSink = kopf_events,
        *,
        phase_names: dict[RemoteState, str] | None = None,
        poll_when_terminal: bool = True,
        rejected_phase: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        secrets: SecretCache | None = None,
    ) -> None:
        self.kind = kind
        self.providers = {provider.key: provider for provider in providers}
        self.kube = kube
        self.settings = settings
        self.metrics = metrics
        self.events = events
        # e.g. an AssistantTool in sync is "Ready" where a build is "Succeeded" (any state can be named)
        self.phase_names = phase_names or {}
        # the phase of a resource stalled by a permanent upstream rejection (None keeps the current phase)
        self.rejected_phase = rejected_phase
        # one-shot kinds (runs) stop polling once terminal: a finished run never changes
        self.poll_when_terminal = poll_when_terminal
        self.clock = clock
        self.now = now
        self.secrets = secrets or SecretCache(kube, settings.secret_cache_seconds, metrics, clock)
        self.backoff = Backoff(
            base=max(settings.backoff_base_seconds, 0.1) * 2,
            cap=settings.backoff_max_seconds,
            max_retry_after=settings.max_retry_after_seconds,
        )

    # ----------------------------------------------------------------------------------------------- reconcile

    async def reconcile(self, body: Mapping[str, Any], memo: Any, *, trigger: str) -> None:
        memory = memory_of(memo)
        async with memory.lock:
            view = ObjectView.of(body, self.kind.plural, memory)
            if view.deleting:
                return
            _trust_stored_marker(view, memory)
            if not self._due(view, memory, trigger):
                return
            memory.polls += 1
            outcome = await self._pass(view, memory)
            if outcome.from_observation and outcome.ready.status == st.TRUE:
                memory.synced_generation = view.generation
            self._schedule(view, memory, outcome)
            await self._write_status(view, memory, outcome)
            self.metrics.reconciles.labels(
                self.kind.kind, "stalled" if outcome.stalled.status == "True" else "ok"
            ).inc()

    def _due(self, view: ObjectView, memory: ObjectMemory, trigger: str) -> bool:
        """Whether this wake-up should talk to the upstream.

        `trigger` is "timer" (a poll tick), "event" (create, resume, spec change, pause toggled) or
        "requested" (the reconcile-requested-at annotation: a person asks for a retry now).
        """
        now = self.clock()
        if now < memory.not_before:
            return False  # honour Retry-After and backoff, whatever woke us
        stalled = st.condition(view.status, st.STALLED)
        if (
            trigger != "requested"
            and stalled.get("status") == st.TRUE
            and stalled.get("observedGeneration") == view.generation
            and stalled.get("reason") in _FINAL_REASONS
            and not _answered(view, memory, stalled)
        ):
            return False  # needs a person: a new generation or reconcile-requested-at retries
        if trigger == "timer":
            if now < memory.next_poll_at:
                return False
            if not self.poll_when_terminal and view.status.get("phase") in TERMINAL_PHASES:
                return False
        return True

    def _schedule(self, view: ObjectView, memory: ObjectMemory, outcome: st.Outcome) -> None:
        polling = view.spec.get("polling") or {}
        terminal = outcome.phase in TERMINAL_PHASES or (
            outcome.phase is None and view.status.get("phase") in TERMINAL_PHASES
        )
        if terminal:
            interval = float(polling.get("driftIntervalSeconds") or self.settings.drift_interval_seconds)
        else:
            interval = float(polling.get("intervalSeconds") or self.settings.poll_interval_seconds)
        memory.next_poll_at = self.clock() + interval

    async def _pass(self, view: ObjectView, memory: ObjectMemory) -> st.Outcome:
        forgotten: list[str] = []  # a remote object found deleted during this pass
        outcome = await self._attempt(view, memory, forgotten)
        if forgotten:
            # Whatever the pass ended in (a new remote object, or an error on the way), the one status write
            # no longer shows the object that is gone: readers never see its id beside a new phase, or the
            # new id beside the old phase.
            outcome = st.without_remote(outcome, self._provider_key(view))
        return outcome

    async def _attempt(self, view: ObjectView, memory: ObjectMemory, forgotten: list[str]) -> st.Outcome:
        if view.paused:
            return st.paused(view.status, f"Paused by the {ANNOTATION_PAUSED} annotation: no remote calls.")
        selected: Selected | None = None
        try:
            selected = self._select(view)
            credentials = await self._credentials(view, selected)
            request = self._request(view, memory, selected, credentials)
            external_id = view.external_id(memory)
            observation = None
            if external_id:
                observation = await selected.provider.observe(request, external_id)
                if observation is None:
                    stall = self._missing_stall(view, memory, selected, external_id)
                    if stall is not None:
                        return stall
                    forgotten.append(external_id)
                    view = await self._forget_remote(view, memory, external_id)
                    request = _with_pending(request, None)
                    external_id = None
            if not external_id or observation is None:
                return await self._create_once(view, memory, selected, request)
            if self._adopting(view):
                self._event(view, "Normal", "Adopted", f"Adopted existing remote object {external_id}.")
            if not observation.up_to_date:
                drifted = self._drifted(view, memory)
                differences = ", ".join(observation.differences)
                observation = await selected.provider.update(request, observation)
                if drifted:
                    self._event(
                        view,
                        "Normal",
                        "DriftCorrected",
                        f"Corrected drift on {external_id}: {differences or 'changed outside the operator'}",
                    )
                else:
                    detail = f": {differences}" if differences else "."
                    self._event(
                        view,
                        "Normal",
                        "Updated",
                        f"Updated remote object {external_id} to match the spec{detail}",
                    )
            memory.failures = 0
            return self._timed(view, memory, self._outcome(observation))
        except InvalidSpec as error:
            return st.stalled("InvalidSpec", str(error), phase=view.status.get("phase") or "Pending")
        except SecretNotFound as error:
            return self._credentials_stall(
                view,
                memory,
                "CredentialsMissing",
                f"{error}; create it and the resource continues by itself.",
            )
        except MissingCredentialKeys as error:
            self.secrets.drop(view.namespace, _secret(view))
            return self._credentials_stall(
                view, memory, "CredentialsInvalid", f"Secret '{_secret(view)}': {error}"
            )
        except AuthenticationError as error:
            self.secrets.drop(view.namespace, _secret(view))
            return self._credentials_stall(
                view,
                memory,
                "CredentialsInvalid",
                f"The upstream rejected the credentials from Secret '{_secret(view)}': {error}",
            )
        except PermanentUpstreamError as error:
            phase = self.rejected_phase or view.status.get("phase") or "Pending"
            return st.stalled("UpstreamRejected", str(error), phase=phase)
        except TransientUpstreamError as error:
            return self._transient(view, memory, error)

    def _credentials_stall(
        self, view: ObjectView, memory: ObjectMemory, reason: str, message: str
    ) -> st.Outcome:
        """Credentials can be fixed without a spec change (a Secret created or corrected), so these stalls
        are re-checked with backoff, within seconds."""
        memory.failures += 1
        delay = min(self.backoff.delay(memory.failures), self.settings.credentials_recheck_seconds)
        memory.not_before = self.clock() + delay
        return st.stalled(reason, message, phase=view.status.get("phase") or "Pending", recheck=True)

    def _transient(self, view: ObjectView, memory: ObjectMemory, error: TransientUpstreamError) -> st.Outcome:
        memory.failures += 1
        delay = self.backoff.delay(memory.failures, error.retry_after)
        memory.not_before = self.clock() + delay
        message = f"Upstream temporarily unavailable, retrying in {delay:.0f}s: {error}"
        if memory.last_warning != str(error):
            memory.last_warning = str(error)
            self._event(view, "Warning", "UpstreamUnavailable", message)
        ready = st.condition(view.status, st.READY)
        if ready.get("status") == st.TRUE:
            # A finished object stays Ready while a drift check cannot reach the upstream.
            return st.Outcome(
                phase=None,
                ready=st.Cond(st.TRUE, ready.get("reason", "Succeeded"), ready.get("message", "")),
                reconciling=st.Cond(st.FALSE, "Retrying", message),
                stalled=st.NOT_STALLED,
                message=message,
            )
        return st.progressing("Retrying", message, phase=view.status.get("phase") or "Pending")

    def _outcome(self, observation: Observation) -> st.Outcome:
        outcome = st.outcome_for(observation, terminal_phase_names=self.phase_names)
        phase = self.phase_names.get(observation.state)
        return outcome if phase is None else dataclasses.replace(outcome, phase=phase)

    def _drifted(self, view: ObjectView, memory: ObjectMemory) -> bool:
        """Whether the remote object moved away from a spec it had matched (rather than the spec changing).

        True when the generation is the one the remote object last matched: remembered per object, and after a
        restart read from the status (observed at this generation and Ready).
        """
        if memory.synced_generation is not None:
            return memory.synced_generation == view.generation
        return (
            view.generation is not None
            and view.status.get("observedGeneration") == view.generation
            and st.condition(view.status, st.READY).get("status") == st.TRUE
        )

    def _timed(self, view: ObjectView, memory: ObjectMemory, outcome: st.Outcome) -> st.Outcome:
        """A non-terminal remote object that outlived its timeout or attempts is Stalled (reason Timeout)."""
        if outcome.phase != "Running":
            return outcome
        polling = view.spec.get("polling") or {}
        limit = float(polling.get("timeoutSeconds") or self.settings.timeout_seconds)
        started = view.pending_since(memory) or view.created_at
        max_attempts = polling.get("maxAttempts")
        elapsed = (self.now() - started).total_seconds() if started else 0.0
        if elapsed > limit or (max_attempts and memory.polls > int(max_attempts)):
            why = (
                f"{elapsed:.0f}s elapsed (limit {limit:.0f}s)" if elapsed > limit else f"{memory.polls} polls"
            )
            message = f"Remote object {outcome.external_id} is still {outcome.remote_status} after {why}."
            timed_out = st.stalled("Timeout", message, phase="Running")
            # Keep what was observed (status block, run steps): only the verdict changes.
            return dataclasses.replace(
                outcome,
                ready=timed_out.ready,
                reconciling=timed_out.reconciling,
                stalled=timed_out.stalled,
                message=message,
            )
        return outcome

    # ------------------------------------------------------------------------------------------------- create

    async def _create_once(
        self, view: ObjectView, memory: ObjectMemory, selected: Selected, request: Request[Any, Any]
    ) -> st.Outcome:
        provider = selected.provider
        pending = view.pending_since(memory)
        if pending is None:
            # The marker is stored before the POST: after a crash, its presence says "look before creating".
            pending = self.now()
            await self.kube.merge_patch(
                view.path, {"metadata": {"annotations": {ANNOTATION_CREATE_PENDING: format_time(pending)}}}
            )
            memory.pending_since = pending
            request = _with_pending(request, pending)
            found = await provider.find(request) if provider.find_without_marker else NotFound()
        else:
            found = await provider.find(request)
        if isinstance(found, Found):
            observation = found.observation
            await self._remember_external_id(view, memory, observation)
            self._event(
                view,
                "Normal",
                "Recovered",
                f"Found remote object {observation.external_id} created by an earlier attempt; not creating another.",
            )
            return self._timed(view, memory, self._outcome(observation))
        if isinstance(found, Ambiguous):
            listed = ", ".join(found.candidates)
            return st.stalled(
                "AmbiguousRemote",
                f"Several remote objects could be the one this resource created: {listed}. Set the "
                f"{ANNOTATION_EXTERNAL_ID} annotation to the right one (and delete the others upstream).",
                phase="Pending",
            )
        if isinstance(found, Undecidable):
            return st.stalled("CreateUnconfirmed", found.message, phase="Pending")
        try:
            observation = await provider.create(request)
        except UpstreamError as error:
            never_reached = error.status is None and error.code == "connect"
            if never_reached or (
                error.status is not None
                and (400 <= error.status < 500 or error.status in provider.create_unprocessed_statuses)
            ):
                # The upstream refused (or was never reached) and certainly created nothing: no lookup
                # needed next time. A 2xx whose body does not parse is no refusal: something may exist.
                await self._clear_marker(view, memory)
            raise
        self.metrics.remote_creates.labels(self.kind.kind, provider.key).inc()
        await self._remember_external_id(view, memory, observation)
        self._event(view, "Normal", "Created", f"Created remote object {observation.external_id}.")
        return self._timed(view, memory, self._outcome(observation))

    async def _clear_marker(self, view: ObjectView, memory: ObjectMemory) -> None:
        memory.pending_since = None
        await self.kube.merge_patch(
            view.path, {"metadata": {"annotations": {ANNOTATION_CREATE_PENDING: None}}}
        )

    async def _remember_external_id(
        self, view: ObjectView, memory: ObjectMemory, observation: Observation
    ) -> None:
        """Store the remote id right after create, before anything else can fail. Only the annotation is
        written now; the status (id, phase, conditions, provider fields) follows in the pass's one write."""
        memory.external_id = observation.external_id
        await self.kube.merge_patch(
            view.path, {"metadata": {"annotations": {ANNOTATION_EXTERNAL_ID: observation.external_id}}}
        )

    @staticmethod
    def _adopting(view: ObjectView) -> bool:
        """The external-id annotation names a remote object the status does not show yet: a person set it to
        adopt one (or, rarely, the operator crashed between storing the id and writing the status)."""
        return not view.status.get("externalId") and bool(view.annotations.get(ANNOTATION_EXTERNAL_ID))

    def _missing_stall(
        self, view: ObjectView, memory: ObjectMemory, selected: Selected, external_id: str
    ) -> st.Outcome | None:
        """The remote object does not exist: a stall when it must not be created again, else None."""
        if self._adopting(view):
            return st.stalled(
                "AdoptionFailed",
                f"The {ANNOTATION_EXTERNAL_ID} annotation names {external_id}, which does not exist upstream.",
                phase="Pending",
            )
        if not selected.provider.recreate_when_deleted_remotely:
            return st.stalled(
                "RemoteDeleted", f"Remote object {external_id} was deleted outside the operator."
            )
        return None

    async def _forget_remote(self, view: ObjectView, memory: ObjectMemory, external_id: str) -> ObjectView:
        """The remote object was deleted out of band and will be created again: drop its id and the marker
        (annotations, written now), and go on with a view whose status no longer has it."""
        self._event(
            view,
            "Warning",
            "RemoteDeleted",
            f"Remote object {external_id} was deleted outside the operator; creating it again.",
        )
        memory.external_id = None
        memory.pending_since = None
        await self.kube.merge_patch(
            view.path,
            {"metadata": {"annotations": {ANNOTATION_EXTERNAL_ID: None, ANNOTATION_CREATE_PENDING: None}}},
        )
        return dataclasses.replace(
            view,
            annotations={
                k: v
                for k, v in view.annotations.items()
                if k not in (ANNOTATION_EXTERNAL_ID, ANNOTATION_CREATE_PENDING)
            },
            status=st.forget_remote(view.status, self._provider_key(view)),
        )

    # ------------------------------------------------------------------------------------------------- delete

    async def delete(self, body: Mapping[str, Any], memo: Any) -> None:
        """Called by kopf's deletion handler; returning releases the finalizer, raising retries later.

        Whatever holds the deletion up (missing credentials, an upstream refusal or outage, a remote object
        that is not gone yet) is written into `.status` with the way out, and retried with backoff.
        """
        memory = memory_of(memo)
        async with memory.lock:
            view = ObjectView.of(body, self.kind.plural, memory)
            policy = view.spec.get("deletionPolicy") or DeletionPolicy.DELETE.value
            external_id = view.external_id(memory)
            if policy == DeletionPolicy.ORPHAN.value:
                self._event(
                    view, "Normal", "Orphaned", f"Left remote object {external_id or '(none)'} in place."
                )
                return
            try:
                selected = self._select(view)
            except InvalidSpec:
                return  # nothing was ever created from an invalid spec
            if not external_id and view.pending_since(memory) is None:
                return  # never created
            if await self._namespace_terminating(view):
                # Nothing can be created in a terminating namespace, Events included: say what happens in
                # Events about the namespace, in the operator's own namespace.
                view = dataclasses.replace(
                    view,
                    body=_namespace_body(view.namespace),
                    event_prefix=f"{self.kind.kind} {view.namespace}/{view.name}: ",
                )
            outcome = await self._delete_remote(view, memory, selected, external_id)
            if outcome is None:
                return
            await self._write_status(view, memory, outcome)
            raise kopf.TemporaryError(outcome.message, delay=max(memory.not_before - self.clock(), 0.1))

    async def _delete_remote(
        self, view: ObjectView, memory: ObjectMemory, selected: Selected, external_id: str | None
    ) -> st.Outcome | None:
        """Delete the remote object: None once it is gone (or there is none), else what holds it up."""
        what = f"remote object {external_id}" if external_id else "the remote object"
        way_out = "or set spec.deletionPolicy: Orphan to let the resource go and leave the remote object."
        try:
            credentials = await self._credentials(view, selected)
            request = self._request(view, memory, selected, credentials)
            if not external_id:
                found = await selected.provider.find(request)
                if isinstance(found, Undecidable):
                    self._event(
                        view,
                        "Warning",
                        "DeleteUnconfirmed",
                        "Deleting nothing upstream: a remote object may have been created without its "
                        f"id being saved, and it cannot be looked up. {found.message}",
                    )
                if not isinstance(found, Found):
                    return None
                external_id = found.observation.external_id
                what = f"remote object {external_id}"
            gone = await selected.provider.delete(request, external_id)
        except SecretNotFound as error:
            if view.event_prefix:  # the namespace is being deleted
                # The namespace's teardown took the Secret first, and nothing can be created in a terminating
                # namespace: waiting would only keep the namespace Terminating for ever.
                self._event(
                    view,
                    "Warning",
                    "Orphaned",
                    f"Namespace '{view.namespace}' is being deleted and {error} is already gone: left {what} "
                    "in place, as there are no credentials to delete it. Delete it upstream by hand; to avoid "
                    "this, delete the resources before their Secret.",
                )
                return None
            return self._blocked(
                memory,
                "CredentialsMissing",
                f"Cannot delete {what}: {error}. Create it again (the deletion goes on within seconds), {way_out}",
                recheck=True,
            )
        except (MissingCredentialKeys, AuthenticationError) as error:
            self.secrets.drop(view.namespace, _secret(view))
            return self._blocked(
                memory,
                "CredentialsInvalid",
                f"Cannot delete {what}: Secret '{_secret(view)}': {error}. Fix the Secret, {way_out}",
                recheck=True,
            )
        except PermanentUpstreamError as error:
            return self._blocked(
                memory, "UpstreamRejected", f"Cannot delete {what}: {error}. Fix it, {way_out}"
            )
        except TransientUpstreamError as error:
            memory.failures += 1
            delay = self.backoff.delay(memory.failures, error.retry_after)
            memory.not_before = self.clock() + delay
            return st.progressing(
                "Retrying",
                f"Deleting {what}: upstream temporarily unavailable, retrying in {delay:.0f}s: {error}",
                phase="Deleting",
            )
        memory.failures = 0
        if gone:
            self._event(view, "Normal", "Deleted", f"Deleted remote object {external_id}.")
            return None
        polling = view.spec.get("polling") or {}
        memory.not_before = self.clock() + float(
            polling.get("intervalSeconds") or self.settings.poll_interval_seconds
        )
        return st.progressing(
            "Deleting", f"Deleting {what}: waiting for the upstream to confirm it is gone.", phase="Deleting"
        )

    def _blocked(
        self, memory: ObjectMemory, reason: str, message: str, *, recheck: bool = False
    ) -> st.Outcome:
        """A deletion that needs a person: Stalled in `.status`, retried with backoff (credentials are
        re-read within seconds, so a fixed Secret is seen quickly)."""
        memory.failures += 1
        delay = self.backoff.delay(memory.failures)
        if recheck:
            delay = min(delay, self.settings.credentials_recheck_seconds)
        memory.not_before = self.clock() + delay
        return st.stalled(reason, message, phase="Deleting", recheck=recheck)

    # ------------------------------------------------------------------------------------------------ helpers

    def _select(self, view: ObjectView) -> Selected:
        if "" in self.providers:
            # A kind whose spec is itself the provider's (AssistantTool): no provider block to choose.
            key, provider, raw = "", self.providers[""], view.spec
        else:
            present = [key for key in self.providers if view.spec.get(key) is not None]
            if len(present) != 1:
                raise InvalidSpec(f"exactly one provider block must be set: {', '.join(self.providers)}")
            key = present[0]
            provider, raw = self.providers[key], view.spec[key]
        try:
            spec = provider.spec_model.model_validate(raw)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
            )
            raise InvalidSpec(f"spec{'.' + key if key else ''} is invalid: {problems}") from None
        return Selected(provider=provider, spec=spec, common=view.spec)

    def _provider_key(self, view: ObjectView) -> str | None:
        """The status key of the provider's mirrored block (None where its fields go top-level: root-spec
        kinds, and providers that mirror no block)."""
        present = [key for key in self.providers if key and view.spec.get(key) is not None]
        if len(present) != 1 or not self.providers[present[0]].mirrors_status_block:
            return None
        return present[0]

    def _provider_of(self, view: ObjectView) -> AnyProvider | None:
        if "" in self.providers:
            return self.providers[""]
        present = [key for key in self.providers if view.spec.get(key) is not None]
        return self.providers[present[0]] if len(present) == 1 else None

    async def _credentials(self, view: ObjectView, selected: Selected) -> Any:
        name = (view.spec.get("credentialsSecretRef") or {}).get("name")
        if not name:
            raise InvalidSpec("spec.credentialsSecretRef.name is required")
        data = await self.secrets.read(view.namespace, name)
        return selected.provider.credentials(data)

    def _request(
        self, view: ObjectView, memory: ObjectMemory, selected: Selected, credentials: Any
    ) -> Request[Any, Any]:
        return Request(
            resource=view.ref,
            spec=selected.spec,
            credentials=credentials,
            pending_since=view.pending_since(memory),
            saved=_saved(view.status, self._provider_key(view)),
        )

    async def _patch_status(self, view: ObjectView, memory: ObjectMemory, patch: dict[str, Any]) -> None:
        result = await self.kube.merge_patch(view.path, {"status": patch}, subresource="status")
        memory.status = dict(result.get("status") or {})

    async def _write_status(self, view: ObjectView, memory: ObjectMemory, outcome: st.Outcome) -> None:
        current = dict(memory.status if memory.status is not None else view.status)
        patch = st.status_patch(
            current,
            outcome,
            generation=view.generation,
            provider_key=self._provider_key(view),
            now=self.now(),
        )
        if patch is None:
            return
        await self._patch_status(view, memory, patch)
        new = dict(memory.status or {})
        for event in st.transition_events(current, new):
            self._event(view, event.type, event.reason, event.message)
        provider = self._provider_of(view)
        if provider is not None:
            for type_, reason, message in provider.transition_events(current, new):
                self._event(view, type_, reason, message)
        if new.get("phase") != current.get("phase") and new.get("phase"):
            log.info(
                "%s %s/%s: phase %s → %s",
                self.kind.kind,
                view.namespace,
                view.name,
                current.get("phase"),
                new.get("phase"),
            )

    def _event(self, view: ObjectView, type: str, reason: str, message: str) -> None:
        self.events(view.body, type, reason, view.event_prefix + message)

    async def _namespace_terminating(self, view: ObjectView) -> bool:
        try:
            return await self.kube.namespace_terminating(view.namespace)
        except KubeError as error:
            log.warning("cannot tell whether namespace %s is being deleted: %s", view.namespace, error)
            return False


TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Canceled", "Ready"})
# Stalled reasons that only a person can fix (a new generation or reconcile-requested-at retries).
_FINAL_REASONS = {
    "RemoteFailed",
    "RemoteCanceled",
    "Timeout",
    "UpstreamRejected",
    "InvalidSpec",
    "AmbiguousRemote",
    "CreateUnconfirmed",
    "AdoptionFailed",
    "RemoteDeleted",
}


def _saved(status: Mapping[str, Any], provider_key: str | None) -> dict[str, Any]:
    """What the provider last mirrored: its status block, or the top-level status where it has none."""
    return dict(status.get(provider_key) or {}) if provider_key else dict(status)


def _namespace_body(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}


def _secret(view: ObjectView) -> str:
    return str((view.spec.get("credentialsSecretRef") or {}).get("name") or "")


def _trust_stored_marker(view: ObjectView, memory: ObjectMemory) -> None:
    """Memory holds the pending marker only until the body shows it stored; from then on the body is the
    truth, so a person removing the marker (to allow a new create) is seen without a restart."""
    if memory.pending_since is not None and memory.pending_since == parse_time(
        view.annotations.get(ANNOTATION_CREATE_PENDING)
    ):
        memory.pending_since = None


def _answered(view: ObjectView, memory: ObjectMemory, stalled: Mapping[str, Any]) -> bool:
    """A person answered a stall about an unconfirmed or ambiguous create: set the external id (adopt one) or
    removed the pending marker (create anew). Both are annotation edits, seen by the next poll."""
    return stalled.get("reason") in ("CreateUnconfirmed", "AmbiguousRemote") and (
        bool(view.external_id(memory)) or view.pending_since(memory) is None
    )


def _with_pending(request: Request[Any, Any], pending: datetime.datetime | None) -> Request[Any, Any]:
    return Request(
        resource=request.resource,
        spec=request.spec,
        credentials=request.credentials,
        pending_since=pending,
        saved=request.saved,
    )


__all__ = ["Lifecycle", "RemoteState"]
