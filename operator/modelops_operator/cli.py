"""`modelops-operator run | sandbox | crds | fakes`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from modelops_operator.config import Settings


def _run(args: argparse.Namespace) -> int:
    from modelops_operator import logging_setup
    from modelops_operator.runtime import run_operator

    settings = Settings.from_env()
    logging_setup.configure(settings.log_level, settings.log_format)
    if not args.namespace and not args.all_namespaces:
        args.all_namespaces = True
    liveness = None if settings.health_port == 0 else f"http://0.0.0.0:{settings.health_port}/healthz"
    asyncio.run(
        run_operator(
            settings,
            namespaces=args.namespace or (),
            clusterwide=args.all_namespaces,
            standalone=args.standalone,
            peering_name=args.peering_name,
            priority=args.priority,
            liveness_endpoint=liveness,
        )
    )
    return 0


def _crds(args: argparse.Namespace) -> int:
    from modelops_operator.api.crd import dump_crd
    from modelops_operator.api.kinds import ALL_KINDS

    target = Path(args.output)
    target.mkdir(parents=True, exist_ok=True)
    for definition in ALL_KINDS:
        path = target / f"{definition.plural}.yaml"
        path.write_text(dump_crd(definition))
        print(f"wrote {path}")
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from modelops_operator.sandbox.runner import main as sandbox_main

    return sandbox_main(args)


def _fakes(args: argparse.Namespace) -> int:
    from modelops_operator.sandbox.fakes_server import main as fakes_main

    return fakes_main(args)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="modelops-operator", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run the operator against the cluster in KUBECONFIG or in-cluster config"
    )
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", action="append", help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace (default)")
    run.add_argument("--standalone", action="store_true", help="no peering (one replica, no leader election)")
    run.add_argument("--peering-name", default=None, help="kopf peering object name (when not standalone)")
    run.add_argument("--priority", type=int, default=0, help="kopf peering priority of this replica")
    run.set_defaults(func=_run)

    crds = sub.add_parser("crds", help="write the CRDs generated from the API models")
    crds.add_argument("--output", default="deploy/crds", help="directory to write into")
    crds.set_defaults(func=_crds)

    sandbox = sub.add_parser("sandbox", help="emulated cluster + fake upstreams + operator + examples")
    sandbox.add_argument("--once", action="store_true", help="exit when every example is terminal")
    sandbox.add_argument(
        "--timeout", type=float, default=120.0, help="with --once: give up after this many seconds"
    )
    sandbox.add_argument(
        "--port", type=int, default=0, help="port of the emulated Kubernetes API (default: any)"
    )
    sandbox.add_argument("--examples", default=None, help="directory of example manifests (default: bundled)")
    sandbox.add_argument("--kubeconfig", default=".sandbox/kubeconfig", help="where to write the kubeconfig")
    sandbox.set_defaults(func=_sandbox)

    from modelops_operator.sandbox.fakes_server import add_arguments

    fakes = sub.add_parser(
        "fakes", help="serve the four fake upstreams standalone until SIGTERM (e2e clusters)"
    )
    add_arguments(fakes)
    fakes.set_defaults(func=_fakes)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
