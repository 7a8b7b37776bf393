"""helm against the cluster: release storage in Secrets (protobuf), server-side apply, uninstall."""

from __future__ import annotations

from pathlib import Path

from tests.emulator.backends import Backend
from tests.emulator.helpers import Cli, Scope


async def test_helm_install_upgrade_and_uninstall(
    cluster: Backend, helm: Cli, tmp_path: Path, scope: Scope
) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  mode: {{ .Values.mode | quote }}\n"
    )

    async def configmap() -> dict[str, str]:
        found = await cluster.get_or_none("v1", "configmaps", scope.namespace, "demo")
        return dict((found or {}).get("data") or {})

    # The emulator serves no OpenAPI documents (a known limitation), so helm cannot validate against them.
    no_validation = "--disable-openapi-validation"
    await helm("install", "demo", str(chart), "--set", "mode=a", no_validation)
    assert await configmap() == {"mode": "a"}
    await helm("upgrade", "demo", str(chart), "--set", "mode=b", no_validation)
    assert await configmap() == {"mode": "b"}
    releases = [s["metadata"]["labels"] for s in await cluster.list_objects("v1", "secrets", scope.namespace)]
    assert [(r["owner"], r["version"], r["status"]) for r in releases] == [
        ("helm", "1", "superseded"),
        ("helm", "2", "deployed"),
    ]
    assert "deployed" in (await helm("list")).stdout
    await helm("uninstall", "demo")
    assert (
        await cluster.list_objects("v1", "configmaps", scope.namespace, field_selector="metadata.name=demo")
        == []
    )
    assert await cluster.list_objects("v1", "secrets", scope.namespace) == []
