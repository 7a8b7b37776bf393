"""What a user sees with the real kubectl: the category, the printer columns, `kubectl wait`, `kubectl describe`.

Against the emulated cluster, first with statuses written through the API, then with the real operator
reconciling the examples against the fake upstreams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops_sandbox.cluster import EmulatedCluster
from modelops_sandbox.stack import Stack, local_stack
from tests.chart.helpers import CRDS, REPO, Cli, require_tool
from tests.support.waiting import eventually

EXAMPLES = REPO / "examples"
MB = "modelops.dev/v1alpha1"


def kubectl_for(cluster: EmulatedCluster, home: Path) -> Cli:
    kubeconfig = cluster.write_kubeconfig(home / "kubeconfig")
    return Cli(
        require_tool("kubectl"),
        home,
        f"--kubeconfig={kubeconfig}",
        f"--cache-dir={home / 'kube-cache'}",
        "--request-timeout=20s",
    )


def write(tmp_path: Path, name: str, *docs: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def modelrun(name: str) -> dict[str, Any]:
    return {
        "apiVersion": MB,
        "kind": "ModelRun",
        "metadata": {"name": name},
        "spec": {
            "modelsApi": {"projectName": "analytics", "modelNames": ["orders"]},
            "credentialsSecretRef": {"name": "models-api"},
        },
    }


def assistanttool(name: str) -> dict[str, Any]:
    return {
        "apiVersion": MB,
        "kind": "AssistantTool",
        "metadata": {"name": name},
        "spec": {
            "name": name,
            "type": "WEBHOOK",
            "meta": {"url": "https://tools.example.com/orders", "method": "POST"},
            "credentialsSecretRef": {"name": "twilio"},
        },
    }


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def columns(header: str) -> list[str]:
    return header.split()


def ready_status(kind: str, **extra: Any) -> dict[str, Any]:
    now = "2025-01-01T00:00:00Z"
    return {
        "status": {
            "phase": "Succeeded",
            "observedGeneration": 1,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Succeeded",
                    "message": "done",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Reconciling",
                    "status": "False",
                    "reason": "Done",
                    "message": "",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Stalled",
                    "status": "False",
                    "reason": "Done",
                    "message": "",
                    "lastTransitionTime": now,
                },
            ],
            **extra,
        }
    }


@pytest.fixture
async def cluster() -> AsyncIterator[EmulatedCluster]:
    async with EmulatedCluster() as emulated:
        yield emulated


async def test_crds_apply_and_the_modelops_category(cluster: EmulatedCluster, tmp_path: Path) -> None:
    kubectl = kubectl_for(cluster, tmp_path)
    out = await kubectl("apply", "--validate=false", "-f", str(CRDS))
    for plural in ("modelbuilds", "modelruns", "assistanttools"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{plural}.modelops.dev created" in out
    out = await kubectl("apply", "--validate=false", "-f", str(EXAMPLES))
    assert "modelbuild.modelops.dev/support-bot created" in out
    await kubectl(
        "apply", "--validate=false", "-f",
        write(tmp_path, "more.yaml", modelrun("nightly-orders"), assistanttool("lookup-order")),
    )  # fmt: skip

    out = await kubectl("get", "modelops")
    for name in (
        "modelbuild.modelops.dev/support-bot",
        "modelbuild.modelops.dev/broken-training-data",
        "modelrun.modelops.dev/nightly-orders",
        "assistanttool.modelops.dev/lookup-order",
    ):
        assert name in out, out
    # short names
    assert "support-bot" in await kubectl("get", "mb")
    assert "nightly-orders" in await kubectl("get", "mr")
    assert "lookup-order" in await kubectl("get", "atool")


async def test_get_mb_wide_columns(cluster: EmulatedCluster, tmp_path: Path) -> None:
    kubectl = kubectl_for(cluster, tmp_path)
    await kubectl("apply", "--validate=false", "-f", str(CRDS))
    await kubectl("apply", "--validate=false", "-f", str(EXAMPLES))

    header, *_ = (await kubectl("get", "mb")).strip().splitlines()
    assert columns(header) == ["NAME", "READY", "PHASE", "REMOTE-ID", "AGE"]
    await cluster.patch(
        MB, "modelbuilds", "default", "support-bot",
        ready_status("ModelBuild", externalId="UG" + "2" * 32, remoteStatus="completed", message="Build completed"),
        subresource="status",
    )  # fmt: skip
    wide = (await kubectl("get", "mb", "-o", "wide")).strip().splitlines()
    assert columns(wide[0]) == ["NAME", "READY", "PHASE", "REMOTE-ID", "REMOTE-STATUS", "MESSAGE", "AGE"]
    row = next(line for line in wide[1:] if line.startswith("support-bot"))
    assert row.split()[:6] == ["support-bot", "True", "Succeeded", "UG" + "2" * 32, "completed", "Build"]
    assert "Build completed" in row


async def test_wait_for_ready_while_the_status_changes(cluster: EmulatedCluster, tmp_path: Path) -> None:
    kubectl = kubectl_for(cluster, tmp_path)
    await kubectl("apply", "--validate=false", "-f", str(CRDS))
    await kubectl("apply", "--validate=false", "-f", str(EXAMPLES))
    waiting = await kubectl.start("wait", "--for=condition=Ready", "mb/support-bot", "--timeout=30s")
    # kubectl wait lists then watches the object: patch only once its watch is open
    await eventually(
        lambda: any(
            r.method == "GET" and r.params.get("watch") in ("true", "1") and "modelbuilds" in str(r.url)
            for r in list(cluster.emulator)
        ),
        timeout=20,
        what="kubectl wait to watch the ModelBuild",
    )
    await cluster.patch(
        MB, "modelbuilds", "default", "support-bot", ready_status("ModelBuild"), subresource="status"
    )
    code, out, err = await kubectl.finish(waiting, within=30)
    assert code == 0, err
    assert "modelbuild.modelops.dev/support-bot condition met" in out


# ------------------------------------------------------------------------------ with the real operator


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with local_stack(
        stage_seconds=0.3,
        poll_interval_seconds=0.2,
        drift_interval_seconds=1.0,
        backoff_base_seconds=0.05,
        backoff_max_seconds=1.0,
        http_timeout_seconds=2.0,
    ) as running:
        # The sandbox's scripted world: builds whose unique name says "broken" fail with error 23001.
        running.autopilot.script("broken", outcome="failed", error_code=23001)
        yield running


async def test_the_operator_through_kubectl(stack: Stack, tmp_path: Path) -> None:
    kubectl = kubectl_for(stack.cluster, tmp_path)
    # local_stack installed the CRDs from the same models; applying deploy/crds/ is what a user does.
    await kubectl("apply", "--validate=false", "-f", str(CRDS))
    async with stack.operator():
        out = await kubectl("apply", "--validate=false", "-f", str(EXAMPLES))
        assert "modelbuild.modelops.dev/support-bot created" in out

        out = await kubectl("wait", "--for=condition=Ready", "mb/support-bot", "--timeout=60s", within=70)
        assert "modelbuild.modelops.dev/support-bot condition met" in out
        out = await kubectl(
            "wait", "--for=condition=Stalled", "mb/broken-training-data", "--timeout=60s", within=70
        )
        assert "condition met" in out

        wide = rows(await kubectl("get", "mb", "-o", "wide"))
        assert wide[0] == ["NAME", "READY", "PHASE", "REMOTE-ID", "REMOTE-STATUS", "MESSAGE", "AGE"]
        support = next(r for r in wide if r[0] == "support-bot")
        assert (
            support[1:3] == ["True", "Succeeded"]
            and support[3].startswith("UG")
            and support[4] == "completed"
        )
        broken = next(r for r in wide if r[0] == "broken-training-data")
        assert broken[1:3] == ["False", "Failed"] and broken[4] == "failed"

        assert "modelbuild.modelops.dev/support-bot" in await kubectl("get", "modelops")

        described = await kubectl("describe", "mb", "support-bot")
        assert "Events:" in described
        events = described.split("Events:", 1)[1]
        assert "<none>" not in events.splitlines()[0], described
        assert "Normal" in events, described
        broken_events = (await kubectl("describe", "mb", "broken-training-data")).split("Events:", 1)[1]
        assert "Warning" in broken_events and "23001" in broken_events, broken_events
