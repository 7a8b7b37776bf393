"""What the benchmark measures and how: process CPU and memory from /proc, Kubernetes requests by route,
upstream requests by kind and per poll interval.

Kubernetes requests are timed by the wall clock (the API server's audit log has nothing else); upstream
requests by the monotonic clock (the fake's own clock: CLOCK_MONOTONIC is one clock for every process on the
machine, so the fake's subprocess and this one agree).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# ------------------------------------------------------------------------------------------- processes


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def runqueue_wait_seconds(pid: int) -> float | None:
    """How long the process's threads were ready to run but waiting for a CPU (the second field of
    /proc/PID/task/TID/schedstat, in ns). Growing with wall time, it says the machine, not the process, is
    the limit: other processes held the cores."""
    total = 0.0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return None
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total


def status_mib(pid: int, key: str) -> float | None:
    """A memory line of /proc/PID/status in MiB: VmHWM (peak resident set), VmRSS (now)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every CPU since boot, from /proc/stat: busy% over a window is the difference
    of two readings. It shows how much of the machine anyone (other sessions included) was using."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return float(total - idle), float(total)


@dataclass(frozen=True)
class Mark:
    """One instant of a run: both clocks, and the CPU (and run-queue wait) seconds of every process that
    matters then."""

    wall: float
    mono: float
    cpu: dict[str, float]
    wait: dict[str, float]
    machine: tuple[float, float]


def mark(pids: dict[str, int | None]) -> Mark:
    cpu: dict[str, float] = {}
    wait: dict[str, float] = {}
    for name, pid in pids.items():
        if pid is None:
            continue
        seconds = cpu_seconds(pid)
        if seconds is not None:
            cpu[name] = seconds
        waited = runqueue_wait_seconds(pid)
        if waited is not None:
            wait[name] = waited
    return Mark(wall=time.time(), mono=time.monotonic(), cpu=cpu, wait=wait, machine=machine_busy())


@dataclass(frozen=True)
class CpuWindow:
    """CPU use between two marks: per process as a percentage of ONE core, and the machine's busy share."""

    seconds: float
    percent: dict[str, float]
    waiting: dict[str, float]  # ready to run but not running, % of the window (summed over threads)
    machine_percent: float  # of all cores: 100 is every core busy

    @classmethod
    def between(cls, start: Mark, end: Mark) -> CpuWindow:
        wall = max(end.mono - start.mono, 1e-9)

        def rate(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
            return {name: 100 * (b[name] - a[name]) / wall for name in b if name in a}

        busy = end.machine[0] - start.machine[0]
        total = end.machine[1] - start.machine[1]
        return cls(
            seconds=wall,
            percent=rate(start.cpu, end.cpu),
            waiting=rate(start.wait, end.wait),
            machine_percent=100 * busy / total if total else 0.0,
        )


# ------------------------------------------------------------------------------------ Kubernetes requests

READ_VERBS = frozenset({"get", "list", "watch"})


class KubeRequest(NamedTuple):
    """One request the operator made to the API server."""

    at: float  # wall clock
    verb: str  # as the audit log says: get, list, watch, create, update, patch, delete, deletecollection
    resource: str  # plural, "" for non-resource URLs (discovery)
    subresource: str
    name: str
    code: int = 0  # the HTTP status when known (the audit log has it; the emulator's hook runs before it)

    @property
    def route(self) -> str:
        if not self.resource:
            return f"{self.verb} (discovery)"
        return f"{self.verb} {self.resource}" + (f"/{self.subresource}" if self.subresource else "")

    @property
    def is_read(self) -> bool:
        return self.verb in READ_VERBS

    @property
    def is_event(self) -> bool:
        return self.resource == "events"


def verb_of(method: str, name: str | None, params: dict[str, str]) -> str:
    """The audit log's verb for an HTTP request (what the emulator's request log does not name itself)."""
    method = method.upper()
    if method == "GET":
        if name:
            return "get"
        return "watch" if params.get("watch", "").lower() in ("1", "true") else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if name else "deletecollection",
    }.get(method, method.lower())


@dataclass(frozen=True)
class KubeCounts:
    """The operator's Kubernetes requests in one window."""

    by_route: dict[str, int]
    reads: int
    writes: int  # object and status writes (PATCH, PUT, POST, DELETE of anything but Events)
    events: int  # Events written
    max_writes_one_object: int  # the most object/status writes any single resource took

    @classmethod
    def of(cls, requests: Iterable[KubeRequest], start: float, end: float, plural: str) -> KubeCounts:
        window = [r for r in requests if start <= r.at < end]
        per_object: Counter[str] = Counter(
            r.name for r in window if not r.is_read and r.resource == plural and r.name
        )
        return cls(
            by_route=dict(Counter(r.route for r in window)),
            reads=sum(1 for r in window if r.is_read),
            writes=sum(1 for r in window if not r.is_read and not r.is_event),
            events=sum(1 for r in window if not r.is_read and r.is_event),
            max_writes_one_object=max(per_object.values(), default=0),
        )


# -------------------------------------------------------------------------------------- upstream requests

SID = re.compile(r"^UG[0-9a-fA-F]{32}$")
POLLING_KINDS = frozenset({"list", "fetch"})


def upstream_kind(method: str, path: str) -> str:
    """What an Autopilot request was for: `list` (one page of a parent's builds) and `fetch` (one build by
    sid) are polling; `find` (a fetch by unique name, before a create) and `create` are the create path."""
    parts = path.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-1] == "ModelBuilds":
        return {"GET": "list", "POST": "create"}.get(method, "other")
    if len(parts) >= 2 and parts[-2] == "ModelBuilds":
        if method == "GET":
            return "fetch" if SID.match(parts[-1]) else "find"
        return {"POST": "update", "DELETE": "delete"}.get(method, "other")
    return "other"


class UpstreamRequest(NamedTuple):
    at: float  # monotonic
    kind: str
    status: int


def per_interval(times: Sequence[float], start: float, end: float, interval: float) -> list[int]:
    """How many of `times` fall in each interval-long bucket of [start, end) (the last one may be short)."""
    buckets = [0] * max(1, math.ceil((end - start) / interval))
    for at in times:
        if start <= at < end:
            buckets[min(int((at - start) // interval), len(buckets) - 1)] += 1
    return buckets


@dataclass(frozen=True)
class UpstreamCounts:
    """The operator's upstream requests in one window."""

    by_kind: dict[str, int]
    polling_per_interval: list[int]  # list pages + fetches by sid, per poll interval

    @classmethod
    def of(
        cls, requests: Iterable[UpstreamRequest], start: float, end: float, interval: float
    ) -> UpstreamCounts:
        window = [r for r in requests if start <= r.at < end]
        polling = [r.at for r in window if r.kind in POLLING_KINDS]
        return cls(
            by_kind=dict(Counter(r.kind for r in window)),
            polling_per_interval=per_interval(polling, start, end, interval),
        )

    @property
    def peak(self) -> int:
        return max(self.polling_per_interval, default=0)

    @property
    def mean(self) -> float:
        buckets = self.polling_per_interval
        return sum(buckets) / len(buckets) if buckets else 0.0

    @property
    def polling(self) -> int:
        return sum(self.polling_per_interval)


# ------------------------------------------------------------------------------------------- one run


@dataclass
class Measurement:
    """Everything one run (one cluster, one N, one polling mode) measured."""

    cluster: str
    count: int
    coalesce: bool
    interval: float
    # The commit checked out when the run started (the operator is an editable install: what is on disk runs).
    commit: str = ""
    apply_seconds: float | None = None
    ready_seconds: float | None = None  # None: not all Ready before the deadline
    ready: int = 0
    peak_rss_mib: float | None = None
    # apply → all Ready (the busy phase), per process, % of one core; and the machine's busy share.
    busy_cpu: CpuWindow | None = None
    operator_cpu_seconds: float | None = None  # from the operator's start to the end of the steady window
    # From the operator's start until steady state begins (apply → Ready, then until its writes stopped).
    kube: KubeCounts | None = None
    # The steady window (all Ready, nothing changes).
    steady_kube: KubeCounts | None = None
    steady_seconds: float = 0.0
    settle_seconds: float | None = None  # from all Ready to the operator's last write (late Events)
    upstream: UpstreamCounts | None = None  # apply → all Ready
    steady_upstream: UpstreamCounts | None = None
    operator_exit: int | None = None  # an exit code when the operator died during the run
    operator_errors: int = 0  # ERROR lines and tracebacks in its log
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Measurement:
        """A measurement written by `--json` (dataclasses.asdict), read back to print its tables again."""
        nested: dict[str, Any] = {
            "busy_cpu": CpuWindow,
            "kube": KubeCounts,
            "steady_kube": KubeCounts,
            "upstream": UpstreamCounts,
            "steady_upstream": UpstreamCounts,
        }
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in saved.items() if key in known}
        for key, kind in nested.items():
            if values.get(key) is not None:
                part = dict(values[key])
                if kind is CpuWindow:
                    part.setdefault("waiting", {})  # written before the run-queue wait was measured
                values[key] = kind(**part)
        return cls(**values)
