"""Copy the Grafana dashboards (deploy/grafana/*.json) into the Helm chart (deploy/helm/modelops-operator/dashboards/).

deploy/grafana/ holds the canonical dashboards (import them into Grafana by hand, or let the chart ship them).
Helm templates can only read files inside the chart, so the chart keeps a verbatim copy that
templates/dashboards.yaml puts in a ConfigMap for Grafana's dashboard sidecar. Run this after editing a
dashboard; tests/chart/test_observability_assets.py fails while the copies differ.

Usage: python tools/sync_chart_dashboard.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "deploy" / "grafana"
TARGET = REPO / "deploy" / "helm" / "modelops-operator" / "dashboards"
PATTERN = "*.json"


def _contents(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {path.name: path.read_bytes() for path in sorted(directory.glob(PATTERN))}


def differences(source: Path = SOURCE, target: Path = TARGET) -> list[str]:
    """What a sync would change, one line per file (empty when the chart's copies are up to date)."""
    wanted, present = _contents(source), _contents(target)
    changes = [f"missing: {name}" for name in wanted if name not in present]
    changes += [f"differs: {name}" for name in wanted if name in present and present[name] != wanted[name]]
    changes += [f"stale: {name}" for name in present if name not in wanted]
    return changes


def sync(source: Path = SOURCE, target: Path = TARGET) -> list[str]:
    """Make the chart's copies equal to the sources; return what changed."""
    changes = differences(source, target)
    wanted = _contents(source)
    target.mkdir(parents=True, exist_ok=True)
    for path in target.glob(PATTERN):
        if path.name not in wanted:
            path.unlink()
    for name, content in wanted.items():
        (target / name).write_bytes(content)
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report differences; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        changes = differences()
        for line in changes:
            print(line)
        if changes:
            print(f"the chart's dashboards are out of date: run python {Path(__file__).relative_to(REPO)}")
        return 1 if changes else 0
    for line in sync():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
