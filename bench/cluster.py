"""The two Kubernetes API servers the benchmark runs against, behind one small interface.

* emulated: `EmulatedCluster` in this process. The operator's requests are counted in a kmock reaction that
  records and then declines to answer, so the emulator serves every request as usual (no request-log limit
  to outgrow, and nothing kept but five small fields per request).
* real: etcd + kube-apiserver + kube-controller-manager (tests/support/controlplane.py), the chart installed
  by helm for the benchmark's namespace, the operator logged in as the chart's ServiceAccount (RBAC as in
  production, never admin). Its requests are read from the API server's audit log, by that ServiceAccount's
  username.

Each run gets a fresh cluster: a run leaves N objects with finalizers behind, and the next run must not pay
for them (the real API server's watch cache and etcd would hold every earlier run's objects).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.measure import KubeRequest, verb_of
from modelops_operator.api.common import GROUP, VERSION
from modelops_sandbox.cluster import EmulatedCluster
from modelops_sandbox.cluster.client import ApiError, ClusterClient
from modelops_sandbox.stack import install_crds

BENCH_AGENT = "modelops-bench"  # the benchmark's own requests, told apart from the operator's
# kopf's requests (watches, Events) say "kopf/<version>"; the operator's own client "modelops-operator".
OPERATOR_AGENTS = ("kopf/", "modelops-operator")
OPERATOR_NAMESPACE = "modelops-system"
RELEASE = "modelops"


@dataclass
class Backend:
    name: str  # "emulated" or "real"
    url: str
    client: ClusterClient  # the benchmark's own calls (admin on the real side)
    session: aiohttp.ClientSession
    kubeconfig: Path  # the operator's (on the real side: the chart's ServiceAccount token)
    # The operator's requests so far (each call reads them afresh).
    operator_requests: Callable[[], list[KubeRequest]]
    # The cluster side's processes, whose CPU is compared with the operator's.
    pids: dict[str, int | None]
    # What the cluster-side CPU figures include besides the API server itself.
    cpu_note: str = ""


def _agent(headers: Any) -> str:
    for key, value in headers.items():
        if key.lower() == "user-agent":
            return str(value)
    return ""


@contextlib.asynccontextmanager
async def emulated(workdir: Path, namespace: str, count: int) -> AsyncIterator[Backend]:
    # A watch resumed from a resourceVersion older than the kept history gets 410 and relists: keep as much
    # history as a real API server keeps in its 5 minutes between etcd compactions, so the emulator does not
    # add relists a real cluster would not have.
    async with EmulatedCluster(request_log_limit=100, watch_history_limit=max(10_000, 20 * count)) as cluster:
        seen: list[KubeRequest] = []

        def count_operator_requests(request: Any) -> None:
            if _agent(request.headers).startswith(OPERATOR_AGENTS):
                resource = request.resource.plural if request.resource is not None else None
                seen.append(
                    KubeRequest(
                        at=time.time(),
                        verb=verb_of(str(request.method.value), request.name, dict(request.params)),
                        resource=resource or "",
                        subresource=request.subresource or "",
                        name=request.name or "",
                    )
                )
            # Not an answer: kmock goes on to the next reaction, and the emulator serves the request.
            raise NotImplementedError

        cluster.emulator >> count_operator_requests
        await install_crds(cluster)
        async with aiohttp.ClientSession(headers={"User-Agent": BENCH_AGENT}) as session:
            client = ClusterClient(session, cluster.url)
            await client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            yield Backend(
                name="emulated",
                url=cluster.url,
                client=client,
                session=session,
                kubeconfig=cluster.write_kubeconfig(workdir / "kubeconfig", namespace=namespace),
                operator_requests=lambda: list(seen),
                pids={"emulator": os.getpid()},
                cpu_note="the emulator shares its process with the benchmark's driver (apply, Ready watch)",
            )


@contextlib.asynccontextmanager
async def real(workdir: Path, namespace: str) -> AsyncIterator[Backend]:
    from tests.support.controlplane import ControlPlane, binaries
    from tests.support.realcluster import RealCluster, RealControlPlane

    bin_dir = await asyncio.to_thread(binaries)
    control_plane = await asyncio.to_thread(lambda: ControlPlane(bin_dir).start())
    try:
        plane = RealControlPlane(control_plane, home=workdir / "home")
        # The chart's per-namespace scope (a Role in the watched namespace, and a ClusterRole for kopf's
        # observation of namespaces and CRDs), which is what `--namespace NS` is deployed with.
        identity = await asyncio.to_thread(
            plane.install_for_namespaces, RELEASE, OPERATOR_NAMESPACE, [namespace]
        )
        connector = aiohttp.TCPConnector(ssl=control_plane.admin_ssl_context())
        async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": BENCH_AGENT}) as session:
            client = ClusterClient(session, plane.url)
            await client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            await storage_ready(client, namespace)
            kubeconfig = RealCluster(plane, identity, client).write_kubeconfig(
                workdir / "kubeconfig", namespace=namespace, admin=False
            )
            audit = AuditReader(control_plane.audit_log, identity.username)
            yield Backend(
                name="real",
                url=plane.url,
                client=client,
                session=session,
                kubeconfig=kubeconfig,
                operator_requests=audit.read,
                pids={
                    **{name: control_plane.processes[name].pid for name in ("kube-apiserver", "etcd")},
                    "bench": os.getpid(),  # the benchmark's driver: apply, the Ready watch, the audit log
                },
                cpu_note="kube-apiserver writes a blocking audit log (level Metadata) for every request",
            )
    finally:
        await asyncio.to_thread(control_plane.stop)


async def storage_ready(client: ClusterClient, namespace: str, within: float = 60.0) -> None:
    """Until the chart's custom resources can be listed: a fresh API server answers 429 "storage is
    (re)initializing" for a while after a CRD is created, which would be start-up noise in the operator's
    request counts (kopf retries)."""
    deadline = time.monotonic() + within
    for plural in ("modelbuilds", "modelruns", "assistanttools"):
        while True:
            try:
                await client.list_objects(f"{GROUP}/{VERSION}", plural, namespace)
                break
            except ApiError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


class AuditReader:
    """The audit entries of one user, read incrementally (the file only grows; at 10,000 resources it holds
    hundreds of thousands of lines, which are parsed once each)."""

    def __init__(self, path: Path, username: str) -> None:
        self.path = path
        self.username = username
        self._offset = 0
        self._ids: set[str] = set()
        self._requests: list[KubeRequest] = []

    def read(self) -> list[KubeRequest]:
        needle = f'"{self.username}"'
        try:
            with open(self.path, "rb") as log:
                log.seek(self._offset)
                for raw in log:
                    if not raw.endswith(b"\n"):
                        break  # a line being written: read it next time
                    self._offset += len(raw)
                    line = raw.decode(errors="replace")
                    if needle in line:
                        self._add(json.loads(line))
        except FileNotFoundError:
            pass
        return list(self._requests)

    def _add(self, entry: dict[str, Any]) -> None:
        if (entry.get("user") or {}).get("username") != self.username:
            return
        # A watch is audited twice (ResponseStarted, ResponseComplete): one request, counted once.
        audit_id = str(entry.get("auditID"))
        if audit_id in self._ids:
            return
        self._ids.add(audit_id)
        ref = entry.get("objectRef") or {}
        received = datetime.datetime.fromisoformat(str(entry["requestReceivedTimestamp"]))
        self._requests.append(
            KubeRequest(
                at=received.timestamp(),
                verb=str(entry.get("verb", "")),
                resource=str(ref.get("resource", "")),
                subresource=str(ref.get("subresource", "")),
                name=str(ref.get("name", "")),
                code=int((entry.get("responseStatus") or {}).get("code") or 0),
            )
        )
