"""What only a real API server can show: status pruning, `kubectl explain`, and server-side apply with field
managers beside the operator's own writes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops_sandbox.runner import EXPECT_ANNOTATION, load_examples, script_sandbox_world
from modelops_sandbox.stack import Stack
from tests.integration.conftest import (
    ASSISTANT,
    MB,
    PLURAL,
    create_secret,
    get_mb,
    wait_phase,
)
from tests.support.realcluster import RealCluster, tool
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
PLURALS = {"ModelBuild": "modelbuilds", "ModelRun": "modelruns", "AssistantTool": "assistanttools"}


@pytest.fixture
def real(stack: Stack[Any]) -> Stack[RealCluster]:
    if not isinstance(stack.cluster, RealCluster):
        pytest.skip("real control plane unavailable: this test is about the real API server")
    return stack  # type: ignore[return-value]


def pruned(sent: Any, stored: Any, path: str = "status") -> list[str]:
    """Where a merge patch that was sent is not in what the server stored (dropped by schema pruning)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path]
        missing = []
        for key, value in sent.items():
            if value is None:
                if key in stored:
                    missing.append(f"{path}.{key} (should be removed)")
            else:
                missing += pruned(value, stored.get(key), f"{path}.{key}")
        return missing
    return [] if sent == stored else [f"{path} (sent {sent!r}, stored {stored!r})"]


async def test_nothing_the_operator_writes_into_status_is_pruned(
    real: Stack[RealCluster], status_writes: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    writes = status_writes
    script_sandbox_world(real)  # type: ignore[arg-type]
    manifests = load_examples(REPO / "examples")
    async with real.operator():
        for manifest in manifests:
            await real.apply(manifest)
        for manifest in manifests:
            if manifest["kind"] in PLURALS:
                expected = manifest["metadata"]["annotations"][EXPECT_ANNOTATION]
                await wait_phase(
                    real, manifest["metadata"]["name"], expected, plural=PLURALS[manifest["kind"]]
                )
    kinds_written = {tuple(sorted(sent)) for sent, _ in writes}
    assert len(writes) >= 10 and len(kinds_written) > 3, "the lifecycle wrote too little to prove anything"
    lost = [where for sent, stored in writes for where in pruned(sent, stored)]
    assert lost == []


def kubectl(real: Stack[RealCluster], tmp_path: Path, *args: str, stdin: str | None = None) -> str:
    kubeconfig = real.cluster.write_kubeconfig(tmp_path / "kubeconfig", namespace=real.namespace)
    result = subprocess.run(
        [tool("kubectl"), f"--kubeconfig={kubeconfig}", *args],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_kubectl_explain_documents_the_fields(real: Stack[RealCluster], tmp_path: Path) -> None:
    text = kubectl(real, tmp_path, "explain", "modelbuild.spec.twilioAutopilot")
    assert (
        "GROUP:      modelops.dev" in text
        and "KIND:       ModelBuild" in text
        and "VERSION:    v1alpha1" in text
    )
    assert "assistantSid\t<string> -required-" in text
    assert "The Autopilot assistant that owns the build. Immutable." in text
    assert "statusCallback\t<string>" in text and "uniqueName\t<string>" in text
    status = kubectl(real, tmp_path, "explain", "modelbuild.status.conditions")
    assert "observedGeneration" in status and "lastTransitionTime" in status


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{entry['manager']}/{entry['operation']}" + (f"/{entry['subresource']}" if entry.get("subresource") else ""):
            entry.get("fieldsV1", {})
        for entry in obj["metadata"].get("managedFields", [])
    }  # fmt: skip


async def test_server_side_apply_by_people_and_argo_cd_beside_the_operator(
    real: Stack[RealCluster], tmp_path: Path
) -> None:
    await create_secret(real)
    manifest = {
        "apiVersion": MB,
        "kind": "ModelBuild",
        "metadata": {"name": "shared", "namespace": real.namespace},
        "spec": {
            "twilioAutopilot": {"assistantSid": ASSISTANT, "uniqueName": "shared-v1"},
            "credentialsSecretRef": {"name": "twilio"},
            "polling": {"intervalSeconds": 1},
        },
    }
    async with real.operator():
        kubectl(real, tmp_path, "apply", "--server-side", "--field-manager=platform-team", "-f", "-",
                stdin=yaml.safe_dump(manifest))  # fmt: skip
        done = await wait_phase(real, "shared", "Succeeded")
        sid = done["status"]["externalId"]

        # Argo CD syncs the same manifest with its own field manager and a label of its own: no conflict with
        # what the operator wrote (finalizer, annotations, status), and none of it is taken away.
        argo = {
            **manifest,
            "metadata": {**manifest["metadata"], "labels": {"app.kubernetes.io/instance": "bots"}},
        }
        kubectl(real, tmp_path, "apply", "--server-side", "--field-manager=argocd-controller", "-f", "-",
                stdin=yaml.safe_dump(argo))  # fmt: skip
        after = await get_mb(real, "shared")
        assert after is not None
        assert after["metadata"]["annotations"]["modelops.dev/external-id"] == sid
        assert "modelops.dev/finalizer" in after["metadata"]["finalizers"]
        assert after["status"]["phase"] == "Succeeded"

        # Argo CD syncs a renamed build. The field is co-owned by the first applier, so Kubernetes asks for
        # --force-conflicts (a rule between appliers, as Argo CD's own docs describe); no field of the operator
        # is involved, and the operator renames the remote build.
        spec = {**manifest["spec"], "twilioAutopilot": {"assistantSid": ASSISTANT, "uniqueName": "shared-v2"}}
        renamed = yaml.safe_dump({**argo, "spec": spec})
        kubectl(real, tmp_path, "apply", "--server-side", "--field-manager=argocd-controller", "--force-conflicts",
                "-f", "-", stdin=renamed)  # fmt: skip

        async def synced() -> bool:
            obj = await get_mb(real, "shared") or {}
            status = obj.get("status") or {}
            return (status.get("twilioAutopilot") or {}).get("uniqueName") == "shared-v2" and status.get(
                "observedGeneration"
            ) == obj["metadata"]["generation"]

        await eventually(synced, what="the rename to reach the remote build and the status")
    final = await real.cluster.get(MB, PLURAL, real.namespace, "shared")
    owners = managers(final)
    # The operator's status writes are its own, on the status subresource; spec belongs to the appliers.
    status_owners = [name for name in owners if name.endswith("/status")]
    assert status_owners and all(name.startswith("modelops-operator/") for name in status_owners), owners
    assert "f:spec" in owners["argocd-controller/Apply"]
    assert not any(
        "f:spec" in fields for name, fields in owners.items() if name.startswith("modelops-operator/")
    )
    assert stack_remote_name(real, sid) == "shared-v2"


def stack_remote_name(real: Stack[RealCluster], sid: str) -> str:
    return str((real.autopilot.build(ASSISTANT, sid) or {}).get("unique_name"))
