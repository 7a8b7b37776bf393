"""The CRDs are generated from the models, checked in, and enforce what the API promises."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops_operator.api.crd import dump_crd, render_crd
from modelops_operator.api.kinds import ALL_KINDS, MODELBUILD, MODELRUN
from tests.support.crd_validation import cel_errors, schema_errors

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("definition", ALL_KINDS, ids=lambda d: d.kind)
def test_checked_in_crd_matches_the_models(definition: Any) -> None:
    path = ROOT / "deploy" / "crds" / f"{definition.plural}.yaml"
    assert path.read_text() == dump_crd(definition), f"{path} is stale: run `make crds`"


def _structural_problems(schema: dict[str, Any], path: str = "") -> list[str]:
    problems = []
    if (
        "type" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
        and not schema.get("x-kubernetes-int-or-string")
    ):
        problems.append(f"{path or '<root>'} has no type")
    for key in ("$ref", "anyOf", "oneOf", "allOf", "title"):
        if key in schema and key != "title":
            problems.append(f"{path} uses {key}")
    for name, child in (schema.get("properties") or {}).items():
        problems += _structural_problems(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        problems += _structural_problems(schema["items"], f"{path}[]")
    return problems


@pytest.mark.parametrize("definition", ALL_KINDS, ids=lambda d: d.kind)
def test_schema_is_structural(definition: Any) -> None:
    crd = render_crd(definition)
    version = crd["spec"]["versions"][0]
    assert _structural_problems(version["schema"]["openAPIV3Schema"]) == []
    assert version["subresources"] == {"status": {}}
    assert crd["spec"]["names"]["categories"] == ["modelops"]


def test_modelbuild_names_and_columns() -> None:
    crd = yaml.safe_load((ROOT / "deploy/crds/modelbuilds.yaml").read_text())
    assert crd["spec"]["names"]["shortNames"] == ["mb"]
    columns = [
        c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"] if not c.get("priority")
    ]
    assert columns == ["Ready", "Phase", "Remote-ID", "Age"]


def _mb(**twilio: Any) -> dict[str, Any]:
    block = {"assistantSid": "UA" + "a" * 32, **twilio}
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelBuild",
        "metadata": {"name": "x"},
        "spec": {"twilioAutopilot": block, "credentialsSecretRef": {"name": "twilio"}},
    }


CRD = render_crd(MODELBUILD)


def test_valid_modelbuild_passes_schema_and_rules() -> None:
    obj = _mb(uniqueName="n", statusCallback="https://example.com/cb")
    assert schema_errors(CRD, obj) == []
    assert cel_errors(CRD, obj) == []


def test_schema_rejects_bad_assistant_sid_and_long_unique_name() -> None:
    errors = schema_errors(CRD, _mb(assistantSid="nope", uniqueName="x" * 65))
    assert any("assistantSid" in e for e in errors)
    assert any("uniqueName" in e for e in errors)


def test_exactly_one_provider_block() -> None:
    none = _mb()
    del none["spec"]["twilioAutopilot"]
    assert any("exactly one provider block" in e for e in cel_errors(CRD, none))


def test_assistant_sid_is_immutable() -> None:
    old = _mb()
    new = copy.deepcopy(old)
    new["spec"]["twilioAutopilot"]["assistantSid"] = "UA" + "b" * 32
    assert (
        "spec.twilioAutopilot.assistantSid: assistantSid is immutable: a build of another assistant needs a new ModelBuild"
        in cel_errors(CRD, new, old)
    )


@pytest.mark.parametrize(
    ("old_cb", "new_cb"),
    [(None, "https://a/cb"), ("https://a/cb", None), ("https://a/cb", "https://b/cb")],
)
def test_status_callback_is_immutable(old_cb: str | None, new_cb: str | None) -> None:
    old = _mb(**({"statusCallback": old_cb} if old_cb else {}))
    new = _mb(**({"statusCallback": new_cb} if new_cb else {}))
    assert "spec.twilioAutopilot.statusCallback: statusCallback is immutable" in " ".join(
        cel_errors(CRD, new, old)
    )


def test_unique_name_may_change() -> None:
    old = _mb(uniqueName="a")
    new = _mb(uniqueName="b")
    assert cel_errors(CRD, new, old) == []


RUN_CRD = render_crd(MODELRUN)


def _mr(**models_api: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelRun",
        "metadata": {"name": "r"},
        "spec": {
            "modelsApi": {"projectName": "shop", **models_api},
            "credentialsSecretRef": {"name": "models"},
        },
    }


def test_modelrun_names_and_columns() -> None:
    crd = yaml.safe_load((ROOT / "deploy/crds/modelruns.yaml").read_text())
    assert crd["spec"]["names"]["shortNames"] == ["mr"]
    columns = [
        c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"] if not c.get("priority")
    ]
    assert columns == ["Ready", "Phase", "Run-ID", "Steps", "Tests", "Age"]


def test_modelrun_schema() -> None:
    assert schema_errors(RUN_CRD, _mr(modelNames=["a", "b"], fullRefresh=True)) == []
    assert any("projectName" in e for e in schema_errors(RUN_CRD, _mr(projectName="has space")))


def test_modelrun_spec_is_immutable_except_deletion_policy() -> None:
    old = _mr(modelNames=["a"])
    changed = _mr(modelNames=["a", "b"])
    assert cel_errors(RUN_CRD, changed, old) == [
        "spec: a ModelRun is immutable once created (only spec.deletionPolicy may change); create a new one"
    ]
    orphan = copy.deepcopy(old)
    orphan["spec"]["deletionPolicy"] = "Orphan"
    assert cel_errors(RUN_CRD, orphan, old) == []
    polled = copy.deepcopy(old)
    polled["spec"]["polling"] = {"intervalSeconds": 5}
    assert cel_errors(RUN_CRD, polled, old) != []


def _dr(**datarobot: Any) -> dict[str, Any]:
    block = {"llmBlueprintId": "65f0c0ffee0000000000beef", **datarobot}
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelBuild",
        "metadata": {"name": "d"},
        "spec": {"datarobot": block, "credentialsSecretRef": {"name": "datarobot"}},
    }


def test_valid_datarobot_modelbuild_passes_schema_and_rules() -> None:
    obj = _dr(promptColumnName="question", targetColumnName="answer", llmTestConfigurationIds=["t1"])
    assert schema_errors(CRD, obj) == []
    assert cel_errors(CRD, obj) == []


def test_datarobot_block_requires_a_blueprint() -> None:
    obj = _dr()
    del obj["spec"]["datarobot"]["llmBlueprintId"]
    assert any("llmBlueprintId" in e for e in schema_errors(CRD, obj))


def test_exactly_one_provider_block_with_both_blocks() -> None:
    both = _dr()
    both["spec"]["twilioAutopilot"] = {"assistantSid": "UA" + "a" * 32}
    assert any("exactly one provider block" in e for e in cel_errors(CRD, both))


@pytest.mark.parametrize(
    "change",
    [
        {"llmBlueprintId": "65f0c0ffee0000000000cafe"},
        {"promptColumnName": "question"},
        {"llmTestConfigurationIds": ["t1"]},
    ],
)
def test_datarobot_block_is_immutable(change: dict[str, Any]) -> None:
    old = _dr()
    new = _dr(**change)
    assert (
        "spec.datarobot: spec.datarobot is immutable: a different DataRobot build needs a new ModelBuild"
        in cel_errors(CRD, new, old)
    )


def test_datarobot_deletion_policy_and_polling_may_change() -> None:
    old = _dr()
    new = copy.deepcopy(old)
    new["spec"]["deletionPolicy"] = "Orphan"
    new["spec"]["polling"] = {"intervalSeconds": 5}
    assert cel_errors(CRD, new, old) == []


def test_provider_block_cannot_switch_to_datarobot() -> None:
    old = _mb()
    assert (
        "spec: the provider block cannot be changed after creation: another provider needs a new ModelBuild"
        in cel_errors(CRD, _dr(), old)
    )
