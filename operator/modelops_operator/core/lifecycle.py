"""The generic lifecycle, written once for every kind and provider.

pending marker → lookup or adopt → create → poll → status and conditions → Events → deletion by policy.
kopf hands every watch event to `on_event`; the lifecycle owns what follows: passes when something changed,
polling (coalesced per parent, `core.polling`), and deletion with the finalizer. Providers supply the
upstream calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import kopf
from pydantic import ValidationError

from modelops_operator.api.common import (
    ANNOTATION_CREATE_PENDING,
    ANNOTATION_EXTERNAL_ID,
    ANNOTATION_PAUSED,
    ANNOTATION_RECONCILE_REQUESTED,
    FINALIZER,
    DeletionPolicy,
    ManagementPolicy,
)
from modelops_operator.api.crd import KindDefinition
from modelops_operator.config import Settings
from modelops_operator.core import status as st
from modelops_operator.core.gauges import ResourceGauges
from modelops_operator.core.kube import KubeClient, KubeError, SecretNotFound
from modelops_operator.core.passes import PassQueue
from modelops_operator.core.polling import Listed, Poller
from modelops_operator.core.resource import (
    UNKNOWN,
    ObjectMemory,
    ObjectView,
    compact_body,
    format_time,
    memory_of,
    parse_time,
)
from modelops_operator.core.secrets import SecretCache
from modelops_operator.core.shard import LabelSelector
from modelops_operator.metrics import Metrics
from modelops_operator.providers.backoff import Backoff
from modelops_operator.providers.base import (
    Ambiguous,
    Batch,
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
        shard: LabelSelector | None = None,
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
        # The resources this replica owns (sharding); everything by default.
        self.shard = shard or LabelSelector()
        self.gauges = ResourceGauges(metrics, kind.kind)
        self.poller = Poller(
            self,
            tick=min(settings.poll_interval_seconds, 1.0),
            on_batch=lambda upstream, size: metrics.poll_batch.labels(kind.kind, upstream).observe(size),
            clock=clock,
        )
        self._deleters: set[asyncio.Task[None]] = set()
        # Set when the operator goes down (halt or stop): events that still arrive start nothing, so no
        # pass, poll or deletion of this operator writes after it was stopped.
        self._closed = False
        # Admission for passes: many resources at once wait here, before any request (and its deadline) starts.
        self._passes = asyncio.Semaphore(settings.max_concurrent_passes)
        self.queue = PassQueue(
            lambda memory, trigger: self.reconcile(memory, trigger=trigger), settings.max_concurrent_passes
        )
        self.backoff = Backoff(
            base=max(settings.backoff_base_seconds, 0.1) * 2,
            cap=settings.backoff_max_seconds,
            max_retry_after=settings.max_retry_after_seconds,
        )

    # -------------------------------------------------------------------------------------------------- intake

    async def on_event(self, event_type: str | None, body: Mapping[str, Any], memo: Any) -> None:
        """Every watch event of the kind (kopf's on.event: no per-handler progress or diffbase is stored,
        so kopf itself writes nothing). A pass runs when something a person or the operator acts on
        changed; polling and deletion run on their own from here on."""
        if self._closed:
            return
        memory = memory_of(memo)
        uid = str((body.get("metadata") or {}).get("uid") or "")
        if event_type == "DELETED" and _observe_only(ObjectView.of(body, self.kind.plural, memory)):
            # Without a finalizer (nothing to delete upstream) the resource is gone at once: say what stays.
            external_id = ObjectView.of(body, self.kind.plural, memory).external_id(memory)
            if external_id:
                self.events(
                    body,
                    "Normal",
                    "Orphaned",
                    f"Left remote object {external_id} in place (managementPolicy ObserveOnly).",
                )
        if event_type == "DELETED" or not self.shard.matches((body.get("metadata") or {}).get("labels")):
            # Gone, or relabelled into another shard: let it go (its annotations tell the next owner
            # what was done upstream).
            self._forget(uid, memory)
            return
        if not _older(body, memory.body):  # the operator's own writes may be ahead of the watch
            memory.body = compact_body(body)
        body = memory.body
        memory.gone = False
        self.gauges.observe(uid, body.get("status"))
        view = ObjectView.of(body, self.kind.plural, memory)
        trigger = self._trigger(view, memory)
        if trigger is not None:
            memory.batch_key = UNKNOWN
            memory.notify_changed()
        if view.deleting:
            self.poller.drop(uid)
            self._start_deletion(memory)
            return
        self.poller.track(uid, memory)
        if trigger is not None:
            self.queue.submit(memory, trigger)

    def _forget(self, uid: str, memory: ObjectMemory) -> None:
        self.poller.drop(uid)
        self.gauges.forget(uid)
        memory.gone = True
        memory.notify_changed()
        memory.seen = memory.acted = None

    def _trigger(self, view: ObjectView, memory: ObjectMemory) -> str | None:
        """None when nothing that matters changed since the last event (e.g. the operator's own status
        write); "requested" for a new reconcile-requested-at; else "event"."""
        key = _event_key(view)
        previous, memory.seen = memory.seen, key
        if previous is None:
            return "event"  # first sight: created, or the operator (re)started
        if key == previous:
            return None
        return "requested" if key[1] != previous[1] else "event"

    # ------------------------------------------------------------------------------------------------ polling

    def wants_poll(self, memory: ObjectMemory, now: float) -> bool:
        # A resource's first pass is its event's, from the pass queue: the poller takes over after it (a
        # thousand resources applied together would otherwise each start a polling task at once as well).
        return memory.polls > 0 and now >= memory.next_poll_at and now >= memory.not_before

    async def batch_of(self, memory: ObjectMemory) -> tuple[str, Batch] | None:
        view = ObjectView.of(memory.body, self.kind.plural, memory)
        if view.paused or not view.external_id(memory):
            return None  # nothing to observe yet (the key stays unknown)
        try:
            selected = self._select(view)
            credentials = await self._credentials(view, selected)
        except (InvalidSpec, SecretNotFound, MissingCredentialKeys, KubeError):
            return None  # read on its own, where the pass says what is wrong
        request = self._request(view, memory, selected, credentials)
        batch = selected.provider.batch(request) if self.settings.coalesce_polling else None
        memory.batch_key = None if batch is None else batch.key
        return None if batch is None else (selected.provider.upstream, batch)

    async def poll(self, memory: ObjectMemory, listed: Listed | None) -> None:
        now = self.clock()
        trigger = "timer" if self.wants_poll(memory, now) else "listed"
        if listed is not None and _as_last_listed(memory, listed):
            memory.next_poll_at = max(now + memory.interval, memory.not_before)
            return
        await self.reconcile(memory, trigger=trigger, listed=listed)

    # ---------------------------------------------------------------------------------------------- callbacks

    def callback_url(self, view: ObjectView) -> str | None:
        """The URL the operator gives the upstream for this resource's status callbacks: distinct per
        resource (its uid is in it), so the URL a callback arrives at names the resource."""
        base = self.settings.callback_base_url
        if not base or not self.settings.callback_port:
            return None
        return f"{base.rstrip('/')}{callback_path(self.kind.plural, view.namespace, view.name, view.uid)}"

    async def callback(
        self, namespace: str, name: str, uid: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, str]:
        """A status callback posted to this resource's URL: (HTTP status, reason). A genuine one makes the
        operator observe the remote object now; what it says is never taken for status."""
        memory = self.poller.member(uid)
        if memory is None or not memory.body:
            return 404, "no such resource"
        view = ObjectView.of(memory.body, self.kind.plural, memory)
        url = self.callback_url(view)
        external_id = view.external_id(memory)
        if (view.namespace, view.name) != (namespace, name) or url is None or not external_id:
            return 404, "no such resource"
        try:
            selected = self._select(view)
            credentials = await self._credentials(view, selected)
        except (InvalidSpec, SecretNotFound, MissingCredentialKeys, KubeError):
            return 403, "the resource's credentials cannot be read"
        request = self._request(view, memory, selected, credentials)
        refused = selected.provider.verify_callback(request, url, form, headers, external_id)
        if refused is not None:
            return 403, refused
        memory.last_callback_at = self.clock()
        self._observe_soon(memory)
        return 204, "accepted"

    def callback_upstream(self) -> str:
        """The upstream that posts this kind's callbacks (the metric's label)."""
        return next((p.upstream for p in self.providers.values() if p.accepts_callbacks), "none")

    def _observe_soon(self, memory: ObjectMemory) -> None:
        # Through the pass queue, like an event: its workers run in kopf's context (Events can be posted
        # from there; the callback server's own tasks cannot), and a pass already queued absorbs it.
        self.queue.submit(memory, "callback")

    def halt(self) -> None:
        """Stop every task of this lifecycle at once, without waiting (the operator is going down hard)."""
        self._closed = True
        self.queue.halt()
        self.poller.halt()
        for task in self._deleters:
            task.cancel()

    async def stop(self) -> None:
        self._closed = True
        await self.queue.stop()
        await self.poller.stop()
        deleters = [task for task in self._deleters if not task.done()]
        for task in deleters:
            task.cancel()
        for task in deleters:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ----------------------------------------------------------------------------------------------- reconcile

    async def reconcile(self, memory: ObjectMemory, *, trigger: str, listed: Listed | None = None) -> None:
        async with memory.lock:
            if memory.gone or not memory.body:
                return
            view = ObjectView.of(memory.body, self.kind.plural, memory)
            if view.deleting:
                return
            _trust_stored_marker(view, memory)
            if trigger == "event" and memory.acted is not None and _event_key(view) == memory.acted:
                return  # the event was the operator's own write, seen before its answer came back
            if not self._due(view, memory, trigger):
                return
            async with self._passes:
                await self._reconcile_now(view, memory, listed)

    async def _reconcile_now(self, view: ObjectView, memory: ObjectMemory, listed: Listed | None) -> None:
        memory.polls += 1
        memory.acted = _event_key(view)
        started = self.clock()
        outcome_label = "error"
        try:
            memory.listed_as = None
            outcome = await self._pass(view, memory, listed)
            if outcome.from_observation and outcome.ready.status == st.TRUE:
                memory.synced_generation = view.generation
            self._schedule(view, memory, outcome)
            await self._write_status(view, memory, outcome)
            outcome_label = _outcome_label(outcome)
            item = _listed_item(listed, outcome.external_id)
            if outcome.from_observation and memory.failures == 0 and item is not None:
                memory.listed_as = (str(outcome.external_id), _fingerprint(item))
        except Exception:
            # An API server that went away, a conflict: try again at the next tick, with backoff.
            memory.failures += 1
            memory.not_before = self.clock() + self.backoff.delay(memory.failures)
            memory.next_poll_at = memory.not_before
            raise
        finally:
            self.metrics.reconcile_duration.labels(self.kind.kind, outcome_label).observe(
                self.clock() - started
            )

    def _due(self, view: ObjectView, memory: ObjectMemory, trigger: str) -> bool:
        """Whether this wake-up should talk to the upstream.

        `trigger` is "timer" (its poll is due), "listed" (its parent's list came by before its poll was due),
        "callback" (the upstream posted a genuine status callback),
        "event" (created, resumed, spec or annotations changed) or "requested" (the reconcile-requested-at
        annotation: a person asks for a retry now).
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
        if trigger == "callback":
            return stalled.get("status") != st.TRUE  # a finished failure does not change any more
        if trigger in ("timer", "listed"):
            if trigger == "timer" and now < memory.next_poll_at:
                return False
            if (
                not self.poll_when_terminal
                and view.status.get("phase") in TERMINAL_PHASES
                and memory.failures == 0  # a request that failed on the way is still retried
            ):
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
        if memory.last_callback_at is not None and self.clock() - memory.last_callback_at < interval * (
            CALLBACK_SLOWDOWN
        ):
            # Callbacks arrive: polling is only the safety net now.
            interval *= CALLBACK_SLOWDOWN
        memory.interval, memory.terminal = interval, terminal
        offset = 0.0
        if not memory.phased and memory.batch_key is None:
            # Read on its own: each resource at its own phase of the interval (from its uid), so resources
            # created together do not poll together; from then on every interval keeps the phase.
            memory.phased = True
            offset = interval * (zlib.crc32(view.uid.encode()) % 1000) / 1000
        memory.next_poll_at = max(self.clock() + interval + offset, memory.not_before)

    async def _pass(self, view: ObjectView, memory: ObjectMemory, listed: Listed | None) -> st.Outcome:
        forgotten: list[str] = []  # a remote object found deleted during this pass
        outcome = await self._attempt(view, memory, listed, forgotten)
        if forgotten:
            # Whatever the pass ended in (a new remote object, or an error on the way), the one status write
            # no longer shows the object that is gone: readers never see its id beside a new phase, or the
            # new id beside the old phase.
            outcome = st.without_remote(outcome, self._provider_key(view))
        return outcome

    async def _attempt(
        self, view: ObjectView, memory: ObjectMemory, listed: Listed | None, forgotten: list[str]
    ) -> st.Outcome:
        if view.paused:
            return st.paused(view.status, f"Paused by the {ANNOTATION_PAUSED} annotation: no remote calls.")
        selected: Selected | None = None
        try:
            selected = self._select(view)
            credentials = await self._credentials(view, selected)
            request = self._request(view, memory, selected, credentials)
            external_id = view.external_id(memory)
            if _observe_only(view):
                return await self._mirror(view, memory, selected, request, external_id, listed)
            observation = None
            if external_id:
                await self._hold(view, memory)
                observation = await self._observe(selected, request, external_id, listed)
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

    async def _mirror(
        self,
        view: ObjectView,
        memory: ObjectMemory,
        selected: Selected,
        request: Request[Any, Any],
        external_id: str | None,
        listed: Listed | None,
    ) -> st.Outcome:
        """managementPolicy ObserveOnly: the remote object named by the annotation, into .status; nothing
        is ever created, updated, deleted or cancelled upstream."""
        if not external_id:
            return st.stalled(
                "ExternalIdRequired",
                f"managementPolicy ObserveOnly observes an existing remote object: set the {ANNOTATION_EXTERNAL_ID} "
                "annotation to its id. Nothing is created.",
                phase="Pending",
            )
        observation = await self._observe(selected, request, external_id, listed)
        if observation is None:
            return st.stalled(
                "RemoteNotFound",
                f"Remote object {external_id} does not exist upstream (managementPolicy ObserveOnly: nothing is "
                "created). Correct the annotation, or switch to managementPolicy Full to create one.",
                phase="Pending",
            )
        memory.failures = 0
        if observation.differences and observation.state is RemoteState.RUNNING:
            # It differs from the spec, which ObserveOnly does not push: it exists, that is its wanted state.
            observation = dataclasses.replace(observation, state=RemoteState.SUCCEEDED, up_to_date=True)
        outcome = self._outcome(observation)
        if observation.differences:
            note = (
                f"Observing remote object {external_id} (managementPolicy ObserveOnly); it differs from the spec "
                f"in {', '.join(observation.differences)}, which is not pushed."
            )
            outcome = dataclasses.replace(outcome, message=note)
        return outcome

    async def _observe(
        self, selected: Selected, request: Request[Any, Any], external_id: str, listed: Listed | None
    ) -> Observation | None:
        """From the parent's list when there is one; what the list does not show (deleted, or past its
        pages) is read on its own before anything is concluded."""
        if listed is not None:
            if listed.error is not None:
                raise listed.error
            if listed.items is not None and external_id in listed.items:
                return await selected.provider.observe(request, external_id, listed.items[external_id])
        return await selected.provider.observe(request, external_id)

    async def _hold(self, view: ObjectView, memory: ObjectMemory) -> None:
        """The finalizer, on a resource that has a remote object but not yet the finalizer (one adopted
        with the external-id annotation): its deletion must go through the policy."""
        if FINALIZER not in view.finalizers:
            await self._patch_metadata(view, memory, {"finalizers": [*view.finalizers, FINALIZER]})

    async def _patch_metadata(self, view: ObjectView, memory: ObjectMemory, metadata: dict[str, Any]) -> None:
        """A metadata patch; conditional on the resourceVersion the operator acted on when it replaces the
        finalizer list (a concurrent change must not be lost). What it stored is remembered as seen, so the
        watch event of the operator's own write does not start another pass."""
        if "finalizers" in metadata:
            metadata = {**metadata, "resourceVersion": view.resource_version}
        result = await self.kube.merge_patch(view.path, {"metadata": metadata})
        memory.body = compact_body(result)
        memory.seen = memory.acted = _event_key(ObjectView.of(result, self.kind.plural, memory))

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
            # A finished object stays Ready while a drift check cannot reach the upstream; but an edit that is
            # not pushed yet keeps Reconciling True, so kubectl wait, Argo CD and Flux do not see it rolled out.
            pending_edit = st.TRUE if not self._drifted(view, memory) else st.FALSE
            return st.Outcome(
                phase=None,
                ready=st.Cond(st.TRUE, ready.get("reason", "Succeeded"), ready.get("message", "")),
                reconciling=st.Cond(pending_edit, "Retrying", message),
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
            # An exact, cheap lookup first (read-only: it needs no marker, and a lookup that fails, e.g. on
            # refused credentials, leaves none behind to hold up a deletion).
            found = await provider.find(request) if provider.find_without_marker else NotFound()
            if isinstance(found, Found):
                return await self._recovered(view, memory, found.observation)
            # The marker is stored before the POST: after a crash, its presence says "look before creating".
            pending = self.now()
            # One write: the finalizer (deletion must go through the policy from now on) and the marker.
            held = {} if FINALIZER in view.finalizers else {"finalizers": [*view.finalizers, FINALIZER]}
            await self._patch_metadata(
                view, memory, {**held, "annotations": {ANNOTATION_CREATE_PENDING: format_time(pending)}}
            )
            view = ObjectView.of(memory.body, self.kind.plural, memory)
            memory.pending_since = pending
            request = _with_pending(request, pending)
        else:
            found = await provider.find(request)
            settles_at = pending + datetime.timedelta(seconds=self._create_settle_seconds())
            if isinstance(found, NotFound) and self.now() < settles_at:
                # An earlier attempt's create may still be on its way (its answer timed out, the upstream
                # is slow): "not there" means nothing until that request certainly ended.
                wait = (settles_at - self.now()).total_seconds()
                memory.not_before = self.clock() + wait
                return st.progressing(
                    "CreateSettling",
                    f"An earlier create may still be under way upstream; looking again in {wait:.0f}s before "
                    "creating anything.",
                    phase="Pending",
                )
        if isinstance(found, Found):
            return await self._recovered(view, memory, found.observation)
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

    async def _recovered(
        self, view: ObjectView, memory: ObjectMemory, observation: Observation
    ) -> st.Outcome:
        """An earlier attempt's remote object, found: taken instead of creating another."""
        if FINALIZER not in view.finalizers:
            await self._patch_metadata(view, memory, {"finalizers": [*view.finalizers, FINALIZER]})
            view = ObjectView.of(memory.body, self.kind.plural, memory)
        await self._remember_external_id(view, memory, observation)
        self._event(
            view,
            "Normal",
            "Recovered",
            f"Found remote object {observation.external_id} created by an earlier attempt; not creating another.",
        )
        return self._timed(view, memory, self._outcome(observation))

    def _create_settle_seconds(self) -> float:
        """How long after a create began its request can still be in flight (one logical request ends within
        twice the HTTP timeout, retries included), plus a margin for the upstream's own processing."""
        return 2 * self.settings.http_timeout_seconds + 2.0

    async def _clear_marker(self, view: ObjectView, memory: ObjectMemory) -> None:
        memory.pending_since = None
        await self._patch_metadata(view, memory, {"annotations": {ANNOTATION_CREATE_PENDING: None}})

    async def _remember_external_id(
        self, view: ObjectView, memory: ObjectMemory, observation: Observation
    ) -> None:
        """Store the remote id right after create, before anything else can fail. Only the annotation is
        written now; the status (id, phase, conditions, provider fields) follows in the pass's one write."""
        memory.external_id = observation.external_id
        memory.batch_key = UNKNOWN  # it can be observed with its parent's list from now on
        await self._patch_metadata(
            view, memory, {"annotations": {ANNOTATION_EXTERNAL_ID: observation.external_id}}
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
        await self._patch_metadata(
            view, memory, {"annotations": {ANNOTATION_EXTERNAL_ID: None, ANNOTATION_CREATE_PENDING: None}}
        )
        view = ObjectView.of(memory.body, self.kind.plural, memory)
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

    def _start_deletion(self, memory: ObjectMemory) -> None:
        if self._closed:
            return
        if memory.deleter is None or memory.deleter.done():
            memory.deleter = asyncio.create_task(
                self._deletion(memory), name=f"modelops-delete-{self.kind.plural}"
            )
            self._deleters.add(memory.deleter)
            memory.deleter.add_done_callback(self._deleters.discard)

    async def _deletion(self, memory: ObjectMemory) -> None:
        """Until the finalizer is released: delete by policy, say in `.status` what holds it up, wait out
        the backoff (or until the resource changes, e.g. deletionPolicy set to Orphan), try again."""
        while not memory.gone:
            try:
                async with memory.lock:
                    view = ObjectView.of(memory.body, self.kind.plural, memory)
                    if FINALIZER not in view.finalizers or memory.gone:
                        return
                    outcome = await self._delete(view, memory)
                    if outcome is None:
                        await self._release(view, memory)
                        return
                    await self._write_status(view, memory, outcome)
            except KubeError as error:
                if error.status == 404:
                    return  # already gone
                log.warning("%s %s: deletion: %s", self.kind.kind, _name(memory), error)
                memory.failures += 1
                memory.not_before = self.clock() + self.backoff.delay(memory.failures)
            except Exception:
                log.exception("%s %s: deletion failed; retrying", self.kind.kind, _name(memory))
                memory.failures += 1
                memory.not_before = self.clock() + self.backoff.delay(memory.failures)
            await memory.wait_changed(max(memory.not_before - self.clock(), 0.05))

    async def _release(self, view: ObjectView, memory: ObjectMemory) -> None:
        """Remove the finalizer: the API server deletes the resource."""
        await self._patch_metadata(
            view, memory, {"finalizers": [f for f in view.finalizers if f != FINALIZER]}
        )

    async def _delete(self, view: ObjectView, memory: ObjectMemory) -> st.Outcome | None:
        """One attempt: None when the resource may go (deleted remotely, orphaned, or nothing to delete),
        else the outcome that says what holds it up."""
        policy = view.spec.get("deletionPolicy") or DeletionPolicy.DELETE.value
        external_id = view.external_id(memory)
        if _observe_only(view):
            self._event(
                view,
                "Normal",
                "Orphaned",
                f"Left remote object {external_id or '(none)'} in place (managementPolicy ObserveOnly).",
            )
            return None
        if policy == DeletionPolicy.ORPHAN.value:
            self._event(view, "Normal", "Orphaned", f"Left remote object {external_id or '(none)'} in place.")
            return None
        try:
            selected = self._select(view)
        except InvalidSpec:
            return None  # nothing was ever created from an invalid spec
        if not external_id and view.pending_since(memory) is None:
            return None  # never created
        if await self._namespace_terminating(view):
            # Nothing can be created in a terminating namespace, Events included: say what happens in Events
            # about the namespace, in the operator's own namespace.
            view = dataclasses.replace(
                view,
                body=_namespace_body(view.namespace),
                event_prefix=f"{self.kind.kind} {view.namespace}/{view.name}: ",
            )
        outcome = await self._delete_remote(view, memory, selected, external_id)
        if outcome is not None:
            memory.not_before = max(memory.not_before, self.clock() + 0.05)
        return outcome

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
                        f"id being saved, and it cannot be looked up. {found.when_deleted or found.message}",
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
            message = f"Deleting {what}: upstream temporarily unavailable, retrying in {delay:.0f}s: {error}"
            if memory.last_warning != str(error):
                memory.last_warning = str(error)  # once per distinct error, as while reconciling
                self._event(view, "Warning", "UpstreamUnavailable", message)
            return st.progressing("Retrying", message, phase="Deleting")
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
            callback_url=self.callback_url(view) if selected.provider.accepts_callbacks else None,
        )

    async def _patch_status(self, view: ObjectView, memory: ObjectMemory, patch: dict[str, Any]) -> None:
        result = await self.kube.merge_patch(view.path, {"status": patch}, subresource="status")
        # The answer is the whole object as stored: the freshest body there is (the watch event of this write
        # changes nothing that matters, and an older one is never taken over it).
        memory.body = compact_body(result)

    async def _write_status(self, view: ObjectView, memory: ObjectMemory, outcome: st.Outcome) -> None:
        current = dict(view.status)
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
        new = dict(memory.body.get("status") or {})
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


# While an upstream posts status callbacks for a resource, it is polled this many times less often.
CALLBACK_SLOWDOWN = 6


def callback_path(plural: str, namespace: str, name: str, uid: str) -> str:
    return f"/callbacks/{plural}/{namespace}/{name}/{uid}"


def _observe_only(view: ObjectView) -> bool:
    return view.spec.get("managementPolicy") == ManagementPolicy.OBSERVE_ONLY.value


def _event_key(view: ObjectView) -> tuple[Any, ...]:
    """What of a resource decides whether an event needs a pass: the generation (spec changes) and the
    annotations a person sets (the reconcile request must stay second: `_trigger` reads it there)."""
    annotations = view.annotations
    return (
        view.generation,
        annotations.get(ANNOTATION_RECONCILE_REQUESTED),
        annotations.get(ANNOTATION_PAUSED),
        annotations.get(ANNOTATION_EXTERNAL_ID),
        annotations.get(ANNOTATION_CREATE_PENDING),
        view.deleting,
    )


def _listed_item(listed: Listed | None, external_id: str | None) -> Any:
    if listed is None or listed.items is None or not external_id:
        return None
    return listed.items.get(external_id)


def _fingerprint(item: Any) -> int:
    """Equal for equal listed items (a pydantic model's repr lists every field), within one process."""
    return hash(repr(item))


def _as_last_listed(memory: ObjectMemory, listed: Listed) -> bool:
    """Whether a list shows a terminal remote object exactly as the resource's last pass saw it, with
    nothing changed on the resource since (no event it has not acted on, no failure to retry): a pass would
    find nothing to do."""
    if memory.listed_as is None or not memory.terminal or memory.failures or memory.gone:
        return False
    if memory.seen != memory.acted:
        return False
    external_id, fingerprint = memory.listed_as
    item = _listed_item(listed, external_id)
    return item is not None and _fingerprint(item) == fingerprint


def _older(body: Mapping[str, Any], than: Mapping[str, Any]) -> bool:
    """Whether `body` is an older version of `than` (resourceVersions are etcd revisions, numbers; where
    they are not, nothing is assumed)."""
    new = str((body.get("metadata") or {}).get("resourceVersion") or "")
    old = str((than.get("metadata") or {}).get("resourceVersion") or "")
    return new.isdigit() and old.isdigit() and int(new) < int(old)


def _name(memory: ObjectMemory) -> str:
    meta = memory.body.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _outcome_label(outcome: st.Outcome) -> str:
    if outcome.stalled.status == st.TRUE:
        return "stalled"
    if outcome.reconciling.reason == "Retrying":
        return "retrying"
    return "ok"


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
        callback_url=request.callback_url,
    )


__all__ = ["Lifecycle", "RemoteState"]
