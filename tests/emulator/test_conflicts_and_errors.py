"""Optimistic concurrency and the shape of API errors."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import WIDGETS, Http, widget

pytestmark = pytest.mark.usefixtures("crd")


async def test_stale_resource_version_in_a_put_is_a_409_conflict(http: Http) -> None:
    stale = (await http.post(WIDGETS, widget("w1", size=1))).body
    await http.patch(f"{WIDGETS}/w1", {"spec": {"size": 2}})
    stale["spec"] = {"size": 3}
    reply = await http.put(f"{WIDGETS}/w1", stale)
    assert reply.status == 409
    assert reply.body["kind"] == "Status" and reply.body["reason"] == "Conflict"
    assert "the object has been modified" in reply.body["message"]
    assert (await http.get(f"{WIDGETS}/w1")).body["spec"] == {"size": 2}


async def test_stale_resource_version_in_a_merge_patch_is_a_409_conflict(http: Http) -> None:
    stale = (await http.post(WIDGETS, widget("w1", size=1))).body["metadata"]["resourceVersion"]
    await http.patch(f"{WIDGETS}/w1", {"spec": {"size": 2}})
    reply = await http.patch(f"{WIDGETS}/w1", {"metadata": {"resourceVersion": stale}, "spec": {"size": 3}})
    assert reply.status == 409 and reply.body["reason"] == "Conflict"


async def test_current_resource_version_in_a_patch_is_accepted(http: Http) -> None:
    current = (await http.post(WIDGETS, widget("w1", size=1))).body["metadata"]["resourceVersion"]
    reply = await http.patch(f"{WIDGETS}/w1", {"metadata": {"resourceVersion": current}, "spec": {"size": 3}})
    assert reply.status == 200 and reply.body["spec"] == {"size": 3}


async def test_failed_json_patch_test_op_is_a_422_invalid(http: Http) -> None:
    stale = (await http.post(WIDGETS, widget("w1", size=1))).body["metadata"]["resourceVersion"]
    await http.patch(f"{WIDGETS}/w1", {"spec": {"size": 2}})
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": stale},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/cleanup"]},
    ]
    reply = await http.patch(f"{WIDGETS}/w1", ops, kind="json")
    assert reply.status == 422
    assert reply.body["kind"] == "Status" and reply.body["reason"] == "Invalid"
    assert "finalizers" not in (await http.get(f"{WIDGETS}/w1")).body["metadata"]


async def test_name_conflict_on_create_is_a_409_already_exists(http: Http) -> None:
    assert (await http.post(WIDGETS, widget("w1"))).status == 201
    reply = await http.post(WIDGETS, widget("w1"))
    assert reply.status == 409
    assert reply.body["reason"] == "AlreadyExists"
    assert reply.body["details"] == {"name": "w1", "group": "example.com", "kind": "widgets"}
    assert reply.body["message"] == 'widgets.example.com "w1" already exists'


async def test_missing_object_is_a_404_not_found_status(http: Http) -> None:
    reply = await http.get(f"{WIDGETS}/ghost")
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'widgets.example.com "ghost" not found',
        "reason": "NotFound",
        "details": {"name": "ghost", "group": "example.com", "kind": "widgets"},
        "code": 404,
    }
    for method, body in (("PATCH", {"spec": {}}), ("DELETE", None), ("PUT", widget("ghost"))):
        content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
        other = await http.call(method, f"{WIDGETS}/ghost", body, content_type=content_type)
        assert other.status == 404 and other.body["reason"] == "NotFound", method


async def test_unknown_resource_is_a_404_status(http: Http) -> None:
    reply = await http.get("/apis/example.com/v1/namespaces/default/unknowns")
    assert reply.status == 404 and reply.body["kind"] == "Status" and reply.body["reason"] == "NotFound"


async def test_create_in_a_missing_namespace_is_a_404(http: Http) -> None:
    reply = await http.post("/apis/example.com/v1/namespaces/nowhere/widgets", widget("w1"))
    assert reply.status == 404 and reply.body["message"] == 'namespaces "nowhere" not found'


async def test_invalid_name_is_a_422_invalid(http: Http) -> None:
    reply = await http.post(WIDGETS, widget("Not_A_Name"))
    assert reply.status == 422 and reply.body["reason"] == "Invalid"


async def test_unsupported_patch_content_type_is_a_415(http: Http) -> None:
    await http.post(WIDGETS, widget("w1"))
    reply = await http.call("PATCH", f"{WIDGETS}/w1", {"spec": {}}, content_type="application/json")
    assert reply.status == 415
