"""The Events catalogue (core/events.py, the README's table) is what the code posts, and nothing else."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from modelops_operator.core.events import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "operator" / "modelops_operator"
TYPES = ("Normal", "Warning")
# Calls that post an Event or set a Stalled reason (posted as a Warning when it turns True): the index of the
# reason among the positional arguments, and the type's index (None: always Warning).
EMITTERS = {"_event": (2, 1), "events": (2, 1), "EventSpec": (1, 0)}
STALLS = {"stalled": 0, "_blocked": 1, "_credentials_stall": 2}


def constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def emitted(tree: ast.AST) -> set[tuple[str, str]]:
    """(reason, type) of every Event the code posts with literal values."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            args = [constant(arg) for arg in node.args]
            if name in EMITTERS:
                reason_at, type_at = EMITTERS[name]
                if len(args) > reason_at and args[reason_at] and args[type_at] in TYPES:
                    found.add((str(args[reason_at]), str(args[type_at])))
            if name in STALLS and len(args) > STALLS[name] and args[STALLS[name]]:
                found.add((str(args[STALLS[name]]), "Warning"))
        # Providers' transition events: ("Warning", "StepFailed", message)
        if isinstance(node, ast.Tuple) and len(node.elts) == 3:
            type_, reason = constant(node.elts[0]), constant(node.elts[1])
            if type_ in TYPES and reason:
                found.add((reason, str(type_)))
    return found


def sources() -> dict[Path, ast.AST]:
    return {path: ast.parse(path.read_text()) for path in SOURCE.rglob("*.py") if path.name != "events.py"}


def test_every_event_the_code_posts_is_in_the_catalogue_with_its_type() -> None:
    posted = set().union(*(emitted(tree) for tree in sources().values()))
    assert posted, "the scan found nothing: it is broken"
    wrong = {
        (reason, type_)
        for reason, type_ in posted
        if type_ not in CATALOGUE.get(reason, ("",)).type.split("/")
    }
    assert wrong == set()


def test_every_reason_in_the_catalogue_is_used_by_the_code() -> None:
    strings = {
        node.value
        for tree in sources().values()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert set(CATALOGUE) - strings == set()


def test_the_scan_sees_each_way_of_posting() -> None:
    sample = ast.parse(
        'self._event(view, "Normal", "Created", "m")\n'
        'st.stalled("Timeout", "m")\n'
        'EventSpec("Normal", "Recovered", "m")\n'
        'x = ("Warning", "StepFailed", "m")\n'
    )
    assert emitted(sample) == {
        ("Created", "Normal"),
        ("Timeout", "Warning"),
        ("Recovered", "Normal"),
        ("StepFailed", "Warning"),
    }


def test_the_readme_table_is_rendered_from_the_catalogue() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "render_events_table.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
