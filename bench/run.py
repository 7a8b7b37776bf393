"""Scale benchmark: N Autopilot ModelBuilds (one assistant, one account) applied at once, through the operator
as a subprocess, against the emulated cluster and/or a real control plane, with the fake Autopilot in a process
of its own.

Every figure is printed beside its target and beside a naive baseline measured in the same run: the same
operator with MODELOPS_COALESCE_POLLING=false (one upstream read per resource per interval). Not part of the
test suite: it takes minutes at N=1,000 and much longer at 10,000.

    .venv/bin/python bench/run.py                                   # make bench: N=200, emulated
    .venv/bin/python bench/run.py --counts 1000 10000 --cluster both

What each run measures (bench/scenario.py has the timeline; every run gets a fresh cluster and fake):
  time to all Ready     from the first create to the last Ready=True seen by a watch; targets 1,000 → 20 s and
                        10,000 → 200 s (20 ms per resource, never below 20 s: "scaled" for other N)
  operator RSS and CPU  of the `modelops-operator run` subprocess alone (VmHWM; utime+stime), and the time it
                        was ready to run but waiting for a CPU (the machine is shared)
  k8s writes/reads      the operator's own requests, by route, per resource: from the emulator's requests (a
                        counting kmock reaction) or the real API server's audit log (the chart's ServiceAccount)
  upstream polling      Autopilot list pages and fetches by sid per poll interval while builds are in progress,
                        against 1.5 x (parents + ceil(N / page size)); lookups and creates are counted apart
  steady state          writes in a window after all are Ready and the operator's writes have stopped
  saturation            each side's CPU (operator, emulator or kube-apiserver and etcd, the fake) and the machine's
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import inspect
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    # Run as a script: import `bench` and `tests.support` from the repository root, and take bench/ itself
    # off the path so its modules never shadow top-level ones.
    sys.path[0] = str(REPO)

from bench.measure import KubeCounts, Measurement, UpstreamCounts  # noqa: E402
from bench.scenario import Options, run  # noqa: E402
from bench.shipped_env import operator_executable  # noqa: E402
from bench.table import (  # noqa: E402
    Row,
    Target,
    polling_target,
    render,
    render_by_route,
    saturation,
    time_target,
)
from modelops_operator.providers.twilio_autopilot.client import TwilioAutopilotClient  # noqa: E402

# The operator's own page size (not a copy of it): the polling target follows the operator.
PAGE_SIZE: int = inspect.signature(TwilioAutopilotClient.list).parameters["page_size"].default
PARENTS = 1  # every build has the same assistant and account
RSS_TARGET_MIB = 250.0
WRITES_TARGET = 4.0
EVENTS_TARGET = 3.0
READS_TARGET = 1.0


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rows_for(fig: Measurement, naive: Measurement, in_flight: int) -> list[Row]:
    """The table's rows for one (cluster, N): `fig` coalesced, `naive` the baseline."""
    cluster, count = fig.cluster, fig.count

    def row(metric: str, a: float | None, b: float | None, target: Target | None = None, **kw: object) -> Row:
        # Per-resource and per-interval figures of a run that timed out say nothing about the targets
        # (most resources never got that far); the time to Ready and the peak memory still do.
        judged = fig.ready_seconds is not None or metric.startswith(
            ("time to all Ready", "operator peak RSS")
        )
        return Row(cluster, count, metric, a, b, target, incomplete=not judged, **kw)  # type: ignore[arg-type]

    def timeout(m: Measurement) -> str:
        return "" if m.ready_seconds is not None else f"timeout {m.ready}/{m.count}"

    kube, base = fig.kube, naive.kube
    up, up_base = fig.upstream, naive.upstream
    rows = [
        row("time to all Ready (s)", fig.ready_seconds, naive.ready_seconds, time_target(count),
            remark=timeout(fig)),
        row(f"apply duration, {in_flight} in flight (s)", fig.apply_seconds, naive.apply_seconds),
        row("operator peak RSS (MiB)", fig.peak_rss_mib, naive.peak_rss_mib, Target(RSS_TARGET_MIB),
            precision=0),
        row("operator CPU apply→Ready (% 1 core)", _cpu(fig, "operator"), _cpu(naive, "operator"),
            precision=0),
        row("operator waiting for a CPU (% of time)", _waiting(fig), _waiting(naive), precision=0),
        row("operator CPU, whole run (s)", fig.operator_cpu_seconds, naive.operator_cpu_seconds),
    ]  # fmt: skip

    def per(
        counts: KubeCounts | None, value: Callable[[KubeCounts], int], scale: int = count
    ) -> float | None:
        return None if counts is None else value(counts) / scale

    if kube is not None:
        rows += [
            row("k8s writes/resource (object+status)", per(kube, lambda k: k.writes),
                per(base, lambda k: k.writes), Target(WRITES_TARGET), precision=2),
            row("k8s Events/resource", per(kube, lambda k: k.events), per(base, lambda k: k.events),
                Target(EVENTS_TARGET), precision=2),
            row("k8s reads/resource", per(kube, lambda k: k.reads), per(base, lambda k: k.reads),
                Target(READS_TARGET), precision=2),
            row("k8s writes on the busiest resource", per(kube, lambda k: k.max_writes_one_object, 1),
                per(base, lambda k: k.max_writes_one_object, 1), Target(WRITES_TARGET), precision=0),
        ]  # fmt: skip
    if up is not None:

        def create_path(u: UpstreamCounts | None) -> float | None:
            return None if u is None else sum(u.by_kind.get(k, 0) for k in ("find", "create")) / count

        rows += [
            row("upstream polling req/interval, peak", up.peak, None if up_base is None else up_base.peak,
                polling_target(PARENTS, count, PAGE_SIZE), precision=0),
            row("upstream polling req/interval, mean", up.mean, None if up_base is None else up_base.mean,
                precision=1),
            row("upstream polling requests, total", up.polling,
                None if up_base is None else up_base.polling, precision=0),
            row("upstream find+create/resource", create_path(up), create_path(up_base), precision=2),
        ]  # fmt: skip
    rows.append(row("last write after all Ready (s)", fig.settle_seconds, naive.settle_seconds, precision=1))
    steady, steady_base = fig.steady_kube, naive.steady_kube
    rows.append(
        row(f"steady k8s writes+Events ({fig.steady_seconds:.0f}s)",
            None if steady is None else steady.writes + steady.events,
            None if steady_base is None else steady_base.writes + steady_base.events,
            Target(0), precision=0, remark="" if steady is not None else "not reached")
    )  # fmt: skip
    if fig.steady_upstream is not None:
        rows.append(
            row("steady upstream polling req/interval", fig.steady_upstream.mean,
                None if naive.steady_upstream is None else naive.steady_upstream.mean, precision=1)
        )  # fmt: skip
    if fig.busy_cpu is not None:
        for name in sorted(fig.busy_cpu.percent):
            if name != "operator":
                rows.append(
                    row(f"{name} CPU apply→Ready (% 1 core)", _cpu(fig, name), _cpu(naive, name), precision=0)
                )
        rows.append(
            row("machine busy apply→Ready (% all cores)", fig.busy_cpu.machine_percent,
                None if naive.busy_cpu is None else naive.busy_cpu.machine_percent, precision=0)
        )  # fmt: skip
    return rows


def _cpu(m: Measurement, name: str) -> float | None:
    return None if m.busy_cpu is None else m.busy_cpu.percent.get(name)


def _waiting(m: Measurement) -> float | None:
    return None if m.busy_cpu is None else m.busy_cpu.waiting.get("operator")


def capacity(cores: int) -> dict[str, float]:
    """What each process can use, in % of one core: a Python event loop one core, Go servers every core."""
    return {"kube-apiserver": 100.0 * cores, "etcd": 100.0 * cores}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[200], help="N per run (default: 200)")
    parser.add_argument("--cluster", choices=("emulated", "real", "both"), default="emulated")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval, seconds")
    parser.add_argument("--drift", type=float, default=5.0, help="drift-check interval once Ready, seconds")
    parser.add_argument("--stage-seconds", type=float, default=1.0, help="the fake's time per build stage")
    parser.add_argument("--in-flight", type=int, default=50, help="concurrent creates while applying")
    parser.add_argument("--steady", type=float, default=12.0, help="steady-state window, seconds")
    parser.add_argument("--deadline", type=float, default=None, help="seconds from apply to all Ready")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline (half the time)")
    parser.add_argument(
        "--operator",
        default=None,
        help="the modelops-operator executable (default: an environment with only the operator's shipped "
        "dependencies, made once in the per-user cache; see bench/shipped_env.py)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement here")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs here (default: a temp dir)")
    parser.add_argument(
        "--from-json", type=Path, default=None, help="measure nothing: print the tables of a --json file"
    )
    args = parser.parse_args()

    options = Options(
        interval=args.interval,
        drift=args.drift,
        stage_seconds=args.stage_seconds,
        in_flight=args.in_flight,
        steady=args.steady,
        deadline=args.deadline,
        operator=args.operator or ("" if args.from_json else str(operator_executable(progress))),
    )
    cores = os.cpu_count() or 1
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text())
        print(report(pairs([Measurement.from_dict(m) for m in saved]), options, cores))
        return
    clusters = ["emulated", "real"] if args.cluster == "both" else [args.cluster]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="modelops-bench-"))
    progress(f"logs in {workdir}; {cores} cores; load average {os.getloadavg()[0]:.1f}")

    measured: list[Measurement] = []
    for cluster in clusters:
        for count in args.counts:
            for coalesce in (True, False) if not args.no_baseline else (True,):
                mode = "coalesced" if coalesce else "naive"
                progress(f"{cluster} N={count} {mode}: starting")
                rundir = workdir / f"{cluster}-{count}-{mode}"
                rundir.mkdir(parents=True, exist_ok=True)
                one = asyncio.run(run(cluster, count, coalesce, options, rundir))
                ready = f"{one.ready_seconds:.1f}s" if one.ready_seconds is not None else "NOT READY"
                progress(f"{cluster} N={count} {mode}: all Ready in {ready}")
                for note in one.notes:
                    progress(f"  note: {note}")
                measured.append(one)
    if args.json is not None:
        args.json.write_text(json.dumps([dataclasses.asdict(m) for m in measured], indent=1))
    print()
    print(report(pairs(measured), options, cores))


def pairs(measured: list[Measurement]) -> list[tuple[Measurement, Measurement]]:
    """(coalesced, naive) per (cluster, N), in the order measured. Without a baseline its column stays empty
    (an empty measurement), never a copy of the figure."""
    found: dict[tuple[str, int], dict[bool, Measurement]] = {}
    for m in measured:
        found.setdefault((m.cluster, m.count), {})[m.coalesce] = m
    result = []
    for (cluster, count), modes in found.items():
        empty = Measurement(cluster=cluster, count=count, coalesce=False, interval=1.0)
        if True in modes:
            result.append((modes[True], modes.get(False, empty)))
    return result


def report(results: list[tuple[Measurement, Measurement]], options: Options, cores: int) -> str:
    out: list[str] = []
    rows = [row for fig, naive in results for row in rows_for(fig, naive, options.in_flight)]
    out.append(
        f"ModelBuilds of one assistant and account; poll interval {options.interval:g}s, drift {options.drift:g}s, "
        f"fake {options.stage_seconds:g}s per stage, page size {PAGE_SIZE}. figure: coalesced polling "
        "(as shipped); naive baseline: MODELOPS_COALESCE_POLLING=false, same run; ratio = figure / baseline."
    )
    out.append(render(rows))
    commits = sorted({m.commit for pair in results for m in pair if m.commit})
    if commits:
        changed = " (it changed during the runs!)" if len(commits) > 1 else ""
        out.append(f"operator at commit {', '.join(commits)}{changed}")
    out += [
        "",
        "Kubernetes requests of the operator by route, from its start until steady state (apply → Ready):",
    ]
    out.append(render_by_route((f.cluster, f.count, _routes(f) or {}, _routes(n)) for f, n in results))
    steady = [
        (f.cluster, f.count, _routes(f, steady=True) or {}, _routes(n, steady=True)) for f, n in results
    ]
    if any(c or n for _, _, c, n in steady):
        out += ["", "Kubernetes requests in the steady window (all Ready, nothing changes):"]
        out.append(render_by_route(steady))
    out += [
        "",
        "Upstream (Autopilot) requests by kind, apply → Ready (list: one page; fetch: one build by sid;",
        "find: a lookup by unique name before a create):",
        render_by_route((f.cluster, f.count, _kinds(f) or {}, _kinds(n)) for f, n in results),
        "",
        "Which side saturates (CPU, apply → Ready; % of one core):",
    ]
    for fig, naive in results:
        for m in (fig, naive):
            if m.busy_cpu is not None:
                cpu = m.busy_cpu
                line = saturation(cpu.percent, cpu.waiting, capacity(cores), cpu.machine_percent, cores)
                out.append(f"  {m.cluster} N={m.count:,} {_mode(m)}: {line}")
    out += ["", "Upstream polling requests (list pages + fetches by sid) per interval, apply → all Ready:"]
    for fig, naive in results:
        for m in (fig, naive):
            if m.upstream is not None:
                series = m.upstream.polling_per_interval
                shown = " ".join(str(n) for n in series[:80]) + (" ..." if len(series) > 80 else "")
                out.append(f"  {m.cluster} N={m.count:,} {_mode(m)}: {shown}")
    notes = [(m, note) for pair in results for m in pair for note in m.notes]
    if notes:
        out += ["", "Notes:"]
        out += [f"  {m.cluster} N={m.count:,} {_mode(m)}: {note}" for m, note in notes]
    return "\n".join(out)


def _mode(m: Measurement) -> str:
    return "coalesced" if m.coalesce else "naive"


def _routes(m: Measurement, *, steady: bool = False) -> dict[str, int] | None:
    """None when nothing was measured (no baseline, or no steady state reached)."""
    counts = m.steady_kube if steady else m.kube
    return None if counts is None else counts.by_route


def _kinds(m: Measurement) -> dict[str, int] | None:
    return None if m.upstream is None else m.upstream.by_kind


if __name__ == "__main__":
    main()
