"""The whole local stack in one process: emulated cluster, fake upstreams, the real operator.

Used by `modelops-operator sandbox` and by the integration tests, so both exercise exactly the same wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import kopf

from modelops_operator.api.crd import render_crd
from modelops_operator.api.kinds import ALL_KINDS
from modelops_operator.config import Settings
from modelops_operator.core.shard import LabelSelector
from modelops_operator.runtime import run_operator
from modelops_sandbox.cluster import EmulatedCluster
from modelops_sandbox.fakes import TwilioAutopilotFake
from modelops_sandbox.fakes.datarobot import DataRobotFake
from modelops_sandbox.fakes.models_api import ModelsApiFake
from modelops_sandbox.fakes.twilio_assistants import TwilioAssistantsFake

# Obviously fake credentials that the sandbox's fakes accept (the examples' Secrets carry the same).
SANDBOX_ACCOUNT_SID = "AC00000000000000000000000000000000"
SANDBOX_AUTH_TOKEN = "sandbox-auth-token"
SANDBOX_MODELS_API_KEY = "sandbox-models-api-key"
SANDBOX_DATAROBOT_TOKEN = "sandbox-datarobot-token"


@dataclass
class OperatorHandle:
    """A running operator. `stop()` shuts it down gracefully; `kill()` cancels it mid-flight (a crash)."""

    task: asyncio.Task[None]
    stop_flag: asyncio.Event
    ready_flag: asyncio.Event

    async def stop(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        self.stop_flag.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class ClusterAPI(Protocol):
    """What the stack needs of a Kubernetes API: the emulated cluster, or a real API server in the tests."""

    @property
    def url(self) -> str: ...

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]: ...

    async def get_or_none(
        self, api_version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None: ...

    def operator_connection(self, namespace: str) -> kopf.ConnectionInfo: ...


C = TypeVar("C", bound=ClusterAPI)


@dataclass
class Stack(Generic[C]):
    cluster: C
    autopilot: TwilioAutopilotFake
    assistants: TwilioAssistantsFake
    models_api: ModelsApiFake
    datarobot: DataRobotFake
    namespace: str = "default"
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    # In one shared event loop kopf's graceful exit waits 5 s for every task started after it (the fakes'
    # and the cluster's too); tests end operators by cancellation instead, which is what a crash looks like.
    graceful_stop: bool = True

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "twilio_autopilot_url": self.autopilot.url,
            "twilio_assistants_url": self.assistants.url,
            "models_api_url": self.models_api.url,
            "datarobot_url": self.datarobot.url,
            "poll_interval_seconds": 1.0,
            "drift_interval_seconds": 5.0,
            "metrics_port": 0,
            "health_port": 0,
        }
        values.update(self.settings_overrides)
        values.update(overrides)
        return Settings.model_validate(values)

    @contextlib.asynccontextmanager
    async def operator(
        self, *, clusterwide: bool = False, selector: str | None = None, **overrides: Any
    ) -> AsyncIterator[OperatorHandle]:
        handle = await self.start_operator(clusterwide=clusterwide, selector=selector, **overrides)
        try:
            yield handle
        finally:
            if not handle.task.done():
                await (handle.stop() if self.graceful_stop else handle.kill())

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Apply a manifest in the stack's namespace (unless it names one, or is cluster-scoped)."""
        metadata = manifest.setdefault("metadata", {})
        if manifest.get("kind") not in CLUSTER_SCOPED_KINDS and not metadata.get("namespace"):
            metadata["namespace"] = self.namespace
        return await self.cluster.apply(manifest)

    async def start_operator(
        self, *, clusterwide: bool = False, selector: str | None = None, **overrides: Any
    ) -> OperatorHandle:
        """The operator for the stack's namespace, or for every namespace (`clusterwide`, as the chart's
        default `--all-namespaces`), owning the resources `selector` selects (a shard); `overrides` are
        settings."""
        stop_flag, ready_flag = asyncio.Event(), asyncio.Event()
        settings = self.settings(**overrides)
        liveness = f"http://127.0.0.1:{settings.health_port}/healthz" if settings.health_port else None
        task = asyncio.create_task(
            run_operator(
                settings,
                liveness_endpoint=liveness,
                namespaces=[] if clusterwide else [self.namespace],
                clusterwide=clusterwide,
                connection=self.cluster.operator_connection(self.namespace),
                stop_flag=stop_flag,
                ready_flag=ready_flag,
                standalone=True,
                metrics_host="127.0.0.1",
                shard=LabelSelector.parse(selector),
            ),
            name="modelops-operator",
        )
        handle = OperatorHandle(task=task, stop_flag=stop_flag, ready_flag=ready_flag)
        ready = asyncio.create_task(ready_flag.wait())
        done, _ = await asyncio.wait({ready, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready.cancel()
            task.result()  # raises the operator's startup error
            raise RuntimeError("the operator exited during startup")
        if ready not in done:
            await handle.kill()
            raise RuntimeError("the operator did not become ready within 30s")
        return handle


async def install_crds(cluster: EmulatedCluster) -> None:
    for definition in ALL_KINDS:
        await cluster.apply(render_crd(definition))


CLUSTER_SCOPED_KINDS = frozenset(
    {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
)


@contextlib.asynccontextmanager
async def local_stack(
    *,
    cluster_port: int = 0,
    namespace: str = "default",
    stage_seconds: float = 1.0,
    request_log_limit: int = 1000,
    **settings_overrides: Any,
) -> AsyncIterator[Stack[EmulatedCluster]]:
    """Start the emulated cluster (with the CRDs) and the fake upstreams, with the sandbox account."""
    async with EmulatedCluster(port=cluster_port, request_log_limit=request_log_limit) as cluster:
        await install_crds(cluster)
        if namespace != "default":
            await cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        async with stack_on(
            cluster, namespace=namespace, stage_seconds=stage_seconds, **settings_overrides
        ) as stack:
            yield stack


@contextlib.asynccontextmanager
async def stack_on(
    cluster: C, *, namespace: str = "default", stage_seconds: float = 1.0, **settings_overrides: Any
) -> AsyncIterator[Stack[C]]:
    """The fake upstreams, with the sandbox account, beside a cluster that already serves the CRDs."""
    fakes = sandbox_fakes(stage_seconds)
    async with fakes.autopilot, fakes.assistants, fakes.models_api, fakes.datarobot:
        yield Stack(
            cluster=cluster,
            autopilot=fakes.autopilot,
            assistants=fakes.assistants,
            models_api=fakes.models_api,
            datarobot=fakes.datarobot,
            namespace=namespace,
            settings_overrides=settings_overrides,
        )


@dataclass(frozen=True)
class SandboxFakes:
    autopilot: TwilioAutopilotFake
    assistants: TwilioAssistantsFake
    models_api: ModelsApiFake
    datarobot: DataRobotFake


def sandbox_fakes(stage_seconds: float) -> SandboxFakes:
    """The four fakes (not started), accepting the sandbox credentials; each lifecycle stage takes
    ``stage_seconds``."""
    autopilot = TwilioAutopilotFake(stage_seconds=stage_seconds)
    autopilot.add_account(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
    assistants = TwilioAssistantsFake()
    assistants.add_account(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
    models_api = ModelsApiFake(pending_seconds=stage_seconds, step_seconds=stage_seconds)
    models_api.add_api_key(SANDBOX_MODELS_API_KEY)
    datarobot = DataRobotFake(stage_seconds=stage_seconds, accept_any_blueprint=True)
    datarobot.add_token(SANDBOX_DATAROBOT_TOKEN)
    return SandboxFakes(
        autopilot=autopilot, assistants=assistants, models_api=models_api, datarobot=datarobot
    )
