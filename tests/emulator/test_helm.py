"""helm against the emulated cluster: release storage in Secrets (protobuf), server-side apply, uninstall."""

from __future__ import annotations

from pathlib import Path

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import Cli


async def test_helm_install_upgrade_and_uninstall(
    cluster: EmulatedCluster, helm: Cli, tmp_path: Path
) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  mode: {{ .Values.mode | quote }}\n"
    )

    def configmap() -> dict[str, str]:
        return dict((cluster.get_object("", "v1", "configmaps", "default", "demo") or {}).get("data") or {})

    await helm("install", "demo", str(chart), "--set", "mode=a", "--disable-openapi-validation")
    assert configmap() == {"mode": "a"}
    await helm("upgrade", "demo", str(chart), "--set", "mode=b", "--disable-openapi-validation")
    assert configmap() == {"mode": "b"}
    releases = [s["metadata"]["labels"] for s in cluster.objects("", "v1", "secrets", "default")]
    assert [(r["owner"], r["version"], r["status"]) for r in releases] == [
        ("helm", "1", "superseded"),
        ("helm", "2", "deployed"),
    ]
    assert "deployed" in (await helm("list")).stdout
    await helm("uninstall", "demo")
    assert cluster.objects("", "v1", "configmaps", "default") == []
    assert cluster.objects("", "v1", "secrets", "default") == []
