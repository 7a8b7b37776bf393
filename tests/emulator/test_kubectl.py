"""The real kubectl binary against the cluster (skipped when kubectl is not installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.emulator.backends import Backend
from tests.emulator.helpers import PLURAL, Cli, Http, Scope
from tests.support.waiting import eventually


def manifest(tmp_path: Path, name: str, *docs: dict[str, object]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


async def install(kubectl: Cli, tmp_path: Path, scope: Scope) -> None:
    result = await kubectl("apply", "--validate=false", "-f", manifest(tmp_path, "crd.yaml", scope.crd()))
    assert f"customresourcedefinition.apiextensions.k8s.io/{scope.crd_name} created" in result.stdout
    # A real server establishes a CRD asynchronously: wait like a careful user would.
    await kubectl("wait", "--for=condition=Established", f"crd/{scope.crd_name}", "--timeout=30s")
    result = await kubectl(
        "apply", "--validate=false", "-f", manifest(tmp_path, "w1.yaml", scope.widget("w1", size=3))
    )
    assert f"widget.{scope.group}/w1 created" in result.stdout


async def widget(cluster: Backend, scope: Scope, name: str = "w1") -> dict[str, Any] | None:
    return await cluster.get_or_none(scope.api_version, PLURAL, scope.namespace, name)


async def test_kubectl_apply_creates_then_reports_unchanged_then_configures(
    cluster: Backend, kubectl: Cli, tmp_path: Path, scope: Scope
) -> None:
    await install(kubectl, tmp_path, scope)
    again = await kubectl("apply", "--validate=false", "-f", str(tmp_path / "w1.yaml"))
    assert f"widget.{scope.group}/w1 unchanged" in again.stdout
    changed = await kubectl(
        "apply", "--validate=false", "-f", manifest(tmp_path, "w1b.yaml", scope.widget("w1", size=4))
    )
    assert f"widget.{scope.group}/w1 configured" in changed.stdout
    stored = await widget(cluster, scope)
    assert stored is not None and stored["spec"] == {"size": 4} and stored["metadata"]["generation"] == 2


async def test_kubectl_get_shows_printer_columns_by_short_name_and_category(
    cluster: Backend, kubectl: Cli, tmp_path: Path, scope: Scope
) -> None:
    await install(kubectl, tmp_path, scope)
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    await cluster.patch(scope.api_version, PLURAL, scope.namespace, "w1", ready, subresource="status")
    short = (await kubectl("get", scope.short_name)).stdout.splitlines()
    assert short[0].split() == ["NAME", "SIZE", "READY", "AGE"]
    assert short[1].split()[:3] == ["w1", "3", "True"]
    wide = (await kubectl("get", scope.resource, "-o", "wide")).stdout.splitlines()
    assert wide[0].split() == ["NAME", "SIZE", "READY", "COLOR", "AGE"]
    category = (await kubectl("get", scope.category)).stdout
    assert f"widget.{scope.group}/w1" in category or category.splitlines()[1].startswith("w1")
    crds = (await kubectl("get", "crd")).stdout
    assert scope.crd_name in crds


async def test_kubectl_get_yaml_shows_the_stored_object(kubectl: Cli, tmp_path: Path, scope: Scope) -> None:
    await install(kubectl, tmp_path, scope)
    doc = yaml.safe_load((await kubectl("get", scope.resource, "w1", "-o", "yaml")).stdout)
    assert doc["kind"] == "Widget" and doc["spec"] == {"size": 3}
    assert (
        doc["metadata"]["uid"] and doc["metadata"]["resourceVersion"] and doc["metadata"]["generation"] == 1
    )


async def test_kubectl_patch_and_annotate(
    cluster: Backend, kubectl: Cli, tmp_path: Path, scope: Scope
) -> None:
    await install(kubectl, tmp_path, scope)
    await kubectl("patch", scope.resource, "w1", "--type=merge", "-p", '{"spec": {"size": 9}}')
    await kubectl("annotate", scope.resource, "w1", "example.com/note=hello")
    stored = await widget(cluster, scope)
    assert stored is not None
    assert stored["spec"] == {"size": 9}
    assert stored["metadata"]["annotations"]["example.com/note"] == "hello"


async def test_kubectl_wait_for_a_condition(
    cluster: Backend, kubectl: Cli, tmp_path: Path, scope: Scope
) -> None:
    await install(kubectl, tmp_path, scope)
    waiting = await kubectl.start("wait", "--for=condition=Ready", f"{scope.resource}/w1", "--timeout=20s")
    await eventually(
        lambda: cluster.saw_watch(scope.group, PLURAL), timeout=20, what="kubectl to watch the widget"
    )
    ready = {
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Done", "message": "ok"}]}
    }
    await cluster.patch(scope.api_version, PLURAL, scope.namespace, "w1", ready, subresource="status")
    result = await kubectl.finish(waiting)
    assert result.returncode == 0, result.stderr
    assert f"widget.{scope.group}/w1 condition met" in result.stdout


async def test_kubectl_describe_shows_events(http: Http, kubectl: Cli, tmp_path: Path, scope: Scope) -> None:
    await install(kubectl, tmp_path, scope)
    uid = (await http.get(f"{scope.widgets()}/w1")).body["metadata"]["uid"]
    involved = {
        "apiVersion": scope.api_version,
        "kind": "Widget",
        "name": "w1",
        "namespace": scope.namespace,
        "uid": uid,
    }
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
    assert (await http.post(f"/api/v1/namespaces/{scope.namespace}/events", event)).status == 201
    described = (await kubectl("describe", scope.resource, "w1")).stdout
    assert "Name:         w1" in described
    events = described.split("Events:", 1)[1]
    assert "Provisioned" in events and "the widget is provisioned" in events and "widget-operator" in events


async def test_kubectl_delete_waits_until_the_object_is_gone(
    cluster: Backend, kubectl: Cli, tmp_path: Path, scope: Scope
) -> None:
    await install(kubectl, tmp_path, scope)
    result = await kubectl("delete", scope.resource, "w1")
    assert f'widget.{scope.group} "w1" deleted' in result.stdout
    assert await cluster.list_objects(scope.api_version, PLURAL, scope.namespace) == []
    missing = await kubectl("get", scope.resource, "w1", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


@pytest.mark.usefixtures("crd")
async def test_kubectl_delete_with_a_finalizer_waits_for_the_release(
    cluster: Backend, kubectl: Cli, scope: Scope
) -> None:
    body = scope.widget("w1")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    await cluster.create(body)
    deleting = await kubectl.start("delete", scope.resource, "w1", "--timeout=20s")

    async def marked() -> bool:
        obj = await widget(cluster, scope)
        return bool(obj and obj["metadata"].get("deletionTimestamp"))

    await eventually(marked, timeout=20, what="the widget to be marked for deletion")
    await cluster.patch(scope.api_version, PLURAL, scope.namespace, "w1", {"metadata": {"finalizers": None}})
    result = await kubectl.finish(deleting)
    assert result.returncode == 0, result.stderr
    assert await cluster.list_objects(scope.api_version, PLURAL, scope.namespace) == []


async def test_kubectl_create_sends_protobuf_for_builtins(
    cluster: Backend, kubectl: Cli, scope: Scope
) -> None:
    await kubectl(
        "create", "secret", "generic", "creds", "--from-literal=token=t0p", "--type=example.com/creds"
    )
    await kubectl("create", "configmap", "settings", "--from-literal=mode=fast")
    team = scope.name("team-a")
    await kubectl("create", "namespace", team)
    secret = await cluster.get_or_none("v1", "secrets", scope.namespace, "creds")
    assert (
        secret is not None and secret["type"] == "example.com/creds" and secret["data"] == {"token": "dDBw"}
    )
    settings = await cluster.get_or_none("v1", "configmaps", scope.namespace, "settings")
    assert (settings or {})["data"] == {"mode": "fast"}
    assert ((await cluster.get_or_none("v1", "namespaces", None, team)) or {})["status"] == {
        "phase": "Active"
    }
    listed = (await kubectl("get", "secrets")).stdout.splitlines()
    assert listed[0].split() == ["NAME", "TYPE", "DATA", "AGE"] and listed[1].split()[:3] == [
        "creds",
        "example.com/creds",
        "1",
    ]
