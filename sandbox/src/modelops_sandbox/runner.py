"""`modelops-sandbox run`: the local stack, the examples, and a live table of their phases."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from modelops_operator.api.common import GROUP, VERSION
from modelops_operator.api.kinds import ALL_KINDS
from modelops_sandbox.cluster import EmulatedCluster
from modelops_sandbox.stack import OperatorHandle, Stack, local_stack

EXPECT_ANNOTATION = "modelops.dev/sandbox-expect"
TERMINAL = {"Succeeded", "Failed", "Canceled", "Ready"}
KIND_ORDER = {"Namespace": 0, "Secret": 1}


@dataclass(frozen=True)
class Row:
    kind: str
    name: str
    phase: str
    ready: str
    remote_id: str
    expected: str
    message: str

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL

    @property
    def as_expected(self) -> bool:
        return not self.expected or self.phase == self.expected


def load_examples(directory: Path) -> list[dict[str, Any]]:
    manifests: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        manifests += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    # Secrets before the resources that use them, as `kubectl apply -f examples/` would not guarantee.
    return sorted(manifests, key=lambda m: KIND_ORDER.get(m.get("kind", ""), 9))


def snapshot(stack: Stack[EmulatedCluster]) -> list[Row]:
    rows = []
    for definition in ALL_KINDS:
        for obj in stack.cluster.objects(GROUP, VERSION, definition.plural, stack.namespace):
            status = obj.get("status") or {}
            ready = next(
                (c.get("status", "") for c in status.get("conditions") or [] if c.get("type") == "Ready"), ""
            )
            meta = obj.get("metadata") or {}
            rows.append(
                Row(
                    kind=definition.kind,
                    name=meta.get("name", ""),
                    phase=status.get("phase") or "-",
                    ready=ready or "-",
                    remote_id=status.get("externalId") or "-",
                    expected=(meta.get("annotations") or {}).get(EXPECT_ANNOTATION, ""),
                    message=status.get("message") or "",
                )
            )
    return sorted(rows, key=lambda r: (r.kind, r.name))


def render(rows: list[Row], elapsed: float) -> str:
    header = ("KIND", "NAME", "PHASE", "READY", "REMOTE-ID", "EXPECTED", "MESSAGE")
    table = [header] + [
        (r.kind, r.name, r.phase, r.ready, r.remote_id, r.expected or "-", r.message[:70]) for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in table]
    return f"[{elapsed:5.1f}s]\n" + "\n".join(lines)


async def run_sandbox(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    examples = Path(args.examples) if args.examples else Path.cwd() / "examples"
    if not examples.is_dir():
        print(
            f"no examples directory at {examples} (run from the repository root or pass --examples)", file=out
        )
        return 2
    manifests = load_examples(examples)
    log_path = Path(args.kubeconfig).parent / "operator.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _log_to(log_path)
    async with local_stack(cluster_port=args.port, stage_seconds=2.0) as stack:
        script_sandbox_world(stack)
        kubeconfig = stack.cluster.write_kubeconfig(args.kubeconfig)
        print(f"{'emulated Kubernetes API:':<25}{stack.cluster.url}", file=out)
        for label, fake in (
            ("fake Twilio Autopilot", stack.autopilot.url),
            ("fake Twilio Assistants", stack.assistants.url),
            ("fake Models API", stack.models_api.url),
            ("fake DataRobot", stack.datarobot.url),
        ):
            print(f"{label + ':':<25}{fake}", file=out)
        print(
            f"kubeconfig: {kubeconfig}  (try: KUBECONFIG={kubeconfig} kubectl get modelops -o wide)", file=out
        )
        print(f"operator log: {log_path}", file=out)
        async with stack.operator() as operator:
            for manifest in manifests:
                await stack.cluster.apply(manifest)
            print(f"applied {len(manifests)} example manifests from {examples}", file=out)
            return await _watch(stack, args, out, log_path, operator)


SHOP_GRAPH = {"stg_orders": [], "orders": ["stg_orders"], "revenue": ["orders"]}


def script_sandbox_world(stack: Stack[EmulatedCluster]) -> None:
    """What the fakes do for the examples: names that say "broken" fail, everything else succeeds."""
    stack.autopilot.script("broken", outcome="failed", error_code=23001)
    stack.datarobot.script("broken", outcome="ERROR", message="The LLM blueprint has no LLM selected")
    stack.models_api.script(
        "^jaffle-shop$",
        models=SHOP_GRAPH,
        tests={"orders": [("not_null_order_id", "PASS"), ("unique_order_id", "PASS")]},
        rows_affected={"stg_orders": 1200, "orders": 1180, "revenue": 31},
    )
    stack.models_api.script(
        "broken",
        models=SHOP_GRAPH,
        fail_models={"orders"},
        tests={"stg_orders": [("not_null_order_id", "PASS"), ("accepted_status", "FAIL")]},
    )


PHASE_STYLES = {
    "Succeeded": "bold green",
    "Ready": "bold green",
    "Failed": "bold red",
    "Canceled": "red",
    "Running": "yellow",
    "Pending": "cyan",
    "Deleting": "magenta",
}


def rich_table(rows: list[Row], elapsed: float, kubeconfig: str, log_path: Path) -> Group:
    """The live view: the table with coloured phases, the elapsed time, and what a person tries next."""
    table = Table(title=f"modelops sandbox  [dim]{elapsed:5.1f}s[/dim]", title_justify="left", expand=False)
    for header in ("KIND", "NAME", "PHASE", "READY", "REMOTE-ID", "EXPECTED", "MESSAGE"):
        table.add_column(
            header, no_wrap=True, overflow="ellipsis", max_width=70 if header == "MESSAGE" else None
        )
    for r in rows:
        matches = "green" if r.as_expected else "red"
        table.add_row(
            r.kind,
            r.name,
            Text(r.phase, style=PHASE_STYLES.get(r.phase, "")),
            Text(r.ready, style="green" if r.ready == "True" else "dim"),
            r.remote_id,
            Text(r.expected or "-", style=matches if r.terminal and r.expected else "dim"),
            r.message,
        )
    kubectl = f"KUBECONFIG={kubeconfig} {_kubectl()}"
    hints = Text.assemble(
        ("Next, in another shell:\n", "bold"),
        (f"  {kubectl} get modelops -o wide", "cyan"),
        ("   (then: describe mb NAME)\n", "dim"),
        (f"  tail -f {log_path}", "cyan"),
        ("   (the operator's log)\n", "dim"),
        (f"  {kubectl} apply -f my-resource.yaml", "cyan"),
        ("   (your own manifest; Ctrl-C stops the sandbox)", "dim"),
    )
    return Group(table, hints)


def _kubectl() -> str:
    """The kubectl a person can paste: the repository's own (make installs it) when run from its root."""
    local = Path(".tools/bin/kubectl")
    return str(local) if local.is_file() else "kubectl"


async def _watch(
    stack: Stack[EmulatedCluster],
    args: argparse.Namespace,
    out: TextIO,
    log_path: Path,
    operator: OperatorHandle,
) -> int:
    if out.isatty() and not args.once:
        return await _watch_live(stack, args, out, log_path, operator)
    started = time.monotonic()
    last = ""
    while not operator.task.done():
        rows = snapshot(stack)
        elapsed = time.monotonic() - started
        table = render(rows, elapsed)
        body = table.split("\n", 1)[1]
        if body != last:
            print(table, file=out, flush=True)
        last = body
        if args.once:
            if rows and all(r.terminal for r in rows):
                return _verdict(rows, out)
            if elapsed > args.timeout:
                print(
                    f"timeout after {args.timeout:.0f}s: not every example reached a terminal phase", file=out
                )
                _verdict(rows, out)
                return 1
        await asyncio.sleep(1.0)
    print("the operator stopped; shutting the sandbox down", file=out)
    return 130


async def _watch_live(
    stack: Stack[EmulatedCluster],
    args: argparse.Namespace,
    out: TextIO,
    log_path: Path,
    operator: OperatorHandle,
) -> int:
    """Redraw in place until Ctrl-C (a terminal only: `--once` and pipes get plain lines)."""
    started = time.monotonic()
    console = Console(file=out)

    def view() -> Group:
        return rich_table(snapshot(stack), time.monotonic() - started, args.kubeconfig, log_path)

    with Live(view(), console=console, auto_refresh=False, transient=False) as live:
        # kopf takes Ctrl-C (SIGINT) and stops the operator; the sandbox ends with it.
        while not operator.task.done():
            await asyncio.sleep(1.0)
            live.update(view(), refresh=True)
    print("the operator stopped; shutting the sandbox down", file=out)
    return 130


def _verdict(rows: list[Row], out: TextIO) -> int:
    wrong = [r for r in rows if not r.as_expected]
    for row in wrong:
        print(f"UNEXPECTED: {row.kind}/{row.name} is {row.phase}, expected {row.expected}", file=out)
    if not wrong:
        print(f"all {len(rows)} examples reached their expected phase", file=out)
    return 1 if wrong else 0


def _log_to(path: Path) -> None:
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def main(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_sandbox(args))
    except KeyboardInterrupt:
        return 130
