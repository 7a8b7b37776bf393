"""Patch types: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge, server-side apply."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.helpers import Http, Scope

pytestmark = pytest.mark.usefixtures("crd")


async def test_merge_patch_merges_maps_replaces_lists_and_null_deletes_a_key(
    http: Http, scope: Scope
) -> None:
    await http.post(
        scope.widgets(), scope.widget("w1", size=1, tags=["a", "b"], nested={"keep": 1, "drop": 2})
    )
    reply = await http.patch(
        f"{scope.widgets()}/w1", {"spec": {"tags": ["c"], "nested": {"drop": None, "new": 3}}}
    )
    assert reply.body["spec"] == {"size": 1, "tags": ["c"], "nested": {"keep": 1, "new": 3}}


async def test_json_patch_applies_operations_in_order(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1", size=1, tags=["a"]))
    ops = [
        {"op": "test", "path": "/spec/size", "value": 1},
        {"op": "replace", "path": "/spec/size", "value": 2},
        {"op": "add", "path": "/spec/tags/-", "value": "b"},
        {"op": "add", "path": "/spec/extra", "value": {"a~b/c": "x", "keep": 1}},
        {"op": "copy", "from": "/spec/size", "path": "/spec/copied"},
        {"op": "move", "from": "/spec/copied", "path": "/spec/moved"},
        {"op": "remove", "path": "/spec/extra/a~0b~1c"},
        {"op": "add", "path": "/metadata/labels", "value": {"example.com/x": "y"}},
        {"op": "remove", "path": "/metadata/labels/example.com~1x"},
    ]
    reply = await http.patch(f"{scope.widgets()}/w1", ops, kind="json")
    assert reply.status == 200, reply.body
    assert reply.body["spec"] == {"size": 2, "tags": ["a", "b"], "extra": {"keep": 1}, "moved": 2}
    assert "labels" not in reply.body["metadata"]  # empty metadata maps are not kept


async def test_json_patch_on_a_missing_path_is_a_422(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    reply = await http.patch(f"{scope.widgets()}/w1", [{"op": "remove", "path": "/spec/nope"}], kind="json")
    assert reply.status == 422


async def test_malformed_json_patch_is_a_400(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    reply = await http.patch(f"{scope.widgets()}/w1", {"op": "remove"}, kind="json")
    assert reply.status == 400


async def test_apply_patch_needs_a_field_manager(http: Http, scope: Scope) -> None:
    manifest = f"apiVersion: {scope.api_version}\nkind: Widget\nmetadata:\n  name: w1\n"
    reply = await http.patch(f"{scope.widgets()}/w1", manifest, kind="apply")
    assert reply.status == 422 and reply.body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )


def deployment(name: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
        },
    }


async def test_strategic_merge_patch_merges_lists_of_named_items(http: Http, scope: Scope) -> None:
    deployments = f"/apis/apps/v1/namespaces/{scope.namespace}/deployments"
    containers = [{"name": color, "image": f"{color}:1"} for color in ("red", "green", "blue")]
    assert (await http.post(deployments, deployment("d", containers))).status == 201
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "white", "image": "white:1"},
                        {"name": "green", "image": "green:2"},
                        {"name": "blue", "$patch": "delete"},
                    ],
                    "$setElementOrder/containers": [{"name": "white"}, {"name": "red"}, {"name": "green"}],
                }
            }
        }
    }
    reply = await http.patch(f"{deployments}/d", patch, kind="strategic")
    assert reply.status == 200, reply.body
    merged = reply.body["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in merged] == [
        ("white", "white:1"),
        ("red", "red:1"),
        ("green", "green:2"),
    ]


async def test_strategic_merge_patch_contradicting_its_element_order_fails(http: Http, scope: Scope) -> None:
    deployments = f"/apis/apps/v1/namespaces/{scope.namespace}/deployments"
    containers = [{"name": "red", "image": "red:1"}, {"name": "green", "image": "green:1"}]
    await http.post(deployments, deployment("d", containers))
    listed = [{"name": "green", "image": "green:2"}, {"name": "red", "image": "red:2"}]
    order = [{"name": "red"}, {"name": "green"}]
    patch = {"spec": {"template": {"spec": {"containers": listed, "$setElementOrder/containers": order}}}}
    reply = await http.patch(f"{deployments}/d", patch, kind="strategic")
    assert reply.status == 500 and reply.body["message"] == (
        "The order in patch list:\n[map[image:green:2 name:green] map[image:red:2 name:red]]\n"
        " doesn't match $setElementOrder list:\n[map[name:red] map[name:green]]\n"
    )


async def test_strategic_merge_patch_of_a_custom_resource_is_a_415(http: Http, scope: Scope) -> None:
    # Custom resources have no Go struct tags to merge by: the server refuses strategic merge patches.
    await http.post(scope.widgets(), scope.widget("w1", colors=[{"name": "red"}]))
    reply = await http.patch(
        f"{scope.widgets()}/w1", {"spec": {"colors": [{"name": "blue"}]}}, kind="strategic"
    )
    assert reply.status == 415 and reply.body["reason"] == "UnsupportedMediaType"
    assert reply.body["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


async def test_apply_patch_creates_then_merges(http: Http, scope: Scope) -> None:
    manifest = (
        f"apiVersion: {scope.api_version}\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 1\n  mode: a\n"
    )
    created = await http.patch(
        f"{scope.widgets()}/w1", manifest, kind="apply", params={"fieldManager": "test"}
    )
    assert created.status == 201 and created.body["spec"] == {"size": 1, "mode": "a"}
    updated = await http.patch(
        f"{scope.widgets()}/w1",
        manifest.replace("size: 1", "size: 2"),
        kind="apply",
        params={"fieldManager": "test"},
    )
    assert updated.status == 200 and updated.body["spec"] == {"size": 2, "mode": "a"}
    assert updated.body["metadata"]["uid"] == created.body["metadata"]["uid"]


@pytest.mark.emulator_limitation(
    "server-side apply merges into the object: fields a manager stops applying are not removed, and conflicts "
    "with other managers are not detected (no field ownership)"
)
async def test_apply_removes_the_fields_its_manager_stopped_applying(http: Http, scope: Scope) -> None:
    head = f"apiVersion: {scope.api_version}\nkind: Widget\nmetadata:\n  name: w1\n"
    params = {"fieldManager": "test"}
    await http.patch(
        f"{scope.widgets()}/w1", head + "spec:\n  size: 1\n  mode: a\n", kind="apply", params=params
    )
    updated = await http.patch(
        f"{scope.widgets()}/w1", head + "spec:\n  size: 2\n", kind="apply", params=params
    )
    assert updated.body["spec"] == {"size": 2}
    await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 5}}, params={"fieldManager": "other"})
    conflict = await http.patch(
        f"{scope.widgets()}/w1", head + "spec:\n  size: 3\n", kind="apply", params=params
    )
    assert conflict.status == 409 and conflict.body["reason"] == "Conflict"
