"""End to end on a kind cluster (`make e2e`; needs a Docker engine and kind): build both images (the operator's,
and the sandbox's for the fakes), load them, run the fakes in the cluster, install the chart pointed at them, apply the examples, wait for Ready.

Environment: E2E_CLUSTER (kind cluster name, default modelops-e2e), E2E_IMAGE (default modelops-operator:e2e),
E2E_FAKES_IMAGE (default modelops-sandbox:e2e),
E2E_KEEP=1 keeps the cluster afterwards for a look around (delete it with `kind delete cluster --name ...`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chart.helpers import CHART, REPO, find_tool

pytestmark = pytest.mark.e2e

CLUSTER = os.environ.get("E2E_CLUSTER", "modelops-e2e")
IMAGE = os.environ.get("E2E_IMAGE", "modelops-operator:e2e")
FAKES_IMAGE = os.environ.get("E2E_FAKES_IMAGE", "modelops-sandbox:e2e")
NAMESPACE = "modelops-system"
FAKES = "http://modelops-fakes"


def _docker_problem() -> str | None:
    docker = find_tool("docker")
    if docker is None:
        return "docker is not installed"
    try:
        result = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        return f"`docker info` failed (no Docker engine): {reason[-1] if reason else result.returncode}"
    return None


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    reasons = []
    problem = _docker_problem()
    if problem is not None:
        reasons.append(f"no usable Docker engine ({problem})")
    if find_tool("kind") is None:
        reasons.append("kind is not installed (https://kind.sigs.k8s.io)")
    missing = [name for name in ("kubectl", "helm") if find_tool(name) is None]
    if missing:
        reasons.append(f"not installed: {', '.join(missing)} (`make e2e` installs them into .tools/bin)")
    if reasons:
        pytest.skip("the kind e2e test needs Docker, kind, kubectl and helm: " + "; ".join(reasons))
    found = {name: find_tool(name) for name in ("kind", "kubectl", "helm", "docker")}
    return {name: path for name, path in found.items() if path is not None}


def run(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, env=env, check=False, cwd=REPO
    )
    assert result.returncode == 0, (
        f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def kubeconfig(tools: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kind") / "kubeconfig"
    existing = run(tools["kind"], "get", "clusters").split()
    if CLUSTER in existing:
        run(tools["kind"], "export", "kubeconfig", "--name", CLUSTER, "--kubeconfig", str(path))
    else:
        run(
            tools["kind"], "create", "cluster", "--name", CLUSTER, "--kubeconfig", str(path), "--wait", "180s"
        )
    try:
        yield path
    finally:
        if os.environ.get("E2E_KEEP") != "1" and CLUSTER not in existing:
            run(tools["kind"], "delete", "cluster", "--name", CLUSTER, timeout=300)


def test_chart_on_kind_reconciles_the_examples(tools: dict[str, str], kubeconfig: Path) -> None:
    kubectl = (tools["kubectl"], f"--kubeconfig={kubeconfig}")
    run(tools["docker"], "build", "--tag", IMAGE, str(REPO), timeout=1200)
    run(tools["kind"], "load", "docker-image", IMAGE, "--name", CLUSTER)
    sandbox_dockerfile = str(REPO / "sandbox" / "Dockerfile")
    run(tools["docker"], "build", "--file", sandbox_dockerfile, "--tag", FAKES_IMAGE, str(REPO), timeout=1200)
    run(tools["kind"], "load", "docker-image", FAKES_IMAGE, "--name", CLUSTER)
    repository, _, tag = IMAGE.rpartition(":")

    namespace = kubeconfig.parent / "namespace.yaml"
    namespace.write_text(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n")
    run(*kubectl, "apply", "-f", str(namespace))
    # The fakes run from the sandbox's image: `modelops-sandbox fakes`.
    fakes = (REPO / "deploy" / "e2e" / "fakes.yaml").read_text().replace("modelops-sandbox:e2e", FAKES_IMAGE)
    manifest = kubeconfig.parent / "fakes.yaml"
    manifest.write_text(fakes)
    run(*kubectl, "--namespace", NAMESPACE, "apply", "-f", str(manifest))
    run(
        *kubectl, "--namespace", NAMESPACE, "rollout", "status", "deployment/modelops-fakes", "--timeout=180s"
    )

    run(
        tools["helm"], "upgrade", "--install", "modelops", str(CHART), "--kubeconfig", str(kubeconfig),
        "--namespace", NAMESPACE, "--wait", "--timeout", "180s",
        "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
        "--set", "image.pullPolicy=Never",
        "--set", f"config.upstreams.twilioAutopilotUrl={FAKES}:8001",
        "--set", f"config.upstreams.twilioAssistantsUrl={FAKES}:8002",
        "--set", f"config.upstreams.modelsApiUrl={FAKES}:8003",
        "--set", f"config.upstreams.datarobotUrl={FAKES}:8004",
        "--set", "config.pollIntervalSeconds=1",
        "--set", "config.logLevel=DEBUG",
    )  # fmt: skip
    run(
        *kubectl,
        "--namespace",
        NAMESPACE,
        "rollout",
        "status",
        "deployment/modelops-modelops-operator",
        "--timeout=180s",
    )

    run(*kubectl, "--namespace", "default", "apply", "-f", str(REPO / "examples"))
    run(
        *kubectl,
        "--namespace",
        "default",
        "wait",
        "--for=condition=Ready",
        "modelbuild/support-bot",
        "--timeout=180s",
    )
    run(
        *kubectl, "--namespace", "default", "wait", "--for=condition=Stalled",
        "modelbuild/broken-training-data", "--timeout=180s",
    )  # fmt: skip
    table = run(*kubectl, "--namespace", "default", "get", "modelops", "-o", "wide")
    assert "support-bot" in table and "Succeeded" in table, table

    # Deletion through the finalizer: the remote build is removed and the resource goes away.
    run(*kubectl, "--namespace", "default", "delete", "modelbuild/support-bot", "--timeout=120s")
    run(
        tools["helm"],
        "uninstall",
        "modelops",
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        NAMESPACE,
        "--wait",
    )
