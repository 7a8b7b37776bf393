"""kmock's DSL stays usable on the emulator (fault injection, request views); the request log is bounded."""

from __future__ import annotations

import time

import aiohttp
import kmock
import pytest

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import Http, Scope

pytestmark = pytest.mark.emulator_only("kmock's DSL and request log belong to the emulator")


@pytest.mark.usefixtures("crd")
async def test_injected_fault_takes_priority_and_leaves_the_store_untouched(
    emulator: EmulatedCluster, http: Http, scope: Scope
) -> None:
    await http.post(scope.widgets(), scope.widget("w1", size=1))
    emulator.emulator["patch", kmock.resource(scope.group, "v1", "widgets")] << 500
    reply = await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}})
    assert reply.status == 500
    assert (await http.get(f"{scope.widgets()}/w1")).body["spec"] == {"size": 1}
    assert len(emulator.emulator["patch"]) == 1


@pytest.mark.usefixtures("crd")
async def test_one_shot_fault_then_normal_service(
    emulator: EmulatedCluster, http: Http, scope: Scope
) -> None:
    await http.post(scope.widgets(), scope.widget("w1", size=1))
    emulator.emulator["patch", kmock.resource(scope.group, "v1", "widgets")][:1] << 409
    assert (await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}})).status == 409
    assert (await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 3}})).status == 200


async def test_request_log_keeps_only_the_newest_requests() -> None:
    async with EmulatedCluster(request_log_limit=10) as small, aiohttp.ClientSession() as session:
        http = Http(session, small.url)
        for index in range(30):
            await http.get(f"/api/v1/namespaces/default/configmaps?i={index}")
        assert len(small.emulator) == 10
        assert [request.params["i"] for request in small.emulator] == [str(i) for i in range(20, 30)]


async def test_thousands_of_objects_stay_fast(emulator: EmulatedCluster, http: Http, scope: Scope) -> None:
    configmaps = f"/api/v1/namespaces/{scope.namespace}/configmaps"
    started = time.monotonic()
    for index in range(1000):
        reply = await http.post(configmaps, {"metadata": {"name": f"cm-{index}"}})
        assert reply.status == 201
    for index in range(0, 1000, 5):
        assert (await http.get(f"{configmaps}/cm-{index}")).status == 200
    listed = await http.get(configmaps, params={"labelSelector": "missing"})
    assert listed.body["items"] == []
    assert len((await http.get(configmaps)).body["items"]) == 1000
    assert time.monotonic() - started < 20
    assert len(emulator.emulator) == 1000  # the default request_log_limit
