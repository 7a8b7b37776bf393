"""Shared helpers of the fault-injection suite (test_faults_*.py): one description per provider, so a scenario
is written once and runs against all four upstreams; `Crasher`, which crashes the operator at an exact step of
its own (the fakes' gates and faults stop it at the upstream's side); the forms a credential can leak in.

Resources here leave `spec.polling` unset: the operator-wide settings of the integration stack (0.2 s polls,
0.5 s drift checks) are the tick, so each scenario takes seconds.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import socket
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from kopf._cogs.configs.configuration import QueueingSettings

from modelops_operator.api.common import ANNOTATION_CREATE_PENDING, ANNOTATION_EXTERNAL_ID, FINALIZER
from modelops_operator.core.kube import KubeClient
from modelops_operator.providers.http import UpstreamHTTP
from modelops_sandbox.fakes.base import FakeUpstream
from modelops_sandbox.fakes.datarobot import CUSTOM_MODEL_PATH, CUSTOM_MODEL_VERSIONS_PATH, STATUS_PATH
from modelops_sandbox.fakes.models_api import CANCEL_PATH, MODEL_RUN_PATH, MODEL_RUNS_PATH
from modelops_sandbox.fakes.twilio_assistants import TOOL_PATH, TOOLS_PATH
from modelops_sandbox.fakes.twilio_autopilot import MODEL_BUILD_PATH, MODEL_BUILDS_PATH
from modelops_sandbox.stack import SANDBOX_DATAROBOT_TOKEN, SANDBOX_MODELS_API_KEY, OperatorHandle, Stack
from tests.integration.conftest import ASSISTANT, MB, condition, create_secret, get_mb
from tests.support.waiting import eventually

PENDING = ANNOTATION_CREATE_PENDING
EXTERNAL_ID = ANNOTATION_EXTERNAL_ID
TOOL_ASSISTANTS = ["aia_asst_01alpha", "aia_asst_02bravo"]
RUN_GRAPH = {"stg_orders": [], "orders": ["stg_orders"]}
Route = tuple[str, str]  # (HTTP method, path regex) of one upstream call
# After an interrupted create, a lookup that finds nothing is trusted only once the earlier request certainly
# ended: 2 * http_timeout_seconds + 2 s after the pending marker (core.lifecycle). A short HTTP timeout makes
# tests whose create is interrupted resume within 3 s instead of the integration stack's 6 s.
SHORT_SETTLE: dict[str, Any] = {"http_timeout_seconds": 0.5}


# ------------------------------------------------------------------------------------- one kind per upstream


@dataclass(frozen=True)
class Kind:
    """One provider as the suite drives it: its manifest, its calls, and how to count what exists upstream."""

    id: str
    plural: str
    done: str  # the phase of a finished (or in-sync) remote object
    create: Route
    observe: Route  # the read that follows a remote object in progress
    delete: Route  # the call that deletes (or, for runs, cancels) it
    lookup: bool  # whether a create interrupted without its answer can be looked up upstream
    create_ok: int = 201  # the status of a successful create

    def fake(self, stack: Stack) -> FakeUpstream:
        raise NotImplementedError

    async def prepare(self, stack: Stack, *, long: bool = False) -> None:
        """The Secret, and how the fake runs remote objects (`long`: they stay in progress until deleted)."""
        raise NotImplementedError

    def manifest(self, name: str, *, policy: str = "Delete") -> dict[str, Any]:
        raise NotImplementedError

    def creates(self, stack: Stack) -> int:
        """Remote objects the fake created through its API (deleted ones included)."""
        raise NotImplementedError

    def live(self, stack: Stack, external_id: str) -> bool:
        """Whether the remote object is still there (for a run: still not cancelled)."""
        raise NotImplementedError

    def remote_ids(self, stack: Stack) -> list[str]:
        """The ids of every remote object the fake holds now."""
        raise NotImplementedError

    async def status(self, stack: Stack, name: str) -> dict[str, Any]:
        return dict(((await get_mb(stack, name, self.plural)) or {}).get("status") or {})


class Autopilot(Kind):
    def fake(self, stack: Stack) -> FakeUpstream:
        return stack.autopilot

    async def prepare(self, stack: Stack, *, long: bool = False) -> None:
        await create_secret(stack)
        if long:
            stack.autopilot.script(".*", outcome="hang")

    def manifest(self, name: str, *, policy: str = "Delete") -> dict[str, Any]:
        return resource(
            "ModelBuild", name, {"twilioAutopilot": {"assistantSid": ASSISTANT}}, "twilio", policy
        )

    def creates(self, stack: Stack) -> int:
        return stack.autopilot.count_creates()

    def live(self, stack: Stack, external_id: str) -> bool:
        return stack.autopilot.build(ASSISTANT, external_id) is not None

    def remote_ids(self, stack: Stack) -> list[str]:
        return [build["sid"] for build in stack.autopilot.builds]


class DataRobot(Kind):
    blueprint = "bp-faults"

    def fake(self, stack: Stack) -> FakeUpstream:
        return stack.datarobot

    async def prepare(self, stack: Stack, *, long: bool = False) -> None:
        await create_secret(stack, "datarobot", token=SANDBOX_DATAROBOT_TOKEN)
        if long:
            stack.datarobot.script(".*", stage_seconds=3600)

    def manifest(self, name: str, *, policy: str = "Delete") -> dict[str, Any]:
        return resource(
            "ModelBuild", name, {"datarobot": {"llmBlueprintId": self.blueprint}}, "datarobot", policy
        )

    def creates(self, stack: Stack) -> int:
        return stack.datarobot.count_creates()

    def live(self, stack: Stack, external_id: str) -> bool:
        return stack.datarobot.custom_model(external_id) is not None

    def remote_ids(self, stack: Stack) -> list[str]:
        return [model["id"] for model in stack.datarobot.custom_models]


class ModelsApi(Kind):
    def fake(self, stack: Stack) -> FakeUpstream:
        return stack.models_api

    async def prepare(self, stack: Stack, *, long: bool = False) -> None:
        await create_secret(stack, "models", apiKey=SANDBOX_MODELS_API_KEY)
        stack.models_api.script("shop", models=RUN_GRAPH, hang=long)

    def manifest(self, name: str, *, policy: str = "Delete") -> dict[str, Any]:
        spec = {"modelsApi": {"projectName": "shop", "modelNames": list(RUN_GRAPH)}}
        return resource("ModelRun", name, spec, "models", policy)

    def creates(self, stack: Stack) -> int:
        return stack.models_api.count_triggers()

    def live(self, stack: Stack, external_id: str) -> bool:
        run = stack.models_api.run(external_id)
        return run is not None and run["status"] != "CANCELLED"

    def remote_ids(self, stack: Stack) -> list[str]:
        return [run["id"] for run in stack.models_api.runs]


class Assistants(Kind):
    def fake(self, stack: Stack) -> FakeUpstream:
        return stack.assistants

    async def prepare(self, stack: Stack, *, long: bool = False) -> None:
        await create_secret(stack)

    def manifest(self, name: str, *, policy: str = "Delete") -> dict[str, Any]:
        spec = {
            "name": f"{name}-tool",
            "description": "Looks up an order",
            "enabled": True,
            "meta": {"url": "https://tools.example.com/orders", "method": "POST"},
            "assistantIds": list(TOOL_ASSISTANTS),
        }
        return resource("AssistantTool", name, spec, "twilio", policy)

    def creates(self, stack: Stack) -> int:
        return stack.assistants.count_creates()

    def live(self, stack: Stack, external_id: str) -> bool:
        return stack.assistants.tool(external_id) is not None

    def remote_ids(self, stack: Stack) -> list[str]:
        return [tool["id"] for tool in stack.assistants.tools]


AUTOPILOT = Autopilot(
    id="autopilot",
    plural="modelbuilds",
    done="Succeeded",
    create=("POST", MODEL_BUILDS_PATH),
    # coalesced polling reads the assistant's list; what the list lacks is fetched on its own
    observe=("GET", r"^/v1/Assistants/[^/]+/ModelBuilds"),
    delete=("DELETE", MODEL_BUILD_PATH),
    lookup=True,
)
DATAROBOT = DataRobot(
    id="datarobot",
    plural="modelbuilds",
    done="Succeeded",
    create=("POST", CUSTOM_MODEL_VERSIONS_PATH),
    observe=("GET", STATUS_PATH),
    delete=("DELETE", CUSTOM_MODEL_PATH),
    lookup=False,
    create_ok=202,
)
MODELS_API = ModelsApi(
    id="modelsApi",
    plural="modelruns",
    done="Succeeded",
    create=("POST", MODEL_RUNS_PATH),
    observe=("GET", MODEL_RUN_PATH),
    delete=("POST", CANCEL_PATH),
    lookup=True,
)
ASSISTANTS = Assistants(
    id="assistants",
    plural="assistanttools",
    done="Ready",
    create=("POST", TOOLS_PATH),
    observe=("GET", TOOL_PATH),
    delete=("DELETE", TOOL_PATH),
    lookup=True,
)
KINDS: list[Kind] = [AUTOPILOT, DATAROBOT, MODELS_API, ASSISTANTS]


def resource(kind: str, name: str, spec: dict[str, Any], secret: str, policy: str) -> dict[str, Any]:
    return {
        "apiVersion": MB,
        "kind": kind,
        "metadata": {"name": name},
        "spec": {**spec, "credentialsSecretRef": {"name": secret}, "deletionPolicy": policy},
    }


def by_id(*kinds: Kind) -> list[Any]:
    """Kinds as `pytest.param`s named by their id."""
    return [pytest.param(kind, id=kind.id) for kind in kinds]


# ------------------------------------------------------------------------------------------ waiting on status


async def wait_status(
    stack: Stack,
    kind: Kind,
    name: str,
    accept: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 20.0,  # noqa: ASYNC109
) -> dict[str, Any]:
    """The resource once `accept(obj)` holds; on timeout the message shows its last status."""
    last: list[Any] = [None]

    async def probe() -> dict[str, Any] | None:
        obj = await get_mb(stack, name, kind.plural)
        last[0] = (obj or {}).get("status")
        return obj if obj is not None and accept(obj) else None

    try:
        return await eventually(probe, timeout=timeout, what=f"{name}: {what}")
    except AssertionError as error:
        raise AssertionError(f"{error}\nlast status: {last[0]!r}") from None


async def wait_phase(
    stack: Stack,
    kind: Kind,
    name: str,
    phase: str,
    timeout: float = 20.0,  # noqa: ASYNC109
) -> dict[str, Any]:
    return await wait_status(
        stack, kind, name, lambda obj: obj.get("status", {}).get("phase") == phase, f"phase {phase}", timeout
    )


async def wait_reason(
    stack: Stack,
    kind: Kind,
    name: str,
    type_: str,
    status: str,
    reason: str,
    timeout: float = 20.0,  # noqa: ASYNC109
) -> dict[str, Any]:
    """The resource once its condition `type_` is `status` with `reason`."""

    def accept(obj: dict[str, Any]) -> bool:
        found = condition(obj, type_)
        return found.get("status") == status and found.get("reason") == reason

    return await wait_status(stack, kind, name, accept, f"{type_}={status} ({reason})", timeout)


async def wait_gone(stack: Stack, kind: Kind, name: str, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    async def gone() -> bool:
        return await get_mb(stack, name, kind.plural) is None

    await eventually(gone, timeout=timeout, what=f"{kind.plural}/{name} to be deleted")


async def annotations_of(stack: Stack, kind: Kind, name: str) -> dict[str, str]:
    return dict(
        (((await get_mb(stack, name, kind.plural)) or {}).get("metadata") or {}).get("annotations") or {}
    )


async def delete(stack: Stack, kind: Kind, name: str) -> None:
    await stack.cluster.delete(MB, kind.plural, stack.namespace, name)


async def annotate(stack: Stack, kind: Kind, name: str, values: dict[str, str | None]) -> None:
    await stack.cluster.patch(MB, kind.plural, stack.namespace, name, {"metadata": {"annotations": values}})


async def reasons(stack: Stack, name: str) -> list[str]:
    return [event.get("reason", "") for event in await stack.cluster.events_for(stack.namespace, name)]


async def wait_warning(stack: Stack, name: str, reason: str, timeout: float = 20.0) -> dict[str, Any]:  # noqa: ASYNC109
    async def probe() -> dict[str, Any] | None:
        for event in await stack.cluster.events_for(stack.namespace, name):
            if event.get("reason") == reason and event.get("type") == "Warning":
                return event
        return None

    return await eventually(probe, timeout=timeout, what=f"a Warning {reason} about {name}")


# ------------------------------------------------------------------------------------------ crashing exactly


@dataclass
class Hold:
    """One Kubernetes write of the operator's at which it crashes. `before`: the write is never sent; otherwise
    it is stored, and the operator crashes right after."""

    matches: Callable[[str, dict[str, Any], str | None], bool]
    before: bool
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    used: bool = False

    async def wait(self, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            await self.reached.wait()


class Crasher:
    """Makes `OperatorHandle.kill()` a crash at an exact step.

    kill() cancels kopf, but the lifecycle's own tasks (the poller, deletions) keep running for the moment
    kopf takes to stop, and can still write: no crash does that. So the operator is frozen first: every
    Kubernetes and upstream client that exists when `freeze()` is called (or a hold is reached) blocks any
    further request until it is cancelled. The next operator makes new clients, which pass freely.

    A hold freezes at one of the operator's Kubernetes writes (`KubeClient.merge_patch`: markers, ids,
    status, finalizers); each applies to the first write it matches.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.holds: list[Hold] = []
        self._clients: weakref.WeakSet[Any] = weakref.WeakSet()
        self._frozen: weakref.WeakSet[Any] = weakref.WeakSet()
        without_exit_grace(monkeypatch)
        # Every request of either client goes through these (each upstream attempt, each API server call).
        for cls, call in ((KubeClient, "_call"), (UpstreamHTTP, "_send_once")):
            self._track(monkeypatch, cls, call)
        original = KubeClient.merge_patch
        crasher = self

        async def tapped(
            client: KubeClient, path: str, patch: dict[str, Any], *, subresource: str | None = None
        ) -> dict[str, Any]:
            hold = crasher._take(path, patch, subresource)
            if hold is not None and hold.before:
                await crasher._crash_here(hold)
            result = await original(client, path, patch, subresource=subresource)
            if hold is not None:
                await crasher._crash_here(hold)
            return result

        monkeypatch.setattr(KubeClient, "merge_patch", tapped)

    def _track(self, monkeypatch: pytest.MonkeyPatch, cls: type[Any], call: str) -> None:
        """Remember each client made, and block the calls of frozen ones."""
        original_init, original_call = cls.__init__, getattr(cls, call)
        crasher = self

        def init(client: Any, *args: Any, **kwargs: Any) -> None:
            original_init(client, *args, **kwargs)
            crasher._clients.add(client)

        async def blocked(client: Any, *args: Any, **kwargs: Any) -> Any:
            if client in crasher._frozen:
                await _forever()
            return await original_call(client, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", init)
        monkeypatch.setattr(cls, call, blocked)

    def freeze(self) -> None:
        """From now on the running operator sends nothing more, to Kubernetes or upstream."""
        self._frozen.update(self._clients)

    async def crash(self, handle: OperatorHandle) -> None:
        self.freeze()
        await handle.kill()

    def _take(self, path: str, patch: dict[str, Any], subresource: str | None) -> Hold | None:
        for hold in self.holds:
            if not hold.used and hold.matches(path, patch, subresource):
                hold.used = True
                return hold
        return None

    async def _crash_here(self, hold: Hold) -> None:
        self.freeze()
        hold.reached.set()
        await _forever()

    def hold(self, matches: Callable[[str, dict[str, Any], str | None], bool], *, before: bool) -> Hold:
        hold = Hold(matches=matches, before=before)
        self.holds.append(hold)
        return hold

    # The steps of the lifecycle, as the writes that end them.

    def after_marker(self, kind: Kind, name: str) -> Hold:
        """The pending marker is stored; the create request is not sent yet."""

        def matches(path: str, patch: dict[str, Any], subresource: str | None) -> bool:
            meta = patch.get("metadata") or {}
            return _is(path, kind, name, subresource, None) and bool(
                (meta.get("annotations") or {}).get(PENDING)
            )

        return self.hold(matches, before=False)

    def before_status(self, kind: Kind, name: str) -> Hold:
        """The external id is stored (it is written first); the status is not."""
        return self.hold(lambda p, _, s: _is(p, kind, name, s, "status"), before=True)

    def before_release(self, kind: Kind, name: str) -> Hold:
        """The remote object is deleted (or orphaned); the finalizer is not removed yet."""

        def matches(path: str, patch: dict[str, Any], subresource: str | None) -> bool:
            meta = patch.get("metadata") or {}
            return (
                _is(path, kind, name, subresource, None)
                and "finalizers" in meta
                and FINALIZER not in (meta["finalizers"] or [])
            )

        return self.hold(matches, before=True)


async def _forever() -> None:
    await asyncio.Event().wait()  # until cancelled (the operator is killed), or for ever


def without_exit_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Operators started from now on exit at once when killed. kopf gives a busy per-object worker 2 s
    (`settings.queueing.exit_timeout`) to finish before cancelling it; an operator held inside a worker would
    make every kill wait that long, and a crash gives no grace anyway."""
    defaults = list(QueueingSettings.__init__.__defaults__ or ())
    names = list(inspect.signature(QueueingSettings.__init__).parameters)[1:]
    defaults[names.index("exit_timeout") - (len(names) - len(defaults))] = 0.0
    monkeypatch.setattr(QueueingSettings.__init__, "__defaults__", tuple(defaults))


def _is(path: str, kind: Kind, name: str, subresource: str | None, wanted: str | None) -> bool:
    return path.endswith(f"/{kind.plural}/{name}") and subresource == wanted


# ----------------------------------------------------------------------------------------- credential forms


def encodings(value: str, *, user: str | None = None) -> dict[str, str]:
    """Every form in which a credential could show up in text: as is, base64 (alone and as the HTTP Basic
    pair), and URL-encoded."""
    forms = {
        "plain": value,
        "base64": base64.b64encode(value.encode()).decode(),
        "base64url": base64.urlsafe_b64encode(value.encode()).decode(),
        "url-encoded": quote(value, safe=""),
        "form-encoded": quote_plus(value),
    }
    if user is not None:
        forms["basic-auth"] = base64.b64encode(f"{user}:{value}".encode()).decode()
    # Padding depends on the length only; the padded tail alone would match any text with '='.
    return {name: form.rstrip("=") for name, form in forms.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
