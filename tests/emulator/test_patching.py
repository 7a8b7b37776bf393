"""Patch types: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge, server-side apply."""

from __future__ import annotations

import pytest

from modelops_sandbox.cluster import patching
from tests.emulator.helpers import WIDGETS, Http, widget

pytestmark = pytest.mark.usefixtures("crd")


async def test_merge_patch_merges_maps_replaces_lists_and_null_deletes_a_key(http: Http) -> None:
    await http.post(WIDGETS, widget("w1", size=1, tags=["a", "b"], nested={"keep": 1, "drop": 2}))
    reply = await http.patch(f"{WIDGETS}/w1", {"spec": {"tags": ["c"], "nested": {"drop": None, "new": 3}}})
    assert reply.body["spec"] == {"size": 1, "tags": ["c"], "nested": {"keep": 1, "new": 3}}


async def test_json_patch_applies_operations_in_order(http: Http) -> None:
    await http.post(WIDGETS, widget("w1", size=1, tags=["a"]))
    ops = [
        {"op": "test", "path": "/spec/size", "value": 1},
        {"op": "replace", "path": "/spec/size", "value": 2},
        {"op": "add", "path": "/spec/tags/-", "value": "b"},
        {"op": "add", "path": "/metadata/labels", "value": {"a~b/c": "x"}},
        {"op": "copy", "from": "/spec/size", "path": "/spec/copied"},
        {"op": "move", "from": "/spec/copied", "path": "/spec/moved"},
        {"op": "remove", "path": "/metadata/labels/a~0b~1c"},
    ]
    reply = await http.patch(f"{WIDGETS}/w1", ops, kind="json")
    assert reply.status == 200, reply.body
    assert reply.body["spec"] == {"size": 2, "tags": ["a", "b"], "moved": 2}
    assert reply.body["metadata"]["labels"] == {}


async def test_json_patch_on_a_missing_path_is_a_422(http: Http) -> None:
    await http.post(WIDGETS, widget("w1"))
    reply = await http.patch(f"{WIDGETS}/w1", [{"op": "remove", "path": "/spec/nope"}], kind="json")
    assert reply.status == 422


async def test_malformed_json_patch_is_a_400(http: Http) -> None:
    await http.post(WIDGETS, widget("w1"))
    reply = await http.patch(f"{WIDGETS}/w1", {"op": "remove"}, kind="json")
    assert reply.status == 400


async def test_strategic_merge_patch_merges_lists_of_named_items(http: Http) -> None:
    colors = [{"name": "red", "hex": "f00"}, {"name": "green", "hex": "0f0"}, {"name": "blue", "hex": "00f"}]
    await http.post(WIDGETS, widget("w1", colors=colors))
    patch = {
        "spec": {
            "colors": [
                {"name": "green", "hex": "0e0"},
                {"name": "blue", "$patch": "delete"},
                {"name": "white"},
            ],
            "$setElementOrder/colors": [{"name": "white"}, {"name": "red"}, {"name": "green"}],
        }
    }
    reply = await http.patch(f"{WIDGETS}/w1", patch, kind="strategic")
    assert reply.body["spec"]["colors"] == [
        {"name": "white"},
        {"name": "red", "hex": "f00"},
        {"name": "green", "hex": "0e0"},
    ]


async def test_apply_patch_creates_then_merges(http: Http) -> None:
    manifest = (
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 1\n  mode: a\n"
    )
    created = await http.patch(f"{WIDGETS}/w1", manifest, kind="apply", params={"fieldManager": "test"})
    assert created.status == 201 and created.body["spec"] == {"size": 1, "mode": "a"}
    updated = await http.patch(
        f"{WIDGETS}/w1", manifest.replace("size: 1", "size: 2"), kind="apply", params={"fieldManager": "test"}
    )
    assert updated.status == 200 and updated.body["spec"] == {"size": 2, "mode": "a"}
    assert updated.body["metadata"]["uid"] == created.body["metadata"]["uid"]


def test_merge_patch_of_a_non_object_replaces_the_target() -> None:
    assert patching.merge_patch({"a": 1}, ["x"]) == ["x"]
    assert patching.merge_patch({"a": {"b": 1}}, {"a": {"b": None}}) == {"a": {}}


def test_json_patch_does_not_mutate_its_input() -> None:
    target = {"a": [1]}
    assert patching.json_patch(target, [{"op": "add", "path": "/a/0", "value": 0}]) == {"a": [0, 1]}
    assert target == {"a": [1]}
    with pytest.raises(patching.PatchFailed):
        patching.json_patch(target, [{"op": "test", "path": "/a", "value": [True]}])
