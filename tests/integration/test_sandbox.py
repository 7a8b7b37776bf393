"""`modelops-operator sandbox --once`: every example reaches its expected phase, and the exit code says so."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import yaml

from modelops_sandbox.runner import EXPECT_ANNOTATION, run_sandbox

ROOT = Path(__file__).resolve().parents[2]


def _args(tmp_path: Path, examples: Path) -> argparse.Namespace:
    return argparse.Namespace(
        once=True, timeout=90.0, port=0, examples=str(examples), kubeconfig=str(tmp_path / "kubeconfig")
    )


async def test_sandbox_once_runs_every_example_to_its_expected_phase(tmp_path: Path) -> None:
    out = io.StringIO()
    code = await run_sandbox(_args(tmp_path, ROOT / "examples"), out)
    text = out.getvalue()
    assert code == 0, text
    expected = [
        doc["metadata"]["name"]
        for path in (ROOT / "examples").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and EXPECT_ANNOTATION in (doc["metadata"].get("annotations") or {})
    ]
    assert len(expected) >= 4
    final = text.rsplit("KIND", 1)[1]
    for name in expected:
        assert name in final
    assert f"all {len(expected)} examples reached their expected phase" in text
    kubeconfig = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"].startswith("http://127.0.0.1:")


async def test_sandbox_once_fails_when_an_example_ends_unexpectedly(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "creds.yaml").write_text((ROOT / "examples" / "twilio-credentials.yaml").read_text())
    wrong = yaml.safe_load((ROOT / "examples" / "modelbuild-autopilot-failing.yaml").read_text())
    wrong["metadata"]["annotations"][EXPECT_ANNOTATION] = "Succeeded"  # it fails in the sandbox
    (examples / "wrong.yaml").write_text(yaml.safe_dump(wrong))
    out = io.StringIO()
    assert await run_sandbox(_args(tmp_path, examples), out) == 1
    assert "UNEXPECTED: ModelBuild/broken-training-data is Failed, expected Succeeded" in out.getvalue()
