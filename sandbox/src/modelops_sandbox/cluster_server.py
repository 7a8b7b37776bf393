"""`modelops-sandbox cluster`: the emulated Kubernetes API alone, with the operator's CRDs, until SIGTERM.

For a pipeline that wants a Kubernetes API in a second without Go or Docker: it prints the URL, writes a
kubeconfig (plain HTTP, any token accepted) and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import TextIO

from modelops_sandbox.cluster import EmulatedCluster
from modelops_sandbox.stack import install_crds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument(
        "--kubeconfig", default=".sandbox/kubeconfig", help="where to write a kubeconfig for the cluster"
    )
    parser.add_argument(
        "--no-crds", dest="crds", action="store_false", help="do not install the operator's CRDs"
    )


async def serve(
    args: argparse.Namespace, *, stop: asyncio.Event | None = None, out: TextIO = sys.stdout
) -> int:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    try:
        async with EmulatedCluster(host=args.host, port=args.port) as cluster:
            if args.crds:
                await install_crds(cluster)
            path = cluster.write_kubeconfig(args.kubeconfig)
            print(f"KUBERNETES_URL={cluster.url}", file=out, flush=True)
            print(f"KUBECONFIG={path}", file=out, flush=True)
            print("cluster ready", file=out, flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
    return 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))
