"""How long a build's completion takes to reach `.status`: with Twilio status callbacks, and by polling alone.

Issue 12's target: with callbacks a status change reaches `.status` in ≤ 1 s (p50 and p95), shown beside
polling's figure measured in the same run. Each mode gets a fresh sandbox stack (emulated cluster, fake
Autopilot sending signed callbacks, the operator in-process with its callback endpoint on a free port), and
N builds applied a little apart, so that their completions fall at every point of the poll interval.

Latency of one build = when a watch of the bench's own first sees it Ready, minus when the fake's build reached
`completed` (the fake's own history, same monotonic clock). It includes the fake's delay before it sends the
callback (it notices transitions every 0.1 s), as Twilio's own delay would be included.

    .venv/bin/python bench/callback_latency.py                   # N=40, poll interval 10 s
    .venv/bin/python bench/callback_latency.py --count 100 --interval 30
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path[0] = str(REPO)  # run as a script: import `bench` from the repository root

import aiohttp  # noqa: E402

from bench.scenario import ASSISTANT, NAMESPACE, SECRET, ReadyWatch, model_build  # noqa: E402
from bench.table import Row, Target, render  # noqa: E402
from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, local_stack  # noqa: E402

TARGET_SECONDS = 1.0


@dataclass(frozen=True)
class Latencies:
    mode: str  # "callbacks" or "polling"
    seconds: list[float]
    callbacks_accepted: int
    missing: int  # builds not Ready before the deadline

    def percentile(self, p: float) -> float | None:
        if not self.seconds:
            return None
        ordered = sorted(self.seconds)
        # Nearest rank: the smallest value with at least p% of the values at or below it.
        rank = max(1, -(-len(ordered) * p // 100))
        return ordered[int(rank) - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(mode: str, count: int, interval: float, stage: float) -> Latencies:
    overrides: dict[str, Any] = {"poll_interval_seconds": interval, "drift_interval_seconds": 10 * interval}
    if mode == "callbacks":
        port = free_port()
        overrides |= {"callback_port": port, "callback_base_url": f"http://127.0.0.1:{port}"}
    async with local_stack(namespace=NAMESPACE, stage_seconds=stage) as stack:
        await stack.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": SECRET},
                "stringData": {"accountSid": SANDBOX_ACCOUNT_SID, "authToken": SANDBOX_AUTH_TOKEN},
            }
        )
        async with stack.operator(**overrides) as handle, aiohttp.ClientSession() as session:
            watch = ReadyWatch(session, stack.cluster.url, count)
            await watch.start()
            try:
                # Applied over one poll interval: completions land at every phase of it.
                spacing = interval / count
                for index in range(count):
                    await stack.apply(model_build(index, interval))
                    await asyncio.sleep(spacing)
                deadline = time.monotonic() + 2 * stage + 3 * interval + 30
                await watch.wait(deadline, lambda: not handle.task.done())
            finally:
                await watch.stop()
            seconds = []
            for index in range(count):
                name = f"build-{index:05d}"
                seen = watch.first_ready_at.get(name)
                obj = await stack.cluster.get_or_none("modelops.dev/v1alpha1", "modelbuilds", NAMESPACE, name)
                sid = ((obj or {}).get("status") or {}).get("externalId")
                if seen is None or not sid:
                    continue
                completed = dict(stack.autopilot.history(ASSISTANT, sid)).get("completed")
                if completed is not None:
                    seconds.append(seen - completed)
            accepted = sum(1 for c in stack.autopilot.callbacks if c.status is not None and c.status < 300)
    return Latencies(mode, seconds, accepted, count - len(seconds))


def rows(with_callbacks: Latencies, polling: Latencies, count: int) -> list[Row]:
    def row(metric: str, p: float) -> Row:
        return Row(
            "emulated",
            count,
            metric,
            with_callbacks.percentile(p),
            polling.percentile(p),
            Target(TARGET_SECONDS),
            precision=2,
        )

    return [
        row("status latency p50, callbacks (s)", 50),
        row("status latency p95, callbacks (s)", 95),
        Row("emulated", count, "status latency max, callbacks (s)",
            max(with_callbacks.seconds, default=None), max(polling.seconds, default=None), precision=2),
        Row("emulated", count, "mean of latencies (s)",
            statistics.fmean(with_callbacks.seconds) if with_callbacks.seconds else None,
            statistics.fmean(polling.seconds) if polling.seconds else None, precision=2),
        Row("emulated", count, "callbacks accepted", float(with_callbacks.callbacks_accepted),
            float(polling.callbacks_accepted), precision=0),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=40, help="builds per mode")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval, seconds")
    parser.add_argument("--stage-seconds", type=float, default=2.0, help="the fake's time per build stage")
    args = parser.parse_args()
    print(f"[{time.strftime('%H:%M:%S')}] with callbacks", file=sys.stderr, flush=True)
    with_callbacks = asyncio.run(measure("callbacks", args.count, args.interval, args.stage_seconds))
    print(f"[{time.strftime('%H:%M:%S')}] polling alone", file=sys.stderr, flush=True)
    polling = asyncio.run(measure("polling", args.count, args.interval, args.stage_seconds))
    print(
        f"\n{args.count} Autopilot builds, poll interval {args.interval:g}s, fake {args.stage_seconds:g}s per "
        "stage; latency = build completed upstream → Ready seen by a watch. figure: with status callbacks; "
        "baseline: polling alone, same run."
    )
    print(render(rows(with_callbacks, polling, args.count)))
    for result in (with_callbacks, polling):
        if result.missing:
            print(f"{result.mode}: {result.missing} of {args.count} builds not measured (not Ready in time)")


if __name__ == "__main__":
    main()
