"""Two products in one repository: the operator's wheel carries the operator only, the sandbox its own.

The wheels are built the way the Dockerfile builds them (`pip wheel --no-deps`), once per test session.
"""

from __future__ import annotations

import ast
import email
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.chart.helpers import REPO

OPERATOR_SOURCE = REPO / "operator" / "modelops_operator"
# What the operator runs (pyproject.toml says why each is there); anything else in the image is a finding.
OPERATOR_RUNTIME = {"kopf", "httpx", "sniffio", "pydantic", "prometheus-client", "aiohttp", "pyyaml"}
SANDBOX_ONLY = {"kmock", "rich"}


def _build_wheel(project: Path, into: Path) -> Path:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(into),
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Packaging metadata must build without warnings (a fresh `make sandbox` shows them otherwise).
    assert "Warning" not in result.stderr, result.stderr
    (wheel,) = into.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def operator_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(REPO, tmp_path_factory.mktemp("operator-wheel"))


@pytest.fixture(scope="module")
def sandbox_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(REPO / "sandbox", tmp_path_factory.mktemp("sandbox-wheel"))


def _requirements(wheel: Path) -> dict[str, str]:
    """Requires-Dist of the wheel without extras: {normalized name: full requirement}."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        message = email.message_from_bytes(archive.read(metadata))
    found = {}
    for requirement in message.get_all("Requires-Dist") or []:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
        found[name.lower().replace("_", "-")] = requirement
    return found


def test_the_operator_wheel_depends_on_what_the_operator_runs_only(operator_wheel: Path) -> None:
    requirements = _requirements(operator_wheel)
    assert set(requirements) == OPERATOR_RUNTIME, requirements


def test_the_operator_wheel_holds_no_sandbox_module(operator_wheel: Path) -> None:
    with zipfile.ZipFile(operator_wheel) as archive:
        names = archive.namelist()
    modules = [name for name in names if name.endswith(".py")]
    assert modules and all(name.startswith("modelops_operator/") for name in modules), modules
    machinery = [name for name in names if re.search(r"sandbox|fakes?[/_.]|emulat|kmock", name)]
    assert machinery == []


def test_the_sandbox_wheel_is_its_own_product(sandbox_wheel: Path) -> None:
    requirements = _requirements(sandbox_wheel)
    assert "modelops-operator" in requirements
    assert set(requirements) >= SANDBOX_ONLY
    with zipfile.ZipFile(sandbox_wheel) as archive:
        names = archive.namelist()
    assert all(name.startswith(("modelops_sandbox/", "modelops_sandbox-")) for name in names), (
        "the sandbox wheel carries something else"
    )
    assert "modelops_sandbox/specs/twilio_autopilot_v1.json" in names
    assert any(name.endswith("licenses/src/modelops_sandbox/specs/LICENSE-twilio-oai.txt") for name in names)
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    with zipfile.ZipFile(sandbox_wheel) as archive:
        assert "modelops-sandbox = modelops_sandbox.cli:main" in archive.read(entry_points).decode()


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"modelops_sandbox(\.\w+)*", node.value)
        ):
            found.append(node.value)  # importlib.import_module("modelops_sandbox...") and the like
    return found


def test_the_operator_never_imports_the_sandbox() -> None:
    offenders = {
        str(path.relative_to(REPO)): module
        for path in OPERATOR_SOURCE.rglob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[0] in {"modelops_sandbox", "kmock"}
    }
    assert offenders == {}


def test_the_import_check_sees_an_import(tmp_path: Path) -> None:
    # The check above must be able to fail: it finds each form of import.
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import modelops_sandbox.stack\n"
        "from modelops_sandbox.fakes import TwilioAutopilotFake\n"
        "importlib.import_module('modelops_sandbox.runner')\n"
    )
    assert _imported_modules(sample) == [
        "modelops_sandbox.stack",
        "modelops_sandbox.fakes",
        "modelops_sandbox.runner",
    ]


def test_the_operator_alias_says_what_to_install_without_the_sandbox(tmp_path: Path) -> None:
    # An environment where the modelops-sandbox command cannot be found: only the operator is "installed".
    script = (
        "import shutil, sys\n"
        "from modelops_operator import cli\n"
        "shutil.which = lambda name: None\n"
        "cli._beside_interpreter = lambda name: None\n"
        "sys.exit(cli.main(['sandbox', '--once']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "pip install modelops-sandbox" in result.stderr


def test_the_operator_alias_hands_over_to_the_sandbox_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "modelops_operator.cli", "fakes", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: modelops-sandbox fakes")
