"""Copy the generated CRDs (deploy/crds/*.yaml) into the Helm chart (deploy/helm/modelops-operator/crds-source/).

Helm templates can only read files inside the chart, so the chart keeps a verbatim copy that templates/crds.yaml
renders (with the keep-policy annotation). Run this after `make crds`; tests/chart/test_chart.py fails while the
copies differ.

Usage: python tools/sync_chart_crds.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "deploy" / "crds"
TARGET = REPO / "deploy" / "helm" / "modelops-operator" / "crds-source"


def differences(source: Path = SOURCE, target: Path = TARGET) -> list[str]:
    """What a sync would change, one line per file (empty when the chart's copies are up to date)."""
    wanted = {path.name: path.read_bytes() for path in sorted(source.glob("*.yaml"))}
    present = (
        {path.name: path.read_bytes() for path in sorted(target.glob("*.yaml"))} if target.is_dir() else {}
    )
    changes = [f"missing: {name}" for name in wanted if name not in present]
    changes += [f"differs: {name}" for name in wanted if name in present and present[name] != wanted[name]]
    changes += [f"stale: {name}" for name in present if name not in wanted]
    return changes


def sync(source: Path = SOURCE, target: Path = TARGET) -> list[str]:
    changes = differences(source, target)
    target.mkdir(parents=True, exist_ok=True)
    for path in target.glob("*.yaml"):
        if not (source / path.name).exists():
            path.unlink()
    for path in source.glob("*.yaml"):
        (target / path.name).write_bytes(path.read_bytes())
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
            print(f"the chart's CRDs are out of date: run python {Path(__file__).relative_to(REPO)}")
        return 1 if changes else 0
    for line in sync():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
