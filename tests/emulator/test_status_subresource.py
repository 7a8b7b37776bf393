"""The status subresource is isolated from the main resource, both ways."""

from __future__ import annotations

import pytest

from tests.emulator.backends import Backend
from tests.emulator.helpers import Http, Scope

pytestmark = pytest.mark.usefixtures("crd")


async def test_status_in_a_create_is_dropped(http: Http, scope: Scope) -> None:
    body = scope.widget("w1")
    body["status"] = {"phase": "Forged"}
    reply = await http.post(scope.widgets(), body)
    assert "status" not in reply.body


async def test_main_resource_patch_ignores_status(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1", size=1))
    await http.patch(f"{scope.widgets()}/w1/status", {"status": {"phase": "Ready"}})
    reply = await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}, "status": {"phase": "Forged"}})
    assert reply.body["spec"] == {"size": 2}
    assert reply.body["status"] == {"phase": "Ready"}


async def test_main_resource_put_ignores_status(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    current = (await http.patch(f"{scope.widgets()}/w1/status", {"status": {"phase": "Ready"}})).body
    current["spec"] = {"size": 9}
    current["status"] = {"phase": "Forged"}
    reply = await http.put(f"{scope.widgets()}/w1", current)
    assert reply.status == 200, reply.body
    assert reply.body["spec"] == {"size": 9}
    assert reply.body["status"] == {"phase": "Ready"}


async def test_status_patch_changes_only_status(http: Http, scope: Scope) -> None:
    created = (await http.post(scope.widgets(), scope.widget("w1", size=1))).body
    reply = await http.patch(
        f"{scope.widgets()}/w1/status",
        {"spec": {"size": 100}, "metadata": {"labels": {"sneaky": "yes"}}, "status": {"phase": "Ready"}},
    )
    assert reply.status == 200
    assert reply.body["status"] == {"phase": "Ready"}
    assert reply.body["spec"] == {"size": 1}
    assert "labels" not in reply.body["metadata"]
    assert reply.body["metadata"]["generation"] == created["metadata"]["generation"]


async def test_status_json_patch_changes_only_status(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1", size=1))
    ops = [
        {"op": "add", "path": "/status", "value": {"phase": "Ready"}},
        {"op": "replace", "path": "/spec/size", "value": 5},
    ]
    reply = await http.patch(f"{scope.widgets()}/w1/status", ops, kind="json")
    assert reply.body["status"] == {"phase": "Ready"}
    assert reply.body["spec"] == {"size": 1}


async def test_without_status_subresource_status_is_an_ordinary_field(
    cluster: Backend, http: Http, scope: Scope
) -> None:
    await cluster.install_crd(scope.crd(status_subresource=False, plural="gizmos", kind="Gizmo"))
    gizmos = f"/apis/{scope.group}/v1/namespaces/{scope.namespace}/gizmos"
    body = {
        "apiVersion": scope.api_version,
        "kind": "Gizmo",
        "metadata": {"name": "g"},
        "status": {"phase": "A"},
    }
    assert (await http.post(gizmos, body)).body["status"] == {"phase": "A"}
    reply = await http.patch(f"{gizmos}/g", {"status": {"phase": "B"}})
    assert reply.body["status"] == {"phase": "B"}
    assert reply.body["metadata"]["generation"] == 2  # no status subresource: status counts as content
    assert (await http.patch(f"{gizmos}/g/status", {"status": {"phase": "C"}})).status == 404
