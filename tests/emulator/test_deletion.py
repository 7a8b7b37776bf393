"""Deletion: immediate without finalizers; deletionTimestamp and a later release with finalizers."""

from __future__ import annotations

import aiohttp
import pytest

from tests.emulator.backends import Backend
from tests.emulator.helpers import Http, Scope, watch
from tests.support.waiting import eventually

pytestmark = pytest.mark.usefixtures("crd")


async def test_delete_without_finalizers_removes_the_object_at_once(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    uid = (await http.post(scope.widgets(), scope.widget("w1"))).body["metadata"]["uid"]
    async with watch(session, cluster.url + scope.widgets()) as stream:
        await stream.next()
        reply = await http.delete(f"{scope.widgets()}/w1")
        # Deleted at once: the answer is a Status about it, not the object.
        assert reply.status == 200 and reply.body["kind"] == "Status" and reply.body["status"] == "Success"
        assert reply.body["details"] == {"name": "w1", "group": scope.group, "kind": "widgets", "uid": uid}
        event = await stream.next()
        assert event["type"] == "DELETED"
    assert (await http.get(f"{scope.widgets()}/w1")).status == 404
    assert (await http.delete(f"{scope.widgets()}/w1")).status == 404


async def test_finalizers_hold_the_object_until_released(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    body = scope.widget("w1")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    created = (await http.post(scope.widgets(), body)).body
    async with watch(session, cluster.url + scope.widgets()) as stream:
        await stream.next()

        reply = await http.delete(f"{scope.widgets()}/w1")
        assert reply.status == 200
        meta = reply.body["metadata"]
        assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 0
        assert meta["generation"] == created["metadata"]["generation"] + 1
        marked = await stream.next()
        assert marked["type"] == "MODIFIED" and marked["object"]["metadata"]["deletionTimestamp"]
        assert (await http.get(f"{scope.widgets()}/w1")).status == 200

        again = await http.delete(f"{scope.widgets()}/w1")  # idempotent while terminating
        assert again.body["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
        extra = await http.patch(
            f"{scope.widgets()}/w1", {"metadata": {"finalizers": ["example.com/cleanup", "x/y"]}}
        )
        assert extra.status == 422  # no new finalizers on an object being deleted

        released = await http.patch(f"{scope.widgets()}/w1", {"metadata": {"finalizers": None}})
        # Deleted instead of updated: the answer is the update at the version it was made on...
        assert "finalizers" not in released.body["metadata"]
        assert released.body["metadata"]["resourceVersion"] == meta["resourceVersion"]
        # ... and the DELETED event carries the last stored state, finalizer included.
        gone = await stream.next()
        assert gone["type"] == "DELETED" and gone["object"]["metadata"]["name"] == "w1"
        assert gone["object"]["metadata"]["finalizers"] == ["example.com/cleanup"]
        assert int(gone["object"]["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert (await http.get(f"{scope.widgets()}/w1")).status == 404


async def test_json_patch_removing_the_last_finalizer_deletes_the_object(http: Http, scope: Scope) -> None:
    body = scope.widget("w1")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    await http.post(scope.widgets(), body)
    marked = (await http.delete(f"{scope.widgets()}/w1")).body
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": marked["metadata"]["resourceVersion"]},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]
    assert (await http.patch(f"{scope.widgets()}/w1", ops, kind="json")).status == 200
    assert (await http.get(f"{scope.widgets()}/w1")).status == 404


async def test_delete_precondition_on_uid_is_a_409(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    reply = await http.delete(f"{scope.widgets()}/w1", {"preconditions": {"uid": "not-the-uid"}})
    assert reply.status == 409 and reply.body["details"]["kind"] == "Widget"
    assert reply.body["message"].startswith(
        f'Operation cannot be fulfilled on Widget.{scope.group} "w1": '
        "the UID in the precondition (not-the-uid) does not match the UID in record ("
    )
    reply = await http.delete(f"{scope.widgets()}/w1", {"preconditions": {"resourceVersion": "1"}})
    assert reply.status == 409 and "The object might have been modified" in reply.body["message"]
    assert (await http.get(f"{scope.widgets()}/w1")).status == 200


async def test_deleting_a_builtin_answers_a_success_status(http: Http, scope: Scope) -> None:
    configmaps = f"/api/v1/namespaces/{scope.namespace}/configmaps"
    await http.post(configmaps, {"metadata": {"name": "cm"}, "data": {"a": "b"}})
    reply = await http.delete(f"{configmaps}/cm")
    assert reply.status == 200
    assert reply.body["kind"] == "Status" and reply.body["status"] == "Success"
    assert reply.body["details"]["name"] == "cm"


async def test_delete_collection_by_label(http: Http, scope: Scope) -> None:
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        body = scope.widget(name)
        body["metadata"]["labels"] = {"app": app}
        await http.post(scope.widgets(), body)
    reply = await http.delete(scope.widgets(), params={"labelSelector": "app=x"})
    assert [i["metadata"]["name"] for i in reply.body["items"]] == ["a", "b"]
    assert [i["metadata"]["name"] for i in (await http.get(scope.widgets())).body["items"]] == ["c"]


@pytest.mark.emulator_limitation(
    "no garbage collection: dependents are not deleted with their ownerReferences' owner"
)
async def test_dependents_are_garbage_collected_with_their_owner(http: Http, scope: Scope) -> None:
    configmaps = f"/api/v1/namespaces/{scope.namespace}/configmaps"
    owner = (await http.post(configmaps, {"metadata": {"name": "owner"}})).body
    reference = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    await http.post(configmaps, {"metadata": {"name": "dependent", "ownerReferences": [reference]}})
    await http.delete(f"{configmaps}/owner")

    async def collected() -> bool:
        return (await http.get(f"{configmaps}/dependent")).status == 404

    await eventually(collected, timeout=60, what="the garbage collector to delete the dependent")
