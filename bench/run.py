"""Scale benchmark: N ModelBuilds through the real operator, the emulated cluster and the fake Autopilot.

Prints a table: wall time until every build is Succeeded, upstream requests and Kubernetes writes per
resource, and peak memory of the process. Not part of the test suite (it takes minutes at N=1000).

    .venv/bin/python bench/run.py --counts 50 200 1000
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from dataclasses import dataclass

from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, local_stack

ASSISTANT = "UA" + "2" * 32


@dataclass
class Result:
    count: int
    seconds: float
    upstream_requests: int
    kube_writes: int
    peak_rss_mb: float


async def measure(count: int, poll: float) -> Result:
    async with local_stack(
        stage_seconds=1.0, poll_interval_seconds=poll, drift_interval_seconds=60.0, request_log_limit=2000
    ) as stack:
        await stack.cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "twilio", "namespace": "default"},
                "stringData": {"accountSid": SANDBOX_ACCOUNT_SID, "authToken": SANDBOX_AUTH_TOKEN},
            }
        )
        store = stack.cluster.emulator.store
        async with stack.operator():
            first_version = store.resource_version
            started = time.monotonic()
            for index in range(count):
                await stack.cluster.create(
                    {
                        "apiVersion": "modelops.dev/v1alpha1",
                        "kind": "ModelBuild",
                        "metadata": {"name": f"build-{index:05d}", "namespace": "default"},
                        "spec": {
                            "twilioAutopilot": {"assistantSid": ASSISTANT},
                            "credentialsSecretRef": {"name": "twilio"},
                            "polling": {"intervalSeconds": 1},
                        },
                    }
                )
            deadline = started + 120 + count * 0.5
            while True:
                objects = stack.cluster.objects("modelops.dev", "v1alpha1", "modelbuilds", "default")
                done = sum(1 for obj in objects if (obj.get("status") or {}).get("phase") == "Succeeded")
                if done == count:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {done}/{count} builds succeeded before the deadline")
                await asyncio.sleep(0.5)
            seconds = time.monotonic() - started
            # Every write (objects, status, annotations, Events) takes one resourceVersion.
            writes = store.resource_version - first_version - count
        return Result(
            count=count,
            seconds=seconds,
            upstream_requests=len(stack.autopilot.requests),
            kube_writes=writes,
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--poll", type=float, default=1.0, help="operator poll tick (seconds)")
    args = parser.parse_args()
    rows = [asyncio.run(measure(count, args.poll)) for count in args.counts]
    header = ("builds", "seconds", "ms/build", "upstream req", "req/build", "k8s writes/build", "peak RSS MB")
    print("  ".join(f"{h:>16}" for h in header))
    for row in rows:
        cells = (
            row.count,
            f"{row.seconds:.1f}",
            f"{row.seconds / row.count * 1000:.1f}",
            row.upstream_requests,
            f"{row.upstream_requests / row.count:.1f}",
            f"{row.kube_writes / row.count:.1f}",
            f"{row.peak_rss_mb:.0f}",
        )
        print("  ".join(f"{c:>16}" for c in cells))


if __name__ == "__main__":
    main()
