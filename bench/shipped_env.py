"""The operator as its image ships it: a virtualenv holding only the operator distribution and its declared
dependencies (none of the development or sandbox packages).

Measured in the development venv, the operator's memory would include what it never ships with: kopf imports
the `kubernetes` client when it is installed, and httpx its command-line tool (click, rich, pygments) — about
16 MiB of resident memory before the first resource. The venv is an editable install, so it follows the
checkout, and it is kept in the per-user cache, keyed by the operator's packaging metadata.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelops-operator"


def operator_executable(progress: Callable[[str], None] | None = None) -> Path:
    """`modelops-operator` of the shipped-dependencies venv, created on first use (about 15 s)."""
    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:12]
    venv = cache_root() / f"bench-operator-{key}"
    executable = venv / "bin" / "modelops-operator"
    stamp = venv / ".installed"
    if stamp.is_file() and executable.is_file():
        return executable
    if progress is not None:
        progress(f"creating the operator's shipped environment in {venv} (once)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--editable", str(REPO)], check=True)
    stamp.write_text(key)
    return executable
