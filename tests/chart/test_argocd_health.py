"""The Argo CD health check (deploy/argocd/health.lua), run with lupa on sample objects of every kind, and the
argocd-cm snippet generated from it."""

from __future__ import annotations

import copy
import importlib.util
from typing import Any

import pytest
import yaml

from tests.chart.helpers import CRDS, REPO

lupa = pytest.importorskip("lupa", reason="lupa (the Lua runtime for Python) is not installed")

ARGOCD = REPO / "deploy" / "argocd"
SCRIPT = (ARGOCD / "health.lua").read_text()
API_VERSION = "modelops.dev/v1alpha1"


def to_lua(runtime: Any, value: Any) -> Any:
    """A Python value as Argo CD hands it to Lua: dicts become tables, lists 1-based arrays, recursively."""
    if isinstance(value, dict):
        return runtime.table_from({key: to_lua(runtime, item) for key, item in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, item) for item in value])
    return value


def health(obj: dict[str, Any], script: str = SCRIPT) -> tuple[str, str]:
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = to_lua(runtime, obj)
    result = runtime.execute(script)
    return str(result["status"]), str(result["message"])


def condition(
    kind: str, status: str, reason: str = "", message: str = "", generation: int = 1
) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason or kind,
        "message": message,
        "lastTransitionTime": "2025-01-01T00:00:00Z",
        "observedGeneration": generation,
    }


SPECS: dict[str, dict[str, Any]] = {
    "ModelBuild": {
        "twilioAutopilot": {"assistantSid": "UA" + "1" * 32},
        "credentialsSecretRef": {"name": "twilio"},
    },
    "ModelRun": {
        "modelsApi": {"projectName": "analytics", "modelNames": ["orders"]},
        "credentialsSecretRef": {"name": "models-api"},
    },
    "AssistantTool": {
        "name": "lookup-order",
        "type": "WEBHOOK",
        "meta": {"url": "https://tools.example.com/orders", "method": "POST"},
        "credentialsSecretRef": {"name": "twilio"},
    },
}
READY_PHASE = {"ModelBuild": "Succeeded", "ModelRun": "Succeeded", "AssistantTool": "Ready"}


def sample(
    kind: str,
    *,
    conditions: list[dict[str, Any]] | None = None,
    generation: int = 1,
    observed: int | None = 1,
    phase: str = "Running",
    annotations: dict[str, str] | None = None,
    deleting: bool = False,
    status: bool = True,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {
            "name": f"sample-{kind.lower()}",
            "namespace": "default",
            "generation": generation,
            "annotations": annotations or {},
            "finalizers": ["modelops.dev/finalizer"],
        },
        "spec": copy.deepcopy(SPECS[kind]),
    }
    if deleting:
        obj["metadata"]["deletionTimestamp"] = "2025-01-01T01:00:00Z"
    if status:
        obj["status"] = {
            "phase": phase,
            "message": f"{kind} is {phase.lower()}",
            "conditions": conditions or [],
        }
        if observed is not None:
            obj["status"]["observedGeneration"] = observed
    return obj


def ready(kind: str) -> list[dict[str, Any]]:
    return [
        condition("Ready", "True", "Succeeded", f"{kind} is ready"),
        condition("Reconciling", "False"),
        condition("Stalled", "False"),
    ]


def reconciling(kind: str) -> list[dict[str, Any]]:
    return [
        condition("Ready", "False", "Reconciling"),
        condition("Reconciling", "True", "Building", f"{kind}: remote status building"),
        condition("Stalled", "False"),
    ]


def stalled(kind: str, ready_status: str = "False") -> list[dict[str, Any]]:
    return [
        condition("Ready", ready_status, "Failed"),
        condition("Reconciling", "False"),
        condition("Stalled", "True", "RemoteFailed", f"{kind}: the upstream reported failed (error 23001)"),
    ]


def cases(kind: str) -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (object, expected health) for one kind."""
    return {
        "ready": (sample(kind, conditions=ready(kind), phase=READY_PHASE[kind]), "Healthy"),
        "reconciling": (sample(kind, conditions=reconciling(kind)), "Progressing"),
        "stalled": (sample(kind, conditions=stalled(kind), phase="Failed"), "Degraded"),
        "stalled-wins-over-ready": (sample(kind, conditions=stalled(kind, "True")), "Degraded"),
        "no-status-yet": (sample(kind, status=False), "Progressing"),
        "empty-conditions": (sample(kind, conditions=[], phase="Pending"), "Progressing"),
        "generation-lags": (sample(kind, conditions=ready(kind), generation=2, observed=1), "Progressing"),
        "no-observed-generation": (sample(kind, conditions=ready(kind), observed=None), "Progressing"),
        "deleting": (sample(kind, conditions=ready(kind), deleting=True, phase="Deleting"), "Progressing"),
        "paused": (
            sample(kind, conditions=ready(kind), annotations={"modelops.dev/paused": "true"}),
            "Suspended",
        ),
        "paused-wins-over-stalled": (
            sample(kind, conditions=stalled(kind), annotations={"modelops.dev/paused": "true"}),
            "Suspended",
        ),
        "paused-false-is-not-paused": (
            sample(kind, conditions=ready(kind), annotations={"modelops.dev/paused": "false"}),
            "Healthy",
        ),
        "ready-false-only": (
            sample(kind, conditions=[condition("Ready", "False", "Pending")]),
            "Progressing",
        ),
    }


ALL_CASES = [(kind, name, *case) for kind in SPECS for name, case in cases(kind).items()]


@pytest.mark.parametrize(
    ("kind", "name", "obj", "expected"), ALL_CASES, ids=[f"{k}-{n}" for k, n, _, _ in ALL_CASES]
)
def test_health(kind: str, name: str, obj: dict[str, Any], expected: str) -> None:
    status, message = health(obj)
    assert status == expected, f"{kind} {name}: {status} ({message})"
    assert message


def test_messages_come_from_the_conditions() -> None:
    assert health(sample("ModelBuild", conditions=stalled("ModelBuild")))[1] == (
        "ModelBuild: the upstream reported failed (error 23001)"
    )
    assert health(sample("ModelRun", conditions=reconciling("ModelRun")))[1] == (
        "ModelRun: remote status building"
    )
    assert (
        "generation 3" in health(sample("AssistantTool", conditions=ready("AssistantTool"), generation=3))[1]
    )


def test_samples_are_valid_resources_of_their_crd() -> None:
    """The sample objects are shaped like real ones: their kinds exist and their spec keys are in the schema."""
    crds = {}
    for path in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        crds[crd["spec"]["names"]["kind"]] = crd
    assert set(crds) == set(SPECS)
    for kind, spec in SPECS.items():
        schema = crds[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert set(spec) <= set(schema["properties"]), kind


def load_renderer() -> Any:
    spec = importlib.util.spec_from_file_location("render_argocd_cm", REPO / "tools" / "render_argocd_cm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_argocd_cm_snippet_is_in_sync_with_the_lua_script() -> None:
    renderer = load_renderer()
    current = (ARGOCD / "argocd-cm-health.yaml").read_text()
    assert current == renderer.render(), "run: python tools/render_argocd_cm.py"


def test_argocd_cm_snippet_has_one_key_per_kind_and_each_runs() -> None:
    configmap = yaml.safe_load((ARGOCD / "argocd-cm-health.yaml").read_text())
    assert configmap["kind"] == "ConfigMap" and configmap["metadata"]["name"] == "argocd-cm"
    keys = {f"resource.customizations.health.modelops.dev_{kind}" for kind in SPECS}
    assert set(configmap["data"]) == keys
    for kind in SPECS:
        script = configmap["data"][f"resource.customizations.health.modelops.dev_{kind}"]
        assert health(sample(kind, conditions=ready(kind)), script)[0] == "Healthy"


def test_example_application_documents_the_sync_options() -> None:
    apps = [doc for doc in yaml.safe_load_all((ARGOCD / "application.yaml").read_text()) if doc]
    assert {a["kind"] for a in apps} == {"Application"}
    operator, resources = apps
    assert operator["spec"]["source"]["path"] == "deploy/helm/modelops-operator"
    waves = [int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for a in apps]
    assert waves[0] < waves[1], "the operator (and its CRDs) sync before the resources"
    assert "SkipDryRunOnMissingResource=true" in resources["spec"]["syncPolicy"]["syncOptions"]
