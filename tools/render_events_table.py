"""Render the README's Events table from operator/modelops_operator/core/events.py.

python tools/render_events_table.py          # rewrite the table in README.md
python tools/render_events_table.py --check  # exit 1 if README.md's table is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelops_operator.core.events import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- events-table -->"


def rendered(text: str) -> str:
    before, _, rest = text.partition(MARKER)
    _, _, after = rest.partition(MARKER)
    if not rest:
        raise SystemExit(f"README.md has no {MARKER} markers")
    return f"{before}{MARKER}\n{markdown_table()}\n{MARKER}{after}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    current = README.read_text()
    wanted = rendered(current)
    if args.check:
        if current != wanted:
            print(
                "README.md's Events table is stale: run python tools/render_events_table.py", file=sys.stderr
            )
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
