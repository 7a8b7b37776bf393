"""One run: a fresh cluster and fake, the operator as a subprocess, N ModelBuilds applied at once, measured
until all are Ready and then through a steady window in which nothing changes.

Timeline (each instant a `Mark`: both clocks and every process's CPU seconds):

    operator started → watching → t0: apply starts → t1: all Ready → t2: the operator's writes stopped
    (Events still queued when the last resource became Ready) → t3: t2 + steady

Kubernetes requests "from apply to Ready" are those of [operator started, t2): the operator's start-up
reads count too, and the last Events (kopf posts them from a queue) land in the window they belong to.
Upstream polling per interval is counted over [t0, t1), while builds are in progress. The steady window
[t2, t3) must see no writes at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import cluster as backends
from bench.fake_upstream import FakeUpstream
from bench.measure import (
    CpuWindow,
    KubeCounts,
    Measurement,
    UpstreamCounts,
    UpstreamRequest,
    mark,
)
from bench.operator_process import OperatorProcess
from bench.table import time_target
from modelops_sandbox.cluster.client import ApiError, ClusterClient, resource_path
from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

API_VERSION = "modelops.dev/v1alpha1"
PLURAL = "modelbuilds"
ASSISTANT = "UA" + "2" * 32  # every build of one assistant and one account: one parent
NAMESPACE = "bench"
REPO = Path(__file__).resolve().parents[1]
SECRET = "twilio"


@dataclass(frozen=True)
class Options:
    interval: float = 1.0  # MODELOPS_POLL_INTERVAL_SECONDS and spec.polling.intervalSeconds
    drift: float = 5.0  # MODELOPS_DRIFT_INTERVAL_SECONDS: Ready builds are still read in the steady window
    stage_seconds: float = 1.0  # the fake's time per build stage (enqueued → building → completed)
    in_flight: int = 50  # concurrent creates while applying
    quiet: float = 2.0  # steady state starts once the operator has written nothing for this long...
    settle_limit: float = 60.0  # ...or this long after all are Ready, whichever comes first
    steady: float = 12.0
    deadline: float | None = None  # seconds from apply to all Ready; None: 3 times the target, at least 120 s
    operator: str = ""  # the `modelops-operator` executable; empty: the development venv's

    def deadline_for(self, count: int) -> float:
        return self.deadline or max(120.0, 3 * time_target(count).limit)


def model_build(index: int, interval: float) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelBuild",
        "metadata": {"name": f"build-{index:05d}", "namespace": NAMESPACE},
        "spec": {
            "twilioAutopilot": {"assistantSid": ASSISTANT},
            "credentialsSecretRef": {"name": SECRET},
            "polling": {"intervalSeconds": interval},
        },
    }


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


@contextlib.asynccontextmanager
async def backend_for(name: str, workdir: Path, count: int) -> AsyncIterator[backends.Backend]:
    if name == "emulated":
        async with backends.emulated(workdir, NAMESPACE, count) as backend:
            yield backend
    else:
        async with backends.real(workdir, NAMESPACE) as backend:
            yield backend


async def run(cluster: str, count: int, coalesce: bool, options: Options, workdir: Path) -> Measurement:
    result = Measurement(
        cluster=cluster, count=count, coalesce=coalesce, interval=options.interval, commit=checked_out()
    )
    async with (
        backend_for(cluster, workdir, count) as backend,
        FakeUpstream(options.stage_seconds, workdir) as fake,
    ):
        await backend.client.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": SECRET, "namespace": NAMESPACE},
                "stringData": {"accountSid": SANDBOX_ACCOUNT_SID, "authToken": SANDBOX_AUTH_TOKEN},
            }
        )
        operator = OperatorProcess(
            executable=options.operator,
            kubeconfig=backend.kubeconfig,
            namespace=NAMESPACE,
            settings={
                "MODELOPS_TWILIO_AUTOPILOT_URL": fake.url,
                "MODELOPS_POLL_INTERVAL_SECONDS": str(options.interval),
                "MODELOPS_DRIFT_INTERVAL_SECONDS": str(options.drift),
                "MODELOPS_COALESCE_POLLING": "true" if coalesce else "false",
                "MODELOPS_METRICS_PORT": "0",
                "MODELOPS_HEALTH_PORT": "0",
            },
            log=workdir / "operator.log",
        )
        watch = ReadyWatch(backend.session, backend.url, count)
        operator.start()
        try:
            pids = {"operator": operator.pid, "fake": fake.pid, **backend.pids}
            started = mark(pids)
            await wait_watching(backend, operator)
            await watch.start()
            t0 = mark(pids)
            manifests = [model_build(index, options.interval) for index in range(count)]
            result.apply_seconds = await apply_all(backend.client, manifests, options.in_flight)
            all_ready = await watch.wait(t0.mono + options.deadline_for(count), operator.alive)
            t1 = mark(pids)
            result.ready = len(watch.ready)
            if all_ready and watch.all_ready_at is not None:
                result.ready_seconds = watch.all_ready_at - t0.mono
                ready_wall = time.time() - (time.monotonic() - watch.all_ready_at)
                result.settle_seconds = await settle(backend, options, ready_wall)
                t2 = mark(pids)
                await asyncio.sleep(options.steady)
            else:
                t2 = mark(pids)  # not all Ready: no steady state to measure
            t3 = mark(pids)
            result.peak_rss_mib = operator.peak_rss_mib()
            result.busy_cpu = CpuWindow.between(t0, t1)
            if "operator" in t3.cpu and "operator" in started.cpu:
                result.operator_cpu_seconds = t3.cpu["operator"] - started.cpu["operator"]
            result.operator_exit = operator.died()
        finally:
            await watch.stop()
            # In a thread: on the emulated side this loop is the API server the stopping operator talks to.
            await asyncio.to_thread(operator.stop)
        result.operator_errors = len(operator.log_lines("ERROR"))
        if result.operator_exit is not None:
            result.notes.append(f"the operator exited with {result.operator_exit}:\n{operator.tail()}")
        elif result.operator_errors:
            errors = "\n".join(operator.log_lines("ERROR")[:5])
            result.notes.append(
                f"{result.operator_errors} ERROR lines in the operator's log, e.g.:\n{errors}"
            )
        requests = backend.operator_requests()
        upstream = [UpstreamRequest(*entry) for entry in await fake.requests()]
    # Kept beside the operator's log for a closer look (the fake's requests are already there).
    await asyncio.to_thread((workdir / "kube-requests.json").write_text, json.dumps(requests))
    result.kube = KubeCounts.of(requests, started.wall, t2.wall, PLURAL)
    throttled = sum(1 for r in requests if r.code == 429)
    if throttled:
        result.notes.append(f"{throttled} of the operator's Kubernetes requests were answered 429")
    result.upstream = UpstreamCounts.of(upstream, t0.mono, t1.mono, options.interval)
    if result.ready_seconds is not None:
        result.steady_seconds = t3.mono - t2.mono
        result.steady_kube = KubeCounts.of(requests, t2.wall, t3.wall, PLURAL)
        result.steady_upstream = UpstreamCounts.of(upstream, t2.mono, t3.mono, options.interval)
    else:
        result.notes.append(f"only {result.ready}/{count} Ready after {options.deadline_for(count):.0f}s")
    failed = sum(1 for entry in upstream if entry.status >= 400 and entry.kind != "find")
    if failed:
        result.notes.append(
            f"{failed} upstream requests failed (not counting 404s of lookups before a create)"
        )
    return result


async def settle(backend: backends.Backend, options: Options, ready_wall: float) -> float:
    """Wait until the operator has written nothing for `options.quiet` seconds (capped): kopf posts Events
    from a queue, so the last ones may land after every resource is Ready; they belong to the busy phase,
    not to the steady state. Returns how long after all were Ready the last write landed (0: none did)."""
    started = time.monotonic()
    last = 0.0
    while time.monotonic() - started < options.settle_limit:
        requests = backend.operator_requests()
        last = max((r.at for r in requests[-5000:] if not r.is_read), default=0.0)
        if time.time() - last >= options.quiet:
            break
        await asyncio.sleep(0.25)
    return max(last - ready_wall, 0.0)


def checked_out() -> str:
    """The commit under test (read-only: `git rev-parse`), or "" outside a git checkout."""
    try:
        found = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except OSError:
        return ""
    return found.stdout.strip()


async def wait_watching(backend: backends.Backend, operator: OperatorProcess, within: float = 90.0) -> None:
    """Until the operator watches ModelBuilds: its start-up (imports, login, discovery) is not the
    resources' time to Ready."""
    deadline = time.monotonic() + within
    while not any(r.verb == "watch" and r.resource == PLURAL for r in backend.operator_requests()):
        if not operator.alive():
            raise RuntimeError(f"the operator exited during start-up:\n{operator.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the operator did not watch {PLURAL} within {within:.0f}s:\n{operator.tail()}"
            )
        await asyncio.sleep(0.2)


async def apply_all(client: ClusterClient, manifests: list[dict[str, Any]], in_flight: int) -> float:
    """Create every manifest, `in_flight` at a time; the seconds it took."""
    gate = asyncio.Semaphore(in_flight)

    async def create(manifest: dict[str, Any]) -> None:
        async with gate:
            for attempt in range(5):
                try:
                    await client.create(manifest)
                    return
                except ApiError as error:
                    if error.status == 409:
                        return  # an earlier attempt got through before its answer was lost
                    if error.status < 429 or attempt == 4:
                        raise
                await asyncio.sleep(0.2 * 2**attempt)

    started = time.monotonic()
    await asyncio.gather(*(create(manifest) for manifest in manifests))
    return time.monotonic() - started


class ReadyWatch:
    """Which ModelBuilds are Ready, from one watch (the benchmark's own; a list every second would cost the
    API server far more at 10,000 objects than the operator's work being measured)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, count: int) -> None:
        self._session = session
        self._path = url + resource_path(API_VERSION, PLURAL, NAMESPACE)
        self._count = count
        self.ready: set[str] = set()
        self.first_ready_at: dict[str, float] = {}  # monotonic, when each was first seen Ready
        self.all_ready_at: float | None = None  # monotonic
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        version = await self._list()
        self._task = asyncio.create_task(self._watch(version))

    async def _list(self) -> str:
        async with self._session.get(self._path) as response:
            response.raise_for_status()
            listing = await response.json()
        self.ready = {o["metadata"]["name"] for o in listing.get("items") or [] if is_ready(o)}
        now = time.monotonic()
        for name in self.ready:
            self.first_ready_at.setdefault(name, now)
        self._check()
        return str(listing["metadata"]["resourceVersion"])

    def _check(self) -> None:
        if len(self.ready) >= self._count and not self._done.is_set():
            self.all_ready_at = time.monotonic()
            self._done.set()

    async def _watch(self, version: str) -> None:
        no_limit = aiohttp.ClientTimeout(total=None, sock_read=None)
        while True:
            params = {
                "watch": "true",
                "resourceVersion": version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": "290",
            }
            try:
                async with self._session.get(self._path, params=params, timeout=no_limit) as response:
                    if response.status == 410:
                        version = await self._list()
                        continue
                    response.raise_for_status()
                    async for line in response.content:
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        if event.get("type") == "ERROR":
                            version = await self._list()  # 410 Expired inside the stream
                            break
                        version = str(obj["metadata"]["resourceVersion"])
                        if event.get("type") == "BOOKMARK":
                            continue
                        name = obj["metadata"]["name"]
                        if event.get("type") != "DELETED" and is_ready(obj):
                            self.ready.add(name)
                            self.first_ready_at.setdefault(name, time.monotonic())
                        else:
                            self.ready.discard(name)
                        self._check()
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(0.5)  # the stream broke: resume from the last version seen

    async def wait(self, deadline: float, alive: Callable[[], bool]) -> bool:
        """Until all are Ready (True), the deadline passes or the operator dies (`alive` says False)."""
        while not self._done.is_set():
            if not alive() or time.monotonic() > deadline:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), min(1.0, max(deadline - time.monotonic(), 0.01)))
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
