"""Deletion: immediate without finalizers; deletionTimestamp and a later release with finalizers."""

from __future__ import annotations

import aiohttp
import pytest

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import WIDGETS, Http, watch, widget

pytestmark = pytest.mark.usefixtures("crd")


async def test_delete_without_finalizers_removes_the_object_at_once(
    cluster: EmulatedCluster, http: Http, session: aiohttp.ClientSession
) -> None:
    await http.post(WIDGETS, widget("w1"))
    async with watch(session, cluster.url + WIDGETS) as stream:
        await stream.next()
        reply = await http.delete(f"{WIDGETS}/w1")
        assert reply.status == 200 and reply.body["metadata"]["name"] == "w1"
        event = await stream.next()
        assert event["type"] == "DELETED"
    assert (await http.get(f"{WIDGETS}/w1")).status == 404
    assert (await http.delete(f"{WIDGETS}/w1")).status == 404


async def test_finalizers_hold_the_object_until_released(
    cluster: EmulatedCluster, http: Http, session: aiohttp.ClientSession
) -> None:
    body = widget("w1")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    created = (await http.post(WIDGETS, body)).body
    async with watch(session, cluster.url + WIDGETS) as stream:
        await stream.next()

        reply = await http.delete(f"{WIDGETS}/w1")
        assert reply.status == 200
        meta = reply.body["metadata"]
        assert meta["deletionTimestamp"] and meta["deletionGracePeriodSeconds"] == 0
        assert meta["generation"] == created["metadata"]["generation"] + 1
        marked = await stream.next()
        assert marked["type"] == "MODIFIED" and marked["object"]["metadata"]["deletionTimestamp"]
        assert (await http.get(f"{WIDGETS}/w1")).status == 200

        again = await http.delete(f"{WIDGETS}/w1")  # idempotent while terminating
        assert again.body["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
        extra = await http.patch(
            f"{WIDGETS}/w1", {"metadata": {"finalizers": ["example.com/cleanup", "x/y"]}}
        )
        assert extra.status == 422  # no new finalizers on an object being deleted

        await http.patch(f"{WIDGETS}/w1", {"metadata": {"finalizers": None}})
        gone = await stream.next()
        assert gone["type"] == "DELETED" and gone["object"]["metadata"]["name"] == "w1"
    assert (await http.get(f"{WIDGETS}/w1")).status == 404
    assert cluster.get_object("example.com", "v1", "widgets", "default", "w1") is None


async def test_json_patch_removing_the_last_finalizer_deletes_the_object(http: Http) -> None:
    body = widget("w1")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    await http.post(WIDGETS, body)
    marked = (await http.delete(f"{WIDGETS}/w1")).body
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": marked["metadata"]["resourceVersion"]},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]
    assert (await http.patch(f"{WIDGETS}/w1", ops, kind="json")).status == 200
    assert (await http.get(f"{WIDGETS}/w1")).status == 404


async def test_delete_precondition_on_uid_is_a_409(http: Http) -> None:
    await http.post(WIDGETS, widget("w1"))
    reply = await http.delete(f"{WIDGETS}/w1", {"preconditions": {"uid": "not-the-uid"}})
    assert reply.status == 409
    assert (await http.get(f"{WIDGETS}/w1")).status == 200


async def test_deleting_a_builtin_answers_a_success_status(http: Http) -> None:
    await http.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "cm"}, "data": {"a": "b"}})
    reply = await http.delete("/api/v1/namespaces/default/configmaps/cm")
    assert reply.status == 200
    assert reply.body["kind"] == "Status" and reply.body["status"] == "Success"
    assert reply.body["details"]["name"] == "cm"


async def test_delete_collection_by_label(http: Http) -> None:
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        body = widget(name)
        body["metadata"]["labels"] = {"app": app}
        await http.post(WIDGETS, body)
    reply = await http.delete(WIDGETS, params={"labelSelector": "app=x"})
    assert [i["metadata"]["name"] for i in reply.body["items"]] == ["a", "b"]
    assert [i["metadata"]["name"] for i in (await http.get(WIDGETS)).body["items"]] == ["c"]
