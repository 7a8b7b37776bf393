"""The one interface every upstream plugs in behind (in the spirit of Crossplane's external client).

The generic lifecycle in `core.lifecycle` drives any provider through: find (after a crash) → create →
observe → update → delete. Providers know HTTP and their upstream's contract, nothing of kopf or Kubernetes.
"""

from __future__ import annotations

import abc
import datetime
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

SpecT = TypeVar("SpecT", bound=BaseModel)
CredT = TypeVar("CredT")


class RemoteState(StrEnum):
    """The upstream's status, reduced to what the lifecycle needs to decide."""

    PENDING = "Pending"  # accepted, queued
    RUNNING = "Running"  # in progress
    SUCCEEDED = "Succeeded"  # terminal, wanted
    FAILED = "Failed"  # terminal, unwanted
    CANCELED = "Canceled"  # terminal, unwanted

    @property
    def terminal(self) -> bool:
        return self in (RemoteState.SUCCEEDED, RemoteState.FAILED, RemoteState.CANCELED)


@dataclass(frozen=True)
class Observation:
    """What the upstream says about one remote object."""

    external_id: str
    remote_status: str | None
    state: RemoteState
    # Provider-specific fields mirrored under `status.<provider key>` (camelCase keys).
    status_block: dict[str, Any] = field(default_factory=dict)
    # For failures: the upstream's reason, shown in the Stalled condition.
    failure_message: str | None = None
    # False when the spec asks for something the remote object does not have (then `update` is called).
    up_to_date: bool = True
    # What differs from the spec, in words a person reads in the Event (e.g. "description", "attachments").
    differences: tuple[str, ...] = ()
    # Kind-level fields written at the top of `.status` (e.g. a run's steps and test totals).
    status_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Found:
    observation: Observation


@dataclass(frozen=True)
class NotFound:
    pass


@dataclass(frozen=True)
class Ambiguous:
    """More than one remote object could be ours: a person has to decide (Stalled, naming them)."""

    candidates: list[str]


@dataclass(frozen=True)
class Undecidable:
    """The upstream offers no way to find out; `message` tells a person what to check and how to resume, and
    `when_deleted` what to check and clean up by hand once the resource is being deleted (nothing to resume)."""

    message: str
    when_deleted: str = ""


FindResult = Found | NotFound | Ambiguous | Undecidable


@dataclass(frozen=True)
class Batch:
    """How many resources are observed with one call: every resource whose request gives an equal `key`
    (e.g. the same account and assistant) is answered by one `fetch()` per interval."""

    key: Hashable
    #: every remote object under that parent, by external id (following pages), as the provider's `observe`
    #: takes it (`listed=`); one the answer does not show is read on its own before anything is concluded
    fetch: Callable[[], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class ResourceRef:
    namespace: str
    name: str
    uid: str
    created_at: datetime.datetime | None = None


@dataclass(frozen=True)
class Request(Generic[SpecT, CredT]):
    """Everything a provider may use for one call."""

    resource: ResourceRef
    spec: SpecT
    credentials: CredT
    # When the operator started to create (the pending marker), for lookups after a crash.
    pending_since: datetime.datetime | None
    # The provider's own status block as last written (e.g. ids saved between steps).
    saved: dict[str, Any]
    # Where the upstream may post status callbacks for this resource (None: callbacks are off).
    callback_url: str | None = None


class Provider(abc.ABC, Generic[SpecT, CredT]):
    """One upstream behind one kind. Subclasses implement the abstract methods."""

    #: the spec block key, e.g. "twilioAutopilot"; "" when the kind's spec itself is the provider's
    key: str
    #: the upstream's short name, for metrics and messages
    upstream: str
    spec_model: type[SpecT]
    #: whether a remote object deleted out of band is created again (builds: yes)
    recreate_when_deleted_remotely: bool = True
    #: whether `find` also runs before a first create (cheap, exact lookups such as a unique name)
    find_without_marker: bool = False
    #: whether the provider's fields are mirrored under `status.<key>` (False: at the top of `.status`, like
    #: a run's steps); `Request.saved` is read from the same place
    mirrors_status_block: bool = True
    #: 5xx statuses of a create call after which the upstream certainly did not create anything
    #: (any 4xx means that too); the pending marker is then cleared so the next attempt creates again
    create_unprocessed_statuses: frozenset[int] = frozenset({429})

    @abc.abstractmethod
    def credentials(self, secret_data: dict[str, str]) -> CredT:
        """Parse the Secret's data; raise `MissingCredentialKeys` naming missing keys (never values)."""

    @abc.abstractmethod
    async def find(self, request: Request[SpecT, CredT]) -> FindResult:
        """After a pending marker: is there already a remote object this resource created?"""

    @abc.abstractmethod
    async def create(self, request: Request[SpecT, CredT]) -> Observation:
        """Create the remote object (called once the marker is stored and `find` said NotFound)."""

    @abc.abstractmethod
    async def observe(
        self, request: Request[SpecT, CredT], external_id: str, listed: Any = None
    ) -> Observation | None:
        """Read the remote object; None when it does not exist. `listed` is its item from a `Batch.fetch`,
        when there is one (then nothing needs reading)."""

    #: whether the upstream can post status callbacks (then `verify_callback` is answered)
    accepts_callbacks: bool = False

    def verify_callback(
        self,
        request: Request[SpecT, CredT],
        url: str,
        form: Mapping[str, str],
        headers: Mapping[str, str],
        external_id: str,
    ) -> str | None:
        """None when a status callback at `url` is genuine and about the resource's remote object
        `external_id`; else why it is refused. Its payload is never trusted for status: a genuine callback
        only makes the operator observe the remote object now."""
        return "this upstream sends no status callbacks"

    def batch(self, request: Request[SpecT, CredT]) -> Batch | None:
        """How to observe this resource together with others (one list per parent), or None: one by one
        (then the lifecycle spreads the reads over the interval). The one method a provider answers to get
        coalesced polling."""
        return None

    async def update(self, request: Request[SpecT, CredT], observation: Observation) -> Observation:
        """Bring the remote object in line with the spec; only called when `up_to_date` is False."""
        return observation

    @abc.abstractmethod
    async def delete(self, request: Request[SpecT, CredT], external_id: str) -> bool:
        """Delete (or cancel) the remote object. True once the upstream confirms it is gone or finished."""

    def transition_events(self, old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str]]:
        """Provider-specific Events (type, reason, message) for a status change, e.g. a failed step."""
        return []
