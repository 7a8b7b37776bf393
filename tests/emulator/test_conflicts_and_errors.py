"""Optimistic concurrency and the shape of API errors."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import Http, Scope

pytestmark = pytest.mark.usefixtures("crd")


async def test_stale_resource_version_in_a_put_is_a_409_conflict(http: Http, scope: Scope) -> None:
    stale = (await http.post(scope.widgets(), scope.widget("w1", size=1))).body
    await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}})
    stale["spec"] = {"size": 3}
    reply = await http.put(f"{scope.widgets()}/w1", stale)
    assert reply.status == 409
    assert reply.body["kind"] == "Status" and reply.body["reason"] == "Conflict"
    assert "the object has been modified" in reply.body["message"]
    assert (await http.get(f"{scope.widgets()}/w1")).body["spec"] == {"size": 2}


async def test_stale_resource_version_in_a_merge_patch_is_a_409_conflict(http: Http, scope: Scope) -> None:
    stale = (await http.post(scope.widgets(), scope.widget("w1", size=1))).body["metadata"]["resourceVersion"]
    await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}})
    reply = await http.patch(
        f"{scope.widgets()}/w1", {"metadata": {"resourceVersion": stale}, "spec": {"size": 3}}
    )
    assert reply.status == 409 and reply.body["reason"] == "Conflict"


async def test_current_resource_version_in_a_patch_is_accepted(http: Http, scope: Scope) -> None:
    current = (await http.post(scope.widgets(), scope.widget("w1", size=1))).body["metadata"][
        "resourceVersion"
    ]
    reply = await http.patch(
        f"{scope.widgets()}/w1", {"metadata": {"resourceVersion": current}, "spec": {"size": 3}}
    )
    assert reply.status == 200 and reply.body["spec"] == {"size": 3}


async def test_failed_json_patch_test_op_is_a_422_invalid(http: Http, scope: Scope) -> None:
    stale = (await http.post(scope.widgets(), scope.widget("w1", size=1))).body["metadata"]["resourceVersion"]
    await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}})
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": stale},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/cleanup"]},
    ]
    reply = await http.patch(f"{scope.widgets()}/w1", ops, kind="json")
    assert reply.status == 422
    assert reply.body["kind"] == "Status" and reply.body["reason"] == "Invalid"
    assert reply.body["message"] == "the server rejected our request due to an error in our request"
    assert "finalizers" not in (await http.get(f"{scope.widgets()}/w1")).body["metadata"]


async def test_name_conflict_on_create_is_a_409_already_exists(http: Http, scope: Scope) -> None:
    assert (await http.post(scope.widgets(), scope.widget("w1"))).status == 201
    reply = await http.post(scope.widgets(), scope.widget("w1"))
    assert reply.status == 409
    assert reply.body["reason"] == "AlreadyExists"
    assert reply.body["details"] == {"name": "w1", "group": scope.group, "kind": "widgets"}
    assert reply.body["message"] == f'widgets.{scope.group} "w1" already exists'


async def test_missing_object_is_a_404_not_found_status(http: Http, scope: Scope) -> None:
    reply = await http.get(f"{scope.widgets()}/ghost")
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'widgets.{scope.group} "ghost" not found',
        "reason": "NotFound",
        "details": {"name": "ghost", "group": scope.group, "kind": "widgets"},
        "code": 404,
    }
    for method, body in (("PATCH", {"spec": {}}), ("DELETE", None), ("PUT", scope.widget("ghost"))):
        content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
        other = await http.call(method, f"{scope.widgets()}/ghost", body, content_type=content_type)
        assert other.status == 404 and other.body["reason"] == "NotFound", method


async def test_unknown_resource_is_a_plain_text_404(http: Http, scope: Scope) -> None:
    # Not a v1/Status: URLs that serve nothing are answered by the server's HTTP mux.
    for path in (
        f"/apis/{scope.group}/v1/namespaces/{scope.namespace}/unknowns",
        f"/apis/{scope.name('nowhere')}.example.com/v1/widgets",
        f"/apis/{scope.group}/v9",
    ):
        reply = await http.get(path)
        assert reply.status == 404, path
        assert reply.headers["Content-Type"].startswith("text/plain") and reply.body == "404 page not found\n"


async def test_subresource_that_is_not_served_is_the_object_not_found(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    reply = await http.get(f"{scope.widgets()}/w1/scale")
    assert reply.status == 404 and reply.body["message"] == f'widgets.{scope.group} "w1" not found'


async def test_create_in_a_missing_namespace_is_a_404(http: Http, scope: Scope) -> None:
    body = scope.widget("w1")
    del body["metadata"]["namespace"]
    missing = scope.name("nowhere")
    reply = await http.post(scope.widgets(missing), body)
    assert reply.status == 404 and reply.body["message"] == f'namespaces "{missing}" not found'


async def test_invalid_name_is_a_422_invalid(http: Http, scope: Scope) -> None:
    reply = await http.post(scope.widgets(), scope.widget("Not_A_Name"))
    assert reply.status == 422 and reply.body["reason"] == "Invalid"
    (cause,) = {(c["reason"], c["field"]) for c in reply.body["details"]["causes"]}
    assert cause == ("FieldValueInvalid", "metadata.name")
    nameless = scope.widget("")
    reply = await http.post(scope.widgets(), nameless)
    assert reply.body["message"] == (
        f'Widget.{scope.group} "" is invalid: metadata.name: Required value: name or generateName is required'
    )
    assert "name" not in reply.body["details"]  # no name to tell


async def test_a_body_of_another_kind_is_refused(http: Http, scope: Scope) -> None:
    # Custom resources are decoded first, then their kind fails validation; built-ins fail decoding.
    gadget = dict(scope.widget("g"), kind="Gadget")
    reply = await http.post(scope.widgets(), gadget)
    assert reply.status == 422
    assert (
        reply.body["message"]
        == f'Gadget.{scope.group} "g" is invalid: kind: Invalid value: "Gadget": must be Widget'
    )
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    reply = await http.post(f"/api/v1/namespaces/{scope.namespace}/configmaps", secret)
    assert reply.status == 400 and reply.body["reason"] == "BadRequest"


async def test_a_put_needs_a_name(http: Http, scope: Scope) -> None:
    reply = await http.put(scope.widgets(), scope.widget("w1"))
    assert reply.status == 400 and reply.body["message"] == "name must be provided"
    configmaps = f"/api/v1/namespaces/{scope.namespace}/configmaps"
    assert (await http.put(configmaps, {"metadata": {"name": "c"}})).status == 405


async def test_watch_from_a_malformed_resource_version_is_a_500(http: Http, scope: Scope) -> None:
    reply = await http.get(scope.widgets(), params={"watch": "true", "resourceVersion": "abc"})
    assert reply.status == 500 and "reason" not in reply.body
    assert reply.body["message"].startswith('resourceVersion: Invalid value: "abc"')


async def test_unsupported_patch_content_type_is_a_415(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    reply = await http.call("PATCH", f"{scope.widgets()}/w1", {"spec": {}}, content_type="application/json")
    assert reply.status == 415
