"""Pure mapping from what happened to `.status`: phase, conditions (kstatus), and the minimal patch.

No I/O here, so every rule is unit-tested directly.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import Any

from modelops_operator.providers.base import Observation, RemoteState

TRUE, FALSE = "True", "False"
READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"


@dataclass(frozen=True)
class Cond:
    status: str
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Outcome:
    """The resource's state after one reconcile pass, before it is rendered as status."""

    phase: str | None  # None keeps the current phase
    ready: Cond
    reconciling: Cond
    stalled: Cond
    message: str
    # Provider data; None keeps what status already has.
    remote_status: str | None = None
    external_id: str | None = None
    status_block: dict[str, Any] | None = None
    status_fields: dict[str, Any] | None = None
    # Stalled outcomes that may heal without a spec change (a Secret created later) are re-checked.
    recheck: bool = False
    from_observation: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # Status keys to remove unless this outcome sets them (the remote object they described is gone).
    clear: frozenset[str] = frozenset()

    @property
    def stalled_for_good(self) -> bool:
        return self.stalled.status == TRUE and not self.recheck


NOT_STALLED = Cond(FALSE, "AsExpected")


def _camel(word: str | None) -> str:
    parts = [part for part in (word or "").replace("-", "_").replace(" ", "_").split("_") if part]
    return "".join(part[:1].upper() + part[1:].lower() for part in parts) or "Unknown"


def outcome_for(
    observation: Observation, *, terminal_phase_names: dict[RemoteState, str] | None = None
) -> Outcome:
    """A fresh observation of the remote object → phase and conditions."""
    state = observation.state
    word = observation.remote_status
    names = terminal_phase_names or {}
    common = dict(
        remote_status=word,
        external_id=observation.external_id,
        status_block=observation.status_block,
        status_fields=observation.status_fields,
        from_observation=True,
    )
    if state is RemoteState.SUCCEEDED:
        message = f"Remote object {observation.external_id} is {word}."
        return Outcome(
            phase=names.get(state, "Succeeded"),
            ready=Cond(TRUE, "Succeeded", message),
            reconciling=Cond(FALSE, "Succeeded"),
            stalled=NOT_STALLED,
            message=message,
            **common,  # type: ignore[arg-type]
        )
    if state in (RemoteState.FAILED, RemoteState.CANCELED):
        reason = "RemoteFailed" if state is RemoteState.FAILED else "RemoteCanceled"
        message = observation.failure_message or f"Remote object {observation.external_id} is {word}."
        return Outcome(
            phase=names.get(state, "Failed" if state is RemoteState.FAILED else "Canceled"),
            ready=Cond(FALSE, reason, message),
            reconciling=Cond(FALSE, reason),
            stalled=Cond(TRUE, reason, message),
            message=message,
            **common,  # type: ignore[arg-type]
        )
    message = f"Remote object {observation.external_id} is {word or 'in progress'}."
    return Outcome(
        phase="Running",
        ready=Cond(FALSE, _camel(word or "InProgress"), message),
        reconciling=Cond(TRUE, _camel(word or "InProgress"), message),
        stalled=NOT_STALLED,
        message=message,
        **common,  # type: ignore[arg-type]
    )


def stalled(reason: str, message: str, *, phase: str | None = None, recheck: bool = False) -> Outcome:
    return Outcome(
        phase=phase,
        ready=Cond(FALSE, reason, message),
        reconciling=Cond(FALSE, reason),
        stalled=Cond(TRUE, reason, message),
        message=message,
        recheck=recheck,
    )


def progressing(reason: str, message: str, *, phase: str | None = None, ready: Cond | None = None) -> Outcome:
    return Outcome(
        phase=phase,
        ready=ready or Cond(FALSE, reason, message),
        reconciling=Cond(TRUE, reason, message),
        stalled=NOT_STALLED,
        message=message,
    )


def paused(current: dict[str, Any], message: str) -> Outcome:
    ready = condition(current, READY)
    return Outcome(
        phase=None,
        ready=Cond(ready.get("status", FALSE), ready.get("reason", "Paused"), ready.get("message", ""))
        if ready
        else Cond(FALSE, "Paused", message),
        reconciling=Cond(FALSE, "Paused", message),
        stalled=NOT_STALLED,
        message=message,
    )


REMOTE_KEYS = ("externalId", "remoteStatus")


def forget_remote(status: dict[str, Any], provider_key: str | None) -> dict[str, Any]:
    """The status as it stands once its remote object is known to be gone: no id, no remote status, no
    provider fields, not Ready, phase Pending (until a new object exists)."""
    gone = {*REMOTE_KEYS, *([provider_key] if provider_key else [])}
    result = {key: value for key, value in status.items() if key not in gone}
    result["phase"] = "Pending"
    result["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != READY]
    return result


def without_remote(outcome: Outcome, provider_key: str | None) -> Outcome:
    """`outcome`, written over a status that still describes a remote object which is gone."""
    return dataclasses.replace(
        outcome,
        phase=outcome.phase or "Pending",
        clear=frozenset({*REMOTE_KEYS, *([provider_key] if provider_key else [])}),
    )


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in status.get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return {}


def render_conditions(
    current: dict[str, Any], outcome: Outcome, generation: int | None, now: str
) -> list[dict[str, Any]]:
    rendered = []
    for kind, cond in (
        (READY, outcome.ready),
        (RECONCILING, outcome.reconciling),
        (STALLED, outcome.stalled),
    ):
        old = condition(current, kind)
        changed = old.get("status") != cond.status
        rendered.append(
            {
                "type": kind,
                "status": cond.status,
                "reason": cond.reason,
                "message": cond.message,
                "lastTransitionTime": now
                if changed or not old.get("lastTransitionTime")
                else old["lastTransitionTime"],
                "observedGeneration": generation,
            }
        )
    return rendered


def status_patch(
    current: dict[str, Any],
    outcome: Outcome,
    *,
    generation: int | None,
    provider_key: str | None,
    now: datetime.datetime,
) -> dict[str, Any] | None:
    """The merge patch for `.status`, or None when nothing would change (no write at all then)."""
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    wanted: dict[str, Any] = {
        "observedGeneration": generation,
        "message": outcome.message,
        "conditions": render_conditions(current, outcome, generation, stamp),
    }
    if outcome.phase is not None:
        wanted["phase"] = outcome.phase
    if outcome.remote_status is not None:
        wanted["remoteStatus"] = outcome.remote_status
    if outcome.external_id is not None:
        wanted["externalId"] = outcome.external_id
    wanted.update(outcome.extra)
    patch = {key: value for key, value in wanted.items() if current.get(key) != value}
    # Stored objects drop null fields (merge-patch semantics): compare without them, and send explicit
    # nulls only for fields that disappeared.
    if outcome.status_block is not None and provider_key:
        block = _without_nulls(outcome.status_block)
        old_block = current.get(provider_key) or {}
        if old_block != block:
            patch[provider_key] = {**{k: None for k in old_block if k not in block}, **block}
    for key, value in _without_nulls(outcome.status_fields or {}).items():
        if current.get(key) != value:
            patch[key] = value
    for key, value in (outcome.status_fields or {}).items():
        if value is None and current.get(key) is not None:
            patch[key] = None
    for key in outcome.clear:
        replaced = key in patch or key in wanted or (key == provider_key and outcome.status_block is not None)
        if not replaced and current.get(key) is not None:
            patch[key] = None
    if not patch:
        return None
    if outcome.from_observation:
        patch["lastSyncedAt"] = stamp
    return patch


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


@dataclass(frozen=True)
class EventSpec:
    type: str  # Normal | Warning
    reason: str
    message: str


def transition_events(old: dict[str, Any], new: dict[str, Any]) -> list[EventSpec]:
    """Events for what a person would want to know changed between two statuses: one per transition (a
    remote status that turns Ready or Stalled says so in that Event, not in a second one)."""
    events: list[EventSpec] = []
    old_ready, new_ready = condition(old, READY), condition(new, READY)
    if new_ready.get("status") == TRUE and old_ready.get("status") != TRUE:
        events.append(EventSpec("Normal", new_ready.get("reason") or "Ready", new_ready.get("message", "")))
    old_stalled, new_stalled = condition(old, STALLED), condition(new, STALLED)
    if new_stalled.get("status") == TRUE and (
        old_stalled.get("status") != TRUE or old_stalled.get("reason") != new_stalled.get("reason")
    ):
        events.append(
            EventSpec("Warning", new_stalled.get("reason") or "Stalled", new_stalled.get("message", ""))
        )
    if old_stalled.get("status") == TRUE and new_stalled.get("status") != TRUE:
        events.append(EventSpec("Normal", "Recovered", "No longer stalled: " + (new.get("message") or "")))
    old_remote, new_remote = old.get("remoteStatus"), new.get("remoteStatus")
    if new_remote and old_remote and new_remote != old_remote and not events:
        events.append(
            EventSpec("Normal", "RemoteStatusChanged", f"Remote status changed: {old_remote} → {new_remote}")
        )
    return events
