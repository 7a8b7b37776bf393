"""`modelops-sandbox run | fakes | cluster`."""

from __future__ import annotations

import argparse
import sys

from modelops_sandbox import cluster_server, fakes_server


def _run(args: argparse.Namespace) -> int:
    from modelops_sandbox.runner import main as run_main

    return run_main(args)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="exit when every example is terminal")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="with --once: give up after this many seconds"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port of the emulated Kubernetes API (default: any)"
    )
    parser.add_argument(
        "--examples", default=None, help="directory of example manifests (default: ./examples)"
    )
    parser.add_argument("--kubeconfig", default=".sandbox/kubeconfig", help="where to write the kubeconfig")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="modelops-sandbox", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="the full sandbox: emulated cluster, fake upstreams, the operator, the examples"
    )
    add_run_arguments(run)
    run.set_defaults(func=_run)

    fakes = sub.add_parser("fakes", help="serve the four fake upstreams until SIGTERM")
    fakes_server.add_arguments(fakes)
    fakes.set_defaults(func=fakes_server.main)

    cluster = sub.add_parser(
        "cluster", help="serve the emulated Kubernetes API (with the CRDs) until SIGTERM"
    )
    cluster_server.add_arguments(cluster)
    cluster.set_defaults(func=cluster_server.main)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
