"""Every Event reason the operator emits: its type and when it happens.

The README's Events table is rendered from this (`python tools/render_events_table.py`), and a test holds the
code's emitting calls to it, so the catalogue cannot drift from what the operator does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventReason:
    type: str  # Normal | Warning
    when: str


CATALOGUE: dict[str, EventReason] = {
    # --- the remote object's life --------------------------------------------------------------------------
    "Created": EventReason(
        "Normal", "The operator created the remote object (after storing the pending marker)."
    ),
    "Recovered": EventReason(
        "Normal",
        "A create interrupted earlier (crash, lost answer) is found upstream and taken instead of creating "
        "another; or a Stalled resource is no longer stalled.",
    ),
    "Adopted": EventReason(
        "Normal", "The external-id annotation named an existing remote object and the operator took it."
    ),
    "RemoteStatusChanged": EventReason(
        "Normal", "The upstream's status word changed without the resource becoming Ready or Stalled."
    ),
    "Succeeded": EventReason(
        "Normal", "The resource became Ready: the build completed, the run succeeded, the tool is in sync."
    ),
    "Updated": EventReason("Normal", "A spec change was pushed upstream; the message lists what differed."),
    "DriftCorrected": EventReason(
        "Normal", "A change made outside the operator was undone (AssistantTool); the message lists what."
    ),
    "StepFailed": EventReason("Warning", "A step of a ModelRun failed (one Event per failed step)."),
    # --- needs a person (the Stalled condition's reason, as an Event when it turns True) ---------------------
    "RemoteFailed": EventReason("Warning", "The remote object failed (the upstream's error in the message)."),
    "RemoteCanceled": EventReason("Warning", "The remote object was canceled upstream."),
    "Timeout": EventReason(
        "Warning",
        "The remote object is still in progress after spec.polling.timeoutSeconds (or maxAttempts).",
    ),
    "UpstreamRejected": EventReason(
        "Warning", "The upstream refused a request for good (a 4xx other than 401/403/404/429)."
    ),
    "InvalidSpec": EventReason("Warning", "The spec cannot be used (the message names the field)."),
    "AmbiguousRemote": EventReason(
        "Warning",
        "After an interrupted create, several remote objects could be this resource's; the message names them.",
    ),
    "CreateUnconfirmed": EventReason(
        "Warning",
        "A create may have happened without its answer, and the upstream cannot be asked; the message says what "
        "to check and how to resume.",
    ),
    "AdoptionFailed": EventReason(
        "Warning", "The external-id annotation names a remote object that does not exist."
    ),
    "RemoteDeleted": EventReason(
        "Warning",
        "The remote object was deleted outside the operator: created again (builds, tools), or Stalled (runs).",
    ),
    "CredentialsMissing": EventReason(
        "Warning",
        "The credentials Secret does not exist (re-read within seconds; the resource goes on by itself).",
    ),
    "CredentialsInvalid": EventReason(
        "Warning", "The Secret lacks keys, or the upstream rejected the credentials (401/403)."
    ),
    "ExternalIdRequired": EventReason(
        "Warning",
        "managementPolicy ObserveOnly without the external-id annotation: nothing is observed or created.",
    ),
    "RemoteNotFound": EventReason(
        "Warning", "managementPolicy ObserveOnly, and the annotated remote object does not exist upstream."
    ),
    # --- transient trouble ---------------------------------------------------------------------------------
    "UpstreamUnavailable": EventReason(
        "Warning",
        "The upstream did not answer properly (429, 5xx, timeout, a body that is not what the contract says); "
        "retried with backoff, once per distinct error.",
    ),
    # --- deletion ------------------------------------------------------------------------------------------
    "Deleted": EventReason("Normal", "The remote object was deleted (the upstream confirmed it is gone)."),
    "Orphaned": EventReason(
        "Normal/Warning",
        "Normal: the remote object was left in place (deletionPolicy Orphan, or managementPolicy ObserveOnly). "
        "Warning: a namespace teardown took the Secret first, so the remote object was left; the message names "
        "it (posted about the namespace, in the operator's namespace).",
    ),
    "DeleteUnconfirmed": EventReason(
        "Warning",
        "Deleting a resource whose create may have happened without its id being saved: nothing deleted.",
    ),
}


def markdown_table() -> str:
    rows = ["| Reason | Type | When |", "|---|---|---|"]
    rows += [f"| `{reason}` | {entry.type} | {entry.when} |" for reason, entry in CATALOGUE.items()]
    return "\n".join(rows)
