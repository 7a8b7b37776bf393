"""Shared helpers of the chart, Argo CD and kubectl-experience tests: paths, tools, `helm template`."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "modelops-operator"
CRDS = REPO / "deploy" / "crds"


def find_tool(name: str) -> str | None:
    """The binary on PATH, next to this interpreter (the venv), or in the repo's .tools/bin (`make` installs)."""
    search = os.pathsep.join(
        [os.environ.get("PATH", ""), str(Path(sys.executable).parent), str(REPO / ".tools" / "bin")]
    )
    return shutil.which(name, path=search)


def require_tool(name: str) -> str:
    binary = find_tool(name)
    if binary is None:
        pytest.skip(
            f"{name} is not installed (looked on PATH, next to the interpreter and in .tools/bin; "
            "`make test` installs it)"
        )
    return binary


def tool_env(home: Path) -> dict[str, str]:
    """A private HOME and XDG directories, so parallel runs never share helm's or kubectl's caches."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
    }


def helm_template(
    tmp_path: Path, *args: str, release: str = "modelops", namespace: str = "modelops-system"
) -> list[dict[str, Any]]:
    """`helm template` of the chart: the rendered manifests (hooks included), parsed."""
    result = run_helm(tmp_path, "template", release, str(CHART), "--namespace", namespace, *args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def run_helm(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    helm = require_tool("helm")
    return subprocess.run(
        [helm, *args], capture_output=True, text=True, env=tool_env(tmp_path), timeout=60, check=False
    )


def by_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m.get("kind") == kind]


def one(manifests: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


class Cli:
    """A command-line tool (kubectl, helm) run with asyncio against a kubeconfig, in a private HOME."""

    def __init__(self, binary: str, home: Path, *options: str) -> None:
        self.binary = binary
        self.home = home
        self.options = options

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            self.binary,
            *self.options,
            *args,
            env=tool_env(self.home),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    @staticmethod
    async def finish(process: asyncio.subprocess.Process, within: float = 60.0) -> tuple[int, str, str]:
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), within)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        assert process.returncode is not None
        return process.returncode, stdout.decode(), stderr.decode()

    async def __call__(self, *args: str, check: bool = True, within: float = 60.0) -> str:
        code, out, err = await self.finish(await self.start(*args), within)
        if check:
            assert code == 0, f"{Path(self.binary).name} {' '.join(args)} failed ({code}): {err}{out}"
        return out
