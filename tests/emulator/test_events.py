"""core/v1 Events are stored and found by their involved object (as kubectl describe does)."""

from __future__ import annotations

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import Http

EVENTS = "/api/v1/namespaces/default/events"


def event(about: str, uid: str, reason: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": "kopf-event-"},
        "involvedObject": {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "name": about,
            "namespace": "default",
            "uid": uid,
        },
        "reason": reason,
        "message": f"{reason} {about}",
        "type": "Normal",
        "source": {"component": "kopf"},
    }


async def test_events_are_filtered_by_involved_object_fields(cluster: EmulatedCluster, http: Http) -> None:
    for about, uid, reason in (("w1", "u1", "Created"), ("w1", "u1", "Updated"), ("w2", "u2", "Created")):
        reply = await http.post(EVENTS, event(about, uid, reason))
        assert reply.status == 201 and reply.body["metadata"]["name"].startswith("kopf-event-")
    selector = "involvedObject.name=w1,involvedObject.namespace=default,involvedObject.uid=u1"
    found = (await http.get(EVENTS, params={"fieldSelector": selector})).body["items"]
    assert sorted(e["reason"] for e in found) == ["Created", "Updated"]
    assert (await http.get(EVENTS, params={"fieldSelector": "involvedObject.uid=u9"})).body["items"] == []
    assert [e["reason"] for e in await cluster.events_for("default", "w2")] == ["Created"]
