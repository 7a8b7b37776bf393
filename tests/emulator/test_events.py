"""core/v1 Events are stored and found by their involved object (as kubectl describe does)."""

from __future__ import annotations

import pytest

from tests.emulator.backends import Backend
from tests.emulator.helpers import Http, Scope


def event(scope: Scope, about: str, uid: str, reason: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": "kopf-event-"},
        "involvedObject": {
            "apiVersion": scope.api_version,
            "kind": "Widget",
            "name": about,
            "namespace": scope.namespace,
            "uid": uid,
        },
        "reason": reason,
        "message": f"{reason} {about}",
        "type": "Normal",
        "source": {"component": "kopf"},
    }


async def test_events_are_filtered_by_involved_object_fields(
    cluster: Backend, http: Http, scope: Scope
) -> None:
    events = f"/api/v1/namespaces/{scope.namespace}/events"
    for about, uid, reason in (("w1", "u1", "Created"), ("w1", "u1", "Updated"), ("w2", "u2", "Created")):
        reply = await http.post(events, event(scope, about, uid, reason))
        assert reply.status == 201 and reply.body["metadata"]["name"].startswith("kopf-event-")
    selector = f"involvedObject.name=w1,involvedObject.namespace={scope.namespace},involvedObject.uid=u1"
    found = (await http.get(events, params={"fieldSelector": selector})).body["items"]
    assert sorted(e["reason"] for e in found) == ["Created", "Updated"]
    assert (await http.get(events, params={"fieldSelector": "involvedObject.uid=u9"})).body["items"] == []
    assert [e["reason"] for e in await cluster.events_for(scope.namespace, "w2")] == ["Created"]


async def test_events_always_show_their_source_timestamps_and_reporter(http: Http, scope: Scope) -> None:
    bare = event(scope, "w1", "u1", "Created")
    del bare["source"]
    created = (await http.post(f"/api/v1/namespaces/{scope.namespace}/events", bare)).body
    assert (
        created["source"] == {} and created["reportingComponent"] == "" and created["reportingInstance"] == ""
    )
    assert (
        created["firstTimestamp"] is None
        and created["lastTimestamp"] is None
        and created["eventTime"] is None
    )


async def test_unsupported_field_selector_is_a_400(http: Http, scope: Scope) -> None:
    # A real server filters only by the fields it indexes for the resource (events: involvedObject.*, reason,
    # source, type...; custom resources: metadata.name and metadata.namespace, plus declared selectableFields).
    events = f"/api/v1/namespaces/{scope.namespace}/events"
    reply = await http.get(events, params={"fieldSelector": "message=hello"})
    assert reply.status == 400 and reply.body["reason"] == "BadRequest"
    assert "field label not supported: message" in reply.body["message"]
    configmaps = f"/api/v1/namespaces/{scope.namespace}/configmaps"
    reply = await http.get(configmaps, params={"fieldSelector": "data.a=1"})
    assert reply.status == 400 and reply.body["reason"] == "BadRequest"


@pytest.mark.emulator_limitation(
    "core/v1 and events.k8s.io/v1 Events are stored apart: neither API shows the other's Events"
)
async def test_core_events_are_also_served_by_the_events_api(http: Http, scope: Scope) -> None:
    created = await http.post(
        f"/api/v1/namespaces/{scope.namespace}/events", event(scope, "w1", "u1", "Created")
    )
    name = created.body["metadata"]["name"]
    converted = await http.get(f"/apis/events.k8s.io/v1/namespaces/{scope.namespace}/events/{name}")
    assert converted.status == 200 and converted.body["apiVersion"] == "events.k8s.io/v1"
    assert converted.body["regarding"]["name"] == "w1" and converted.body["note"] == "Created w1"
    assert converted.body["deprecatedSource"] == {"component": "kopf"}
