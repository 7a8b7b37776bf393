"""The real operator against a real control plane (the chart's ServiceAccount, never admin) and the fake
upstreams, over real HTTP. Where no control plane can be built (no Go), the emulated cluster stands in, and the
run's summary says so."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest

from modelops_operator.api.common import ANNOTATION_RECONCILE_REQUESTED
from modelops_operator.core.kube import KubeClient
from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, Stack, local_stack, stack_on
from tests.conftest import FALLBACK, REAL, mark_backend
from tests.support.realcluster import OPERATOR_NAMESPACE, Identity, RealCluster, RealControlPlane
from tests.support.waiting import eventually

ASSISTANT = "UA" + "1" * 32
MB = "modelops.dev/v1alpha1"
PLURAL = "modelbuilds"


@pytest.fixture
def status_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every status patch the (in-process) operator sends, with the status the server stored after it: the
    states a reader (kubectl wait, Argo CD, Flux) can see."""
    writes: list[tuple[dict[str, Any], dict[str, Any]]] = []
    original = KubeClient.merge_patch

    async def recording(
        self: KubeClient, path: str, patch: dict[str, Any], *, subresource: str | None = None
    ) -> dict[str, Any]:
        result = await original(self, path, patch, subresource=subresource)
        if subresource == "status":
            writes.append((patch["status"], dict(result.get("status") or {})))
        return result

    monkeypatch.setattr(KubeClient, "merge_patch", recording)
    return writes


@pytest.fixture
def emitted_events(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """Every Event the (in-process) operator posts, as it posts it: for Events whose namespace is being
    deleted, where reading them back races with the namespace controller."""
    emitted: list[dict[str, str]] = []
    original = kopf.event

    def recording(objs: Any, *, type: str, reason: str, message: str = "") -> None:
        name = (objs.get("metadata") or {}).get("name", "") if isinstance(objs, dict) else ""
        emitted.append({"name": name, "type": type, "reason": reason, "message": message})
        original(objs, type=type, reason=reason, message=message)

    monkeypatch.setattr(kopf, "event", recording)
    return emitted


# Fast everything: a 0.3 s stage in the fakes and sub-second operator ticks keep each test to seconds.
FAST = dict(
    poll_interval_seconds=0.2,
    drift_interval_seconds=0.5,
    backoff_base_seconds=0.05,
    backoff_max_seconds=1.0,
    http_timeout_seconds=2.0,
)
STAGE_SECONDS = 0.3


def real_plane(request: pytest.FixtureRequest) -> RealControlPlane | None:
    """The session's real control plane, or None where it cannot exist here (the tier's skip is reported)."""
    try:
        plane: RealControlPlane = request.getfixturevalue("real_control_plane")
    except pytest.skip.Exception:
        return None
    return plane


@pytest.fixture
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack[Any]]:
    plane = real_plane(request)
    if plane is None:
        mark_backend(request, FALLBACK)
        async with local_stack(stage_seconds=STAGE_SECONDS, **FAST) as emulated:
            emulated.graceful_stop = False
            yield emulated
        return
    mark_backend(request, REAL)
    identity, pool = request.getfixturevalue("session_release")
    namespace = pool.take()
    async with real_stack(plane, identity, namespace) as real:
        try:
            yield real
        finally:
            await real.cluster.discard_namespace(namespace)


@pytest.fixture(scope="module")
def cluster_wide(isolated_control_plane: RealControlPlane) -> tuple[RealControlPlane, Identity]:
    """The chart in its default scope (all namespaces) on a control plane of the module's own."""
    return isolated_control_plane, isolated_control_plane.install_chart("modelops", OPERATOR_NAMESPACE)


@pytest.fixture
async def cluster_wide_stack(
    request: pytest.FixtureRequest, cluster_wide: tuple[RealControlPlane, Identity]
) -> AsyncIterator[Stack[RealCluster]]:
    """A fresh namespace on that control plane; start the operator with `clusterwide=True`."""
    mark_backend(request, REAL)
    plane, identity = cluster_wide
    namespace = f"cw-{secrets.token_hex(3)}"
    plane.create_namespaces([namespace])
    async with real_stack(plane, identity, namespace) as stack:
        yield stack


@contextlib.asynccontextmanager
async def real_stack(
    plane: RealControlPlane, identity: Identity, namespace: str
) -> AsyncIterator[Stack[RealCluster]]:
    """The fakes beside a real API server, the operator logging in as `identity`, in `namespace`."""
    async with (
        RealCluster.connect(plane, identity) as cluster,
        stack_on(cluster, namespace=namespace, stage_seconds=STAGE_SECONDS, **FAST) as stack,
    ):
        stack.graceful_stop = False
        yield stack


async def create_secret(stack: Stack, name: str = "twilio", **data: str) -> None:
    values = data or {"accountSid": SANDBOX_ACCOUNT_SID, "authToken": SANDBOX_AUTH_TOKEN}
    await stack.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": stack.namespace},
            "stringData": values,
        }
    )


def modelbuild(
    name: str, *, annotations: dict[str, str] | None = None, secret: str = "twilio", **twilio: Any
) -> dict[str, Any]:
    spec_polling = twilio.pop("polling", {"intervalSeconds": 1})
    policy = twilio.pop("deletionPolicy", "Delete")
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelBuild",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "twilioAutopilot": {"assistantSid": ASSISTANT, **twilio},
            "credentialsSecretRef": {"name": secret},
            "deletionPolicy": policy,
            "polling": spec_polling,
        },
    }


async def get_mb(stack: Stack, name: str, plural: str = PLURAL) -> dict[str, Any] | None:
    return await stack.cluster.get_or_none(MB, plural, stack.namespace, name)


async def status_of(stack: Stack, name: str, plural: str = PLURAL) -> dict[str, Any]:
    return dict(((await get_mb(stack, name, plural)) or {}).get("status") or {})


async def gone(stack: Stack, name: str, plural: str = PLURAL) -> bool:
    return await get_mb(stack, name, plural) is None


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item["type"] == kind:
            return dict(item)
    return {}


async def wait_phase(
    stack: Stack,
    name: str,
    phase: str,
    timeout: float = 20.0,  # noqa: ASYNC109
    plural: str = PLURAL,
) -> dict[str, Any]:
    seen: list[Any] = [None]

    async def probe() -> dict[str, Any] | None:
        obj = await get_mb(stack, name, plural)
        seen[0] = ((obj or {}).get("status") or {}).get("phase")
        return obj if obj and seen[0] == phase else None

    try:
        return await eventually(probe, timeout=timeout, what=f"{name} phase {phase}")
    except AssertionError as error:
        raise AssertionError(f"{error} (phase now: {seen[0]})") from None


async def wait_condition(
    stack: Stack,
    name: str,
    kind: str,
    status: str,
    reason: str | None = None,
    timeout: float = 20.0,  # noqa: ASYNC109
    plural: str = PLURAL,
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        cond = condition(await get_mb(stack, name, plural), kind)
        if cond.get("status") == status and (reason is None or cond.get("reason") == reason):
            return cond
        return None

    return await eventually(probe, timeout=timeout, what=f"{name} {kind}={status} ({reason})")


async def request_reconcile(stack: Stack, name: str, value: str, plural: str = PLURAL) -> None:
    """What a person does to ask for a pass now: a new value of the reconcile-requested-at annotation."""
    annotations = {ANNOTATION_RECONCILE_REQUESTED: value}
    await stack.cluster.patch(MB, plural, stack.namespace, name, {"metadata": {"annotations": annotations}})


async def event_reasons(stack: Stack, name: str) -> list[str]:
    return [e.get("reason", "") for e in await stack.cluster.events_for(stack.namespace, name)]


async def wait_event(stack: Stack, name: str, reason: str, timeout: float = 20.0) -> dict[str, Any]:  # noqa: ASYNC109
    async def probe() -> dict[str, Any] | None:
        for event in await stack.cluster.events_for(stack.namespace, name):
            if event.get("reason") == reason:
                return event
        return None

    return await eventually(probe, timeout=timeout, what=f"event {reason} for {name}")
