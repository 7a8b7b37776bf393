"""The real kubectl binary against the emulated cluster (skipped when kubectl is not installed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import API_VERSION, WIDGETS, Cli, Http, eventually, widget, widget_crd


def manifest(tmp_path: Path, name: str, *docs: dict[str, object]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


async def install(kubectl: Cli, tmp_path: Path) -> None:
    result = await kubectl("apply", "--validate=false", "-f", manifest(tmp_path, "crd.yaml", widget_crd()))
    assert "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created" in result.stdout
    result = await kubectl(
        "apply", "--validate=false", "-f", manifest(tmp_path, "w1.yaml", widget("w1", size=3))
    )
    assert "widget.example.com/w1 created" in result.stdout


async def test_kubectl_apply_creates_then_reports_unchanged_then_configures(
    cluster: EmulatedCluster, kubectl: Cli, tmp_path: Path
) -> None:
    await install(kubectl, tmp_path)
    again = await kubectl("apply", "--validate=false", "-f", str(tmp_path / "w1.yaml"))
    assert "widget.example.com/w1 unchanged" in again.stdout
    changed = await kubectl(
        "apply", "--validate=false", "-f", manifest(tmp_path, "w1b.yaml", widget("w1", size=4))
    )
    assert "widget.example.com/w1 configured" in changed.stdout
    stored = cluster.get_object("example.com", "v1", "widgets", "default", "w1")
    assert stored is not None and stored["spec"] == {"size": 4} and stored["metadata"]["generation"] == 2


async def test_kubectl_get_shows_printer_columns_by_short_name_and_category(
    cluster: EmulatedCluster, kubectl: Cli, tmp_path: Path
) -> None:
    await install(kubectl, tmp_path)
    await cluster.patch("example.com/v1", "widgets", "default", "w1", {"status": {"conditions": [
        {"type": "Ready", "status": "True"}]}}, subresource="status")  # fmt: skip
    short = (await kubectl("get", "wdg")).stdout.splitlines()
    assert short[0].split() == ["NAME", "SIZE", "READY", "AGE"]
    assert short[1].split()[:3] == ["w1", "3", "True"]
    wide = (await kubectl("get", "widgets", "-o", "wide")).stdout.splitlines()
    assert wide[0].split() == ["NAME", "SIZE", "READY", "COLOR", "AGE"]
    category = (await kubectl("get", "gadgets")).stdout
    assert "widget.example.com/w1" in category or category.splitlines()[1].startswith("w1")
    crds = (await kubectl("get", "crd")).stdout
    assert "widgets.example.com" in crds


async def test_kubectl_get_yaml_shows_the_stored_object(kubectl: Cli, tmp_path: Path) -> None:
    await install(kubectl, tmp_path)
    doc = yaml.safe_load((await kubectl("get", "widget", "w1", "-o", "yaml")).stdout)
    assert doc["kind"] == "Widget" and doc["spec"] == {"size": 3}
    assert (
        doc["metadata"]["uid"] and doc["metadata"]["resourceVersion"] and doc["metadata"]["generation"] == 1
    )


async def test_kubectl_patch_and_annotate(cluster: EmulatedCluster, kubectl: Cli, tmp_path: Path) -> None:
    await install(kubectl, tmp_path)
    await kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec": {"size": 9}}')
    await kubectl("annotate", "widget", "w1", "example.com/note=hello")
    stored = cluster.get_object("example.com", "v1", "widgets", "default", "w1")
    assert stored is not None
    assert stored["spec"] == {"size": 9}
    assert stored["metadata"]["annotations"]["example.com/note"] == "hello"


async def test_kubectl_wait_for_a_condition(cluster: EmulatedCluster, kubectl: Cli, tmp_path: Path) -> None:
    await install(kubectl, tmp_path)
    waiting = await kubectl.start("wait", "--for=condition=Ready", "widget/w1", "--timeout=20s")

    def kubectl_is_watching() -> bool:
        return any(
            r.params.get("watch") == "true" and r.resource == "example.com/v1/widgets"
            for r in cluster.emulator
        )

    await eventually(kubectl_is_watching, within=20, what="kubectl to watch the widget")
    ready = {
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Done", "message": "ok"}]}
    }
    await cluster.patch("example.com/v1", "widgets", "default", "w1", ready, subresource="status")
    result = await kubectl.finish(waiting)
    assert result.returncode == 0, result.stderr
    assert "widget.example.com/w1 condition met" in result.stdout


async def test_kubectl_describe_shows_events(http: Http, kubectl: Cli, tmp_path: Path) -> None:
    await install(kubectl, tmp_path)
    uid = (await http.get(f"{WIDGETS}/w1")).body["metadata"]["uid"]
    involved = {"apiVersion": API_VERSION, "kind": "Widget", "name": "w1", "namespace": "default", "uid": uid}
    event = {
        "metadata": {"generateName": "w1-"},
        "involvedObject": involved,
        "reason": "Provisioned",
        "message": "the widget is provisioned",
        "type": "Normal",
        "source": {"component": "widget-operator"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }
    assert (await http.post("/api/v1/namespaces/default/events", event)).status == 201
    described = (await kubectl("describe", "widget", "w1")).stdout
    assert "Name:         w1" in described
    events = described.split("Events:", 1)[1]
    assert "Provisioned" in events and "the widget is provisioned" in events and "widget-operator" in events


async def test_kubectl_delete_waits_until_the_object_is_gone(
    cluster: EmulatedCluster, kubectl: Cli, tmp_path: Path
) -> None:
    await install(kubectl, tmp_path)
    result = await kubectl("delete", "widget", "w1")
    assert 'widget.example.com "w1" deleted' in result.stdout
    assert cluster.objects("example.com", "v1", "widgets") == []
    missing = await kubectl("get", "widget", "w1", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


@pytest.mark.usefixtures("crd")
async def test_kubectl_delete_with_a_finalizer_waits_for_the_release(
    cluster: EmulatedCluster, kubectl: Cli
) -> None:
    body = widget("w1")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    await cluster.create(body)
    deleting = await kubectl.start("delete", "widget", "w1", "--timeout=20s")

    def marked() -> bool:
        obj = cluster.get_object("example.com", "v1", "widgets", "default", "w1")
        return bool(obj and obj["metadata"].get("deletionTimestamp"))

    await eventually(marked, within=20, what="the widget to be marked for deletion")
    await cluster.patch("example.com/v1", "widgets", "default", "w1", {"metadata": {"finalizers": None}})
    result = await kubectl.finish(deleting)
    assert result.returncode == 0, result.stderr
    assert cluster.objects("example.com", "v1", "widgets") == []


async def test_kubectl_create_sends_protobuf_for_builtins(cluster: EmulatedCluster, kubectl: Cli) -> None:
    await kubectl(
        "create", "secret", "generic", "creds", "--from-literal=token=t0p", "--type=example.com/creds"
    )
    await kubectl("create", "configmap", "settings", "--from-literal=mode=fast")
    await kubectl("create", "namespace", "team-a")
    secret = cluster.get_object("", "v1", "secrets", "default", "creds")
    assert (
        secret is not None and secret["type"] == "example.com/creds" and secret["data"] == {"token": "dDBw"}
    )
    assert (cluster.get_object("", "v1", "configmaps", "default", "settings") or {})["data"] == {
        "mode": "fast"
    }
    assert (cluster.get_object("", "v1", "namespaces", None, "team-a") or {})["status"] == {"phase": "Active"}
    listed = (await kubectl("get", "secrets")).stdout.splitlines()
    assert listed[0].split() == ["NAME", "TYPE", "DATA", "AGE"] and listed[1].split()[:3] == [
        "creds",
        "example.com/creds",
        "1",
    ]
