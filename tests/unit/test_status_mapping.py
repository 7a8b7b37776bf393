"""Observation → phase, conditions, minimal status patch and Events (kstatus conventions)."""

from __future__ import annotations

import datetime

from modelops_operator.core import status as st
from modelops_operator.providers.base import Observation, RemoteState

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(minutes=5)


def obs(state: RemoteState, word: str, failure: str | None = None) -> Observation:
    return Observation(
        external_id="UG1",
        remote_status=word,
        state=state,
        status_block={"sid": "UG1"},
        failure_message=failure,
    )


def conds(patch: dict) -> dict[str, dict]:
    return {c["type"]: c for c in patch["conditions"]}


def test_running_is_reconciling_not_ready() -> None:
    patch = st.status_patch(
        {},
        st.outcome_for(obs(RemoteState.RUNNING, "building")),
        generation=1,
        provider_key="twilioAutopilot",
        now=NOW,
    )
    assert patch is not None
    assert patch["phase"] == "Running"
    assert patch["remoteStatus"] == "building"
    assert patch["twilioAutopilot"] == {"sid": "UG1"}
    c = conds(patch)
    assert (c["Ready"]["status"], c["Reconciling"]["status"], c["Stalled"]["status"]) == (
        "False",
        "True",
        "False",
    )
    assert c["Reconciling"]["reason"] == "Building"
    assert all(x["observedGeneration"] == 1 for x in c.values())


def test_succeeded_is_ready() -> None:
    patch = st.status_patch(
        {}, st.outcome_for(obs(RemoteState.SUCCEEDED, "completed")), generation=2, provider_key=None, now=NOW
    )
    assert patch is not None and patch["phase"] == "Succeeded"
    c = conds(patch)
    assert (c["Ready"]["status"], c["Reconciling"]["status"], c["Stalled"]["status"]) == (
        "True",
        "False",
        "False",
    )


def test_failed_is_stalled_with_the_upstream_reason() -> None:
    outcome = st.outcome_for(
        obs(RemoteState.FAILED, "failed", "the model build failed with error code 23001")
    )
    patch = st.status_patch({}, outcome, generation=1, provider_key=None, now=NOW)
    assert patch is not None and patch["phase"] == "Failed"
    stalled = conds(patch)["Stalled"]
    assert stalled["status"] == "True" and stalled["reason"] == "RemoteFailed"
    assert "23001" in stalled["message"]


def test_canceled_phase() -> None:
    patch = st.status_patch(
        {}, st.outcome_for(obs(RemoteState.CANCELED, "canceled")), generation=1, provider_key=None, now=NOW
    )
    assert patch is not None and patch["phase"] == "Canceled"
    assert conds(patch)["Stalled"]["reason"] == "RemoteCanceled"


def test_no_patch_when_nothing_changed() -> None:
    outcome = st.outcome_for(obs(RemoteState.RUNNING, "building"))
    first = st.status_patch({}, outcome, generation=1, provider_key="p", now=NOW)
    assert first is not None
    assert st.status_patch(first, outcome, generation=1, provider_key="p", now=LATER) is None


def test_new_generation_alone_is_written() -> None:
    outcome = st.outcome_for(obs(RemoteState.RUNNING, "building"))
    first = st.status_patch({}, outcome, generation=1, provider_key="p", now=NOW)
    assert first is not None
    second = st.status_patch(first, outcome, generation=2, provider_key="p", now=LATER)
    assert second is not None and second["observedGeneration"] == 2


def test_transition_time_kept_while_status_holds() -> None:
    running = st.status_patch(
        {}, st.outcome_for(obs(RemoteState.PENDING, "enqueued")), generation=1, provider_key=None, now=NOW
    )
    assert running is not None
    building = st.status_patch(
        running,
        st.outcome_for(obs(RemoteState.RUNNING, "building")),
        generation=1,
        provider_key=None,
        now=LATER,
    )
    assert building is not None
    c = conds(building)
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert c["Reconciling"]["lastTransitionTime"] == stamp  # still True
    assert c["Reconciling"]["reason"] == "Building"
    done = st.status_patch(
        {**running, **building},
        st.outcome_for(obs(RemoteState.SUCCEEDED, "completed")),
        generation=1,
        provider_key=None,
        now=LATER,
    )
    assert done is not None
    assert conds(done)["Ready"]["lastTransitionTime"] == LATER.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_events_for_transitions() -> None:
    running = st.status_patch(
        {}, st.outcome_for(obs(RemoteState.PENDING, "enqueued")), generation=1, provider_key=None, now=NOW
    )
    assert running is not None
    failed = {
        **running,
        **(
            st.status_patch(
                running,
                st.outcome_for(obs(RemoteState.FAILED, "failed", "boom")),
                generation=1,
                provider_key=None,
                now=LATER,
            )
            or {}
        ),
    }
    # One Event per transition: the failure says it all (no separate "enqueued → failed").
    events = st.transition_events(running, failed)
    assert [(e.type, e.reason, e.message) for e in events] == [("Warning", "RemoteFailed", "boom")]
    building = {**running, "remoteStatus": "building"}
    assert [(e.reason, e.message) for e in st.transition_events(running, building)] == [
        ("RemoteStatusChanged", "Remote status changed: enqueued → building")
    ]


def test_recovered_event_when_stalled_clears() -> None:
    missing = st.status_patch(
        {},
        st.stalled("CredentialsMissing", "Secret 'x' not found", recheck=True),
        generation=1,
        provider_key=None,
        now=NOW,
    )
    assert missing is not None
    fine = {
        **missing,
        **(
            st.status_patch(
                missing,
                st.outcome_for(obs(RemoteState.RUNNING, "building")),
                generation=1,
                provider_key=None,
                now=LATER,
            )
            or {}
        ),
    }
    assert [e.reason for e in st.transition_events(missing, fine)] == ["Recovered"]


SUCCEEDED = {
    "phase": "Succeeded",
    "externalId": "UGold",
    "remoteStatus": "completed",
    "twilioAutopilot": {"sid": "UGold", "buildDuration": 10},
    "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded"}],
}


def test_a_remote_object_found_gone_is_forgotten_in_the_same_write_that_shows_the_new_one() -> None:
    created = st.without_remote(st.outcome_for(obs(RemoteState.PENDING, "enqueued")), "twilioAutopilot")
    patch = st.status_patch(SUCCEEDED, created, generation=1, provider_key="twilioAutopilot", now=NOW)
    assert patch is not None
    # New id, new phase, new block, Ready False: all in one patch (never the new id beside the old phase).
    assert (
        patch["phase"] == "Running" and patch["externalId"] == "UG1" and patch["remoteStatus"] == "enqueued"
    )
    assert patch["twilioAutopilot"] == {"sid": "UG1", "buildDuration": None}
    assert {c["type"]: c["status"] for c in patch["conditions"]}["Ready"] == "False"


def test_a_remote_object_found_gone_while_the_upstream_fails_leaves_no_stale_id() -> None:
    retrying = st.without_remote(st.progressing("Retrying", "HTTP 503"), "twilioAutopilot")
    patch = st.status_patch(SUCCEEDED, retrying, generation=1, provider_key="twilioAutopilot", now=NOW)
    assert patch is not None
    assert patch["phase"] == "Pending"
    assert patch["externalId"] is None and patch["remoteStatus"] is None and patch["twilioAutopilot"] is None


def test_forget_remote_is_the_status_a_failing_pass_starts_from() -> None:
    forgotten = st.forget_remote(SUCCEEDED, "twilioAutopilot")
    assert forgotten == {"phase": "Pending", "conditions": []}
