"""Watch streams: JSON lines, resume from a resourceVersion, timeouts, selectors."""

from __future__ import annotations

import time

import aiohttp
import pytest

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.backends import Backend
from tests.emulator.helpers import Http, Scope, WatchStream, watch

pytestmark = pytest.mark.usefixtures("crd")


async def test_watch_streams_json_lines_with_synthetic_added_events_first(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    await http.post(scope.widgets(), scope.widget("w2"))
    async with watch(session, cluster.url + scope.widgets()) as stream:
        assert stream.content_type.split(";")[0] == "application/json"
        initial = await stream.take(2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [
            ("ADDED", "w1"),
            ("ADDED", "w2"),
        ]
        await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}})
        await http.delete(f"{scope.widgets()}/w2")
        await http.post(scope.widgets(), scope.widget("w3"))
        live = await stream.take(3)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in live] == [
            ("MODIFIED", "w1"),
            ("DELETED", "w2"),
            ("ADDED", "w3"),
        ]
        assert live[0]["object"]["spec"] == {"size": 2}
        assert live[0]["object"]["kind"] == "Widget"


async def test_watch_resumes_after_a_resource_version(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    listed = (await http.get(scope.widgets())).body["metadata"]["resourceVersion"]
    await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 5}})
    await http.post(scope.widgets(), scope.widget("w2"))
    async with watch(session, cluster.url + scope.widgets(), resourceVersion=listed) as stream:
        events = await stream.take(2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("MODIFIED", "w1"),
            ("ADDED", "w2"),
        ]
        assert all(int(e["object"]["metadata"]["resourceVersion"]) > int(listed) for e in events)
        await http.post(scope.widgets(), scope.widget("w3"))
        assert (await stream.next())["object"]["metadata"]["name"] == "w3"


async def test_watch_from_before_the_resource_existed_gets_410_expired(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    # The server keeps a resource's watch history from when it started serving it (for a CRD: when it was
    # established); an older resourceVersion cannot be resumed from. The test's namespace predates its CRD.
    before = (await http.get(f"/api/v1/namespaces/{scope.namespace}")).body["metadata"]["resourceVersion"]
    await http.post(scope.widgets(), scope.widget("w1"))
    async with watch(session, cluster.url + scope.widgets(), resourceVersion=before) as stream:
        event = await stream.next()
        assert event["type"] == "ERROR", event
        assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
        assert event["object"]["message"].startswith(f"too old resource version: {before} (")


@pytest.mark.emulator_only("watch_history_limit is the emulator's knob for a compacted history")
async def test_watch_from_a_compacted_resource_version_gets_410_expired(
    session: aiohttp.ClientSession, scope: Scope
) -> None:
    async with EmulatedCluster(watch_history_limit=3) as small:
        http = Http(session, small.url)
        await http.post("/api/v1/namespaces", {"metadata": {"name": scope.namespace}})
        await small.apply(scope.crd())
        first = (await http.post(scope.widgets(), scope.widget("w1"))).body["metadata"]["resourceVersion"]
        for size in range(2, 7):
            await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": size}})
        async with watch(session, small.url + scope.widgets(), resourceVersion=first) as stream:
            event = await stream.next()
            assert event["type"] == "ERROR"
            assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


async def test_watch_timeout_seconds_ends_the_stream(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    started = time.monotonic()
    async with watch(session, cluster.url + scope.widgets(), timeoutSeconds="1") as stream:
        events = await stream.rest(within=5)
    assert [e["type"] for e in events] == ["ADDED"]
    assert 0.9 <= time.monotonic() - started < 4


async def test_watch_label_selector_turns_transitions_into_added_and_deleted(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    async with watch(session, cluster.url + scope.widgets(), labelSelector="app=web") as stream:
        await http.post(scope.widgets(), scope.widget("noise"))
        await http.patch(f"{scope.widgets()}/w1", {"metadata": {"labels": {"app": "web"}}})
        await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}})
        await http.patch(f"{scope.widgets()}/w1", {"metadata": {"labels": {"app": "db"}}})
        events = await stream.take(3)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "w1"),
            ("MODIFIED", "w1"),
            ("DELETED", "w1"),
        ]


async def test_watch_field_selector_on_name_and_namespace(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    await http.post(scope.widgets(), scope.widget("w2"))
    selector = f"metadata.name=w2,metadata.namespace={scope.namespace}"
    async with watch(session, cluster.url + scope.all_widgets, fieldSelector=selector) as stream:
        assert (await stream.next())["object"]["metadata"]["name"] == "w2"
        await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 7}})
        await http.patch(f"{scope.widgets()}/w2", {"spec": {"size": 8}})
        event = await stream.next()
        assert (event["type"], event["object"]["metadata"]["name"]) == ("MODIFIED", "w2")


async def test_watch_with_send_initial_events_ends_the_initial_state_with_a_bookmark(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    last = (await http.post(scope.widgets(), scope.widget("w1"))).body["metadata"]["resourceVersion"]
    params = {
        "sendInitialEvents": "true",
        "allowWatchBookmarks": "true",
        "resourceVersionMatch": "NotOlderThan",
    }
    async with watch(session, cluster.url + scope.widgets(), **params) as stream:
        added, bookmark = await stream.take(2)
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "w1"
        assert bookmark["type"] == "BOOKMARK"
        # The resourceVersion of the initial state: the server's latest (writes elsewhere count too).
        assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(last)
        assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_a_watch_from_now_with_bookmarks_marks_the_end_of_the_initial_events(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    last = (await http.post(scope.widgets(), scope.widget("w1"))).body["metadata"]["resourceVersion"]
    async with watch(session, cluster.url + scope.widgets(), allowWatchBookmarks="true") as stream:
        added, bookmark = await stream.take(2)
        assert added["type"] == "ADDED" and bookmark["type"] == "BOOKMARK"
        assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(last)
    # Resuming from a resourceVersion: no initial events, so no such bookmark.
    async with watch(
        session, cluster.url + scope.widgets(), allowWatchBookmarks="true", resourceVersion=last
    ) as stream:
        await http.post(scope.widgets(), scope.widget("w2"))
        assert (await stream.next())["type"] == "ADDED"


async def test_a_table_watch_sends_the_column_definitions_once(
    cluster: Backend, http: Http, session: aiohttp.ClientSession, scope: Scope
) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    headers = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    async with session.get(
        cluster.url + scope.widgets(), params={"watch": "true"}, headers=headers
    ) as response:
        stream = WatchStream(response)
        first = await stream.next()
        await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}})
        second = await stream.next()
    assert first["object"]["kind"] == "Table" and len(first["object"]["columnDefinitions"]) == 5
    assert second["type"] == "MODIFIED" and second["object"]["columnDefinitions"] is None
    assert second["object"]["rows"][0]["cells"][:2] == ["w1", 2]
