"""`modelops-operator run | crds`, and `sandbox` / `fakes` as aliases of the modelops-sandbox command."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from pathlib import Path

from modelops_operator.config import Settings


def _run(args: argparse.Namespace) -> int:
    from modelops_operator import logging_setup
    from modelops_operator.core.shard import InvalidSelector, LabelSelector
    from modelops_operator.runtime import run_operator

    settings = Settings.from_env()
    logging_setup.configure(settings.log_level, settings.log_format)
    try:
        shard = LabelSelector.parse(args.selector)
    except InvalidSelector as error:
        print(f"--selector: {error}", file=sys.stderr)
        return 2
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
            shard=shard,
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


# `sandbox` and `fakes` live in the modelops-sandbox distribution; these commands hand over to its command.
ALIASES = {"sandbox": "run", "fakes": "fakes"}


def _sandbox_alias(alias: str, rest: list[str]) -> int:
    """The operator never imports the sandbox (it is not in the operator's image); it only execs its command."""
    command = ALIASES[alias]
    executable = shutil.which("modelops-sandbox") or _beside_interpreter("modelops-sandbox")
    if executable is None:
        print(
            f"`modelops-operator {alias}` is an alias of `modelops-sandbox {command}`, which is not "
            "installed: pip install modelops-sandbox (in this repository: pip install -e ./sandbox).",
            file=sys.stderr,
        )
        return 2
    os.execv(executable, [executable, command, *rest])


def _beside_interpreter(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.is_file() else None


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
    run.add_argument(
        "--selector",
        "-l",
        default=None,
        help="own only the resources with these labels (a shard): key=value, key!=value, key, !key; comma-separated",
    )
    run.set_defaults(func=_run)

    crds = sub.add_parser("crds", help="write the CRDs generated from the API models")
    crds.add_argument("--output", default="deploy/crds", help="directory to write into")
    crds.set_defaults(func=_crds)

    for alias, target in ALIASES.items():
        # Listed for --help only: main() hands these over before parsing (their options are the sandbox's).
        sub.add_parser(alias, help=f"alias of `modelops-sandbox {target}` (the modelops-sandbox package)")
    return top


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments and arguments[0] in ALIASES:
        return _sandbox_alias(arguments[0], arguments[1:])
    args = parser().parse_args(arguments)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
