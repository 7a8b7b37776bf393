"""Watch streams: JSON lines, resume from a resourceVersion, timeouts, selectors."""

from __future__ import annotations

import time

import aiohttp
import pytest

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import WIDGETS, Http, watch, widget, widget_crd

pytestmark = pytest.mark.usefixtures("crd")


async def test_watch_streams_json_lines_with_synthetic_added_events_first(
    cluster: EmulatedCluster, http: Http, session: aiohttp.ClientSession
) -> None:
    await http.post(WIDGETS, widget("w1"))
    await http.post(WIDGETS, widget("w2"))
    async with watch(session, cluster.url + WIDGETS) as stream:
        assert stream.content_type.split(";")[0] == "application/json"
        initial = await stream.take(2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in initial] == [
            ("ADDED", "w1"),
            ("ADDED", "w2"),
        ]
        await http.patch(f"{WIDGETS}/w1", {"spec": {"size": 2}})
        await http.delete(f"{WIDGETS}/w2")
        await http.post(WIDGETS, widget("w3"))
        live = await stream.take(3)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in live] == [
            ("MODIFIED", "w1"),
            ("DELETED", "w2"),
            ("ADDED", "w3"),
        ]
        assert live[0]["object"]["spec"] == {"size": 2}
        assert live[0]["object"]["kind"] == "Widget"


async def test_watch_resumes_after_a_resource_version(
    cluster: EmulatedCluster, http: Http, session: aiohttp.ClientSession
) -> None:
    await http.post(WIDGETS, widget("w1"))
    listed = (await http.get(WIDGETS)).body["metadata"]["resourceVersion"]
    await http.patch(f"{WIDGETS}/w1", {"spec": {"size": 5}})
    await http.post(WIDGETS, widget("w2"))
    async with watch(session, cluster.url + WIDGETS, resourceVersion=listed) as stream:
        events = await stream.take(2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("MODIFIED", "w1"),
            ("ADDED", "w2"),
        ]
        assert all(int(e["object"]["metadata"]["resourceVersion"]) > int(listed) for e in events)
        await http.post(WIDGETS, widget("w3"))
        assert (await stream.next())["object"]["metadata"]["name"] == "w3"


async def test_watch_from_a_compacted_resource_version_gets_410_expired(
    session: aiohttp.ClientSession,
) -> None:
    async with EmulatedCluster(watch_history_limit=3) as small:
        http = Http(session, small.url)
        await small.apply(widget_crd())
        first = (await http.post(WIDGETS, widget("w1"))).body["metadata"]["resourceVersion"]
        for size in range(2, 7):
            await http.patch(f"{WIDGETS}/w1", {"spec": {"size": size}})
        async with watch(session, small.url + WIDGETS, resourceVersion=first) as stream:
            event = await stream.next()
            assert event["type"] == "ERROR"
            assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


async def test_watch_timeout_seconds_ends_the_stream(
    cluster: EmulatedCluster, http: Http, session: aiohttp.ClientSession
) -> None:
    await http.post(WIDGETS, widget("w1"))
    started = time.monotonic()
    async with watch(session, cluster.url + WIDGETS, timeoutSeconds="1") as stream:
        events = await stream.rest(within=5)
    assert [e["type"] for e in events] == ["ADDED"]
    assert 0.9 <= time.monotonic() - started < 4


async def test_watch_label_selector_turns_transitions_into_added_and_deleted(
    cluster: EmulatedCluster, http: Http, session: aiohttp.ClientSession
) -> None:
    await http.post(WIDGETS, widget("w1"))
    async with watch(session, cluster.url + WIDGETS, labelSelector="app=web") as stream:
        await http.post(WIDGETS, widget("noise"))
        await http.patch(f"{WIDGETS}/w1", {"metadata": {"labels": {"app": "web"}}})
        await http.patch(f"{WIDGETS}/w1", {"spec": {"size": 2}})
        await http.patch(f"{WIDGETS}/w1", {"metadata": {"labels": {"app": "db"}}})
        events = await stream.take(3)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "w1"),
            ("MODIFIED", "w1"),
            ("DELETED", "w1"),
        ]


async def test_watch_field_selector_on_name_and_namespace(
    cluster: EmulatedCluster, http: Http, session: aiohttp.ClientSession
) -> None:
    await http.post(WIDGETS, widget("w1"))
    await http.post(WIDGETS, widget("w2"))
    selector = "metadata.name=w2,metadata.namespace=default"
    async with watch(session, cluster.url + "/apis/example.com/v1/widgets", fieldSelector=selector) as stream:
        assert (await stream.next())["object"]["metadata"]["name"] == "w2"
        await http.patch(f"{WIDGETS}/w1", {"spec": {"size": 7}})
        await http.patch(f"{WIDGETS}/w2", {"spec": {"size": 8}})
        event = await stream.next()
        assert (event["type"], event["object"]["metadata"]["name"]) == ("MODIFIED", "w2")


async def test_watch_with_send_initial_events_ends_the_initial_state_with_a_bookmark(
    cluster: EmulatedCluster, http: Http, session: aiohttp.ClientSession
) -> None:
    last = (await http.post(WIDGETS, widget("w1"))).body["metadata"]["resourceVersion"]
    params = {
        "sendInitialEvents": "true",
        "allowWatchBookmarks": "true",
        "resourceVersionMatch": "NotOlderThan",
    }
    async with watch(session, cluster.url + WIDGETS, **params) as stream:
        added, bookmark = await stream.take(2)
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "w1"
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"]["metadata"]["resourceVersion"] == last
        assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
