"""Every schema and CEL rule of the CRDs rejects its invalid manifest at admission, on a real API server, with
a message that names the field and says what is allowed (what `kubectl apply` shows a person).

Each case is applied with the real kubectl; transition rules (immutability) first create the valid object.
"""

from __future__ import annotations

import copy
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REAL, mark_backend
from tests.support.realcluster import NamespacePool, RealControlPlane, tool

ASSISTANT = "UA" + "a" * 32
SECRET = {"name": "creds"}


def autopilot() -> dict[str, Any]:
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelBuild",
        "metadata": {"name": "mb"},
        "spec": {"twilioAutopilot": {"assistantSid": ASSISTANT}, "credentialsSecretRef": SECRET},
    }


def datarobot() -> dict[str, Any]:
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelBuild",
        "metadata": {"name": "mb"},
        "spec": {"datarobot": {"llmBlueprintId": "65f0c0ffee00000000000001"}, "credentialsSecretRef": SECRET},
    }


def modelrun() -> dict[str, Any]:
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelRun",
        "metadata": {"name": "mr"},
        "spec": {"modelsApi": {"projectName": "shop"}, "credentialsSecretRef": SECRET},
    }


def tool_resource() -> dict[str, Any]:
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "AssistantTool",
        "metadata": {"name": "tool"},
        "spec": {
            "name": "lookup",
            "meta": {"url": "https://tools.example.com/x"},
            "assistantIds": ["aia_asst_01"],
            "credentialsSecretRef": SECRET,
        },
    }


@dataclass(frozen=True)
class Case:
    id: str
    base: Any  # () -> manifest
    change: dict[str, Any]  # dotted path -> new value (None deletes)
    expected: tuple[str, ...]  # fragments of kubectl's error: the field, and what is allowed
    update: bool = False  # apply the valid base first: the change is an update (transition rules)
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    # ModelBuild / twilioAutopilot
    Case("assistantSid-pattern", autopilot, {"spec.twilioAutopilot.assistantSid": "UA123"},
         ("spec.twilioAutopilot.assistantSid", "should match '^UA[0-9a-fA-F]{32}$'")),
    Case("assistantSid-required", autopilot, {"spec.twilioAutopilot.assistantSid": None},
         ("spec.twilioAutopilot.assistantSid", "Required value")),
    Case("uniqueName-too-long", autopilot, {"spec.twilioAutopilot.uniqueName": "x" * 65},
         ("spec.twilioAutopilot.uniqueName", "may not be more than 64")),
    Case("statusCallback-scheme", autopilot, {"spec.twilioAutopilot.statusCallback": "ftp://x"},
         ("spec.twilioAutopilot.statusCallback", "should match '^https?://'")),
    Case("assistantSid-immutable", autopilot, {"spec.twilioAutopilot.assistantSid": "UA" + "b" * 32},
         ("spec.twilioAutopilot.assistantSid", "assistantSid is immutable"), update=True),
    Case("statusCallback-immutable", autopilot, {"spec.twilioAutopilot.statusCallback": "https://cb.example.com"},
         ("spec.twilioAutopilot.statusCallback", "statusCallback is immutable"), update=True),
    Case("no-provider", autopilot, {"spec.twilioAutopilot": None},
         ("spec", "exactly one provider block must be set: twilioAutopilot, datarobot")),
    Case("two-providers", autopilot, {"spec.datarobot": {"llmBlueprintId": "bp"}},
         ("spec", "exactly one provider block must be set: twilioAutopilot, datarobot")),
    Case("provider-switch", autopilot, {"spec.twilioAutopilot": None, "spec.datarobot": {"llmBlueprintId": "bp"}},
         ("spec", "the provider block cannot be changed after creation: another provider needs a new"), update=True),
    Case("deletionPolicy-enum", autopilot, {"spec.deletionPolicy": "Keep"},
         ("spec.deletionPolicy", 'supported values: "Delete", "Orphan"')),
    Case("polling-minimum", autopilot, {"spec.polling": {"intervalSeconds": 0}},
         ("spec.polling.intervalSeconds", "should be greater than or equal to 1")),
    Case("credentials-required", autopilot, {"spec.credentialsSecretRef": None},
         ("spec.credentialsSecretRef", "Required value")),
    Case("unknown-field", autopilot, {"spec.twilioAutopilot.assistantSID": ASSISTANT},
         ('unknown field "spec.twilioAutopilot.assistantSID"',)),
    # ModelBuild / datarobot
    Case("llmBlueprintId-blank", datarobot, {"spec.datarobot.llmBlueprintId": "has space"},
         ("spec.datarobot.llmBlueprintId", "should match '^\\S+$'")),
    Case("datarobot-immutable", datarobot, {"spec.datarobot.promptColumnName": "other"},
         ("spec.datarobot", "spec.datarobot is immutable"), update=True),
    # ModelRun
    Case("projectName-spaces", modelrun, {"spec.modelsApi.projectName": "my shop"},
         ("spec.modelsApi.projectName", "should match '^\\S+$'")),
    Case("projectName-too-long", modelrun, {"spec.modelsApi.projectName": "p" * 256},
         ("spec.modelsApi.projectName", "may not be more than 255")),
    Case("modelrun-immutable", modelrun, {"spec.modelsApi.projectName": "other"},
         ("spec", "a ModelRun is immutable once created (only spec.deletionPolicy may change)"), update=True),
    # AssistantTool
    Case("tool-name-required", tool_resource, {"spec.name": None}, ("spec.name", "Required value")),
    Case("tool-type-enum", tool_resource, {"spec.type": "FUNCTION"}, ("spec.type", 'supported values: "WEBHOOK"')),
    Case("tool-method-enum", tool_resource, {"spec.meta.method": "PUT"},
         ("spec.meta.method", 'supported values: "GET", "POST"')),
    Case("tool-url-scheme", tool_resource, {"spec.meta.url": "tools.example.com"},
         ("spec.meta.url", "should match '^https?://'")),
    Case("tool-assistant-pattern", tool_resource, {"spec.assistantIds": ["asst_1"]},
         ("spec.assistantIds[0]", "should match '^aia_asst_'")),
    Case("tool-assistant-duplicates", tool_resource, {"spec.assistantIds": ["aia_asst_1", "aia_asst_1"]},
         ("spec.assistantIds[1]", "Duplicate value")),
    Case("tool-policy-details-required", tool_resource, {"spec.policy": {"name": "p"}},
         ("spec.policy.policyDetails", "Required value")),
]  # fmt: skip


def changed(manifest: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(manifest)
    for dotted, value in change.items():
        *parents, leaf = dotted.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return result


def kubectl_apply(
    plane: RealControlPlane, namespace: str, manifest: dict[str, Any], path: Path
) -> subprocess.CompletedProcess[str]:
    path.write_text(yaml.safe_dump(manifest))
    return subprocess.run(
        [tool("kubectl"), f"--kubeconfig={plane.control_plane.admin_kubeconfig}", "--namespace", namespace,
         "apply", "-f", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_api_server_rejects_the_invalid_manifest(
    request: pytest.FixtureRequest,
    real_control_plane: RealControlPlane,
    session_release: tuple[Any, NamespacePool],
    case: Case,
    tmp_path: Path,
) -> None:
    mark_backend(request, REAL)
    namespace = session_release[1].take()
    valid = case.base()
    if case.update:
        created = kubectl_apply(real_control_plane, namespace, valid, tmp_path / "valid.yaml")
        assert created.returncode == 0, created.stderr
    result = kubectl_apply(
        real_control_plane, namespace, changed(valid, case.change), tmp_path / "invalid.yaml"
    )
    assert result.returncode != 0, f"accepted: {result.stdout}"
    for fragment in case.expected:
        assert fragment in result.stderr, result.stderr
