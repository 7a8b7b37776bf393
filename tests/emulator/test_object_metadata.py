"""System metadata on writes: uid, resourceVersion, generation, creationTimestamp."""

from __future__ import annotations

import datetime
import uuid

import pytest

from tests.emulator.helpers import WIDGETS, Http, widget

pytestmark = pytest.mark.usefixtures("crd")


async def test_create_sets_uid_resource_version_generation_and_creation_timestamp(http: Http) -> None:
    reply = await http.post(WIDGETS, widget("w1"))
    assert reply.status == 201
    meta = reply.body["metadata"]
    uuid.UUID(meta["uid"])
    assert int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1
    created = datetime.datetime.strptime(meta["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    assert abs((now - created).total_seconds()) < 5
    assert meta["namespace"] == "default"

    again = await http.get(f"{WIDGETS}/w1")
    assert again.body["metadata"] == meta


async def test_client_supplied_system_metadata_is_ignored(http: Http) -> None:
    body = widget("w1")
    body["metadata"].update(
        uid="forged", generation=42, resourceVersion="999", creationTimestamp="2001-01-01T00:00:00Z"
    )
    reply = await http.post(WIDGETS, body)
    meta = reply.body["metadata"]
    assert meta["uid"] != "forged" and meta["generation"] == 1 and meta["resourceVersion"] != "999"
    assert not meta["creationTimestamp"].startswith("2001")

    patched = await http.patch(f"{WIDGETS}/w1", {"metadata": {"uid": "forged", "generation": 7}})
    assert patched.body["metadata"]["uid"] == meta["uid"]
    assert patched.body["metadata"]["generation"] == 1


async def test_resource_version_changes_on_every_write_and_is_monotonic(http: Http) -> None:
    versions = [int((await http.post(WIDGETS, widget("w1"))).body["metadata"]["resourceVersion"])]
    for size in range(2, 6):
        reply = await http.patch(f"{WIDGETS}/w1", {"spec": {"size": size}})
        versions.append(int(reply.body["metadata"]["resourceVersion"]))
    reply = await http.patch(f"{WIDGETS}/w1/status", {"status": {"phase": "Ready"}})
    versions.append(int(reply.body["metadata"]["resourceVersion"]))
    other = await http.post(WIDGETS, widget("w2"))
    versions.append(int(other.body["metadata"]["resourceVersion"]))
    assert versions == sorted(set(versions)), versions


async def test_noop_write_keeps_the_resource_version(http: Http) -> None:
    created = await http.post(WIDGETS, widget("w1", size=3))
    reply = await http.patch(f"{WIDGETS}/w1", {"spec": {"size": 3}})
    assert reply.body["metadata"]["resourceVersion"] == created.body["metadata"]["resourceVersion"]


async def test_generation_bumps_on_spec_changes_only(http: Http) -> None:
    await http.post(WIDGETS, widget("w1", size=1))
    spec_change = await http.patch(f"{WIDGETS}/w1", {"spec": {"size": 2}})
    assert spec_change.body["metadata"]["generation"] == 2
    labels = await http.patch(
        f"{WIDGETS}/w1", {"metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}}}
    )
    assert labels.body["metadata"]["generation"] == 2
    status = await http.patch(f"{WIDGETS}/w1/status", {"status": {"phase": "Ready"}})
    assert status.body["metadata"]["generation"] == 2
    top_level = await http.patch(f"{WIDGETS}/w1", {"data": {"extra": True}})
    assert top_level.body["metadata"]["generation"] == 3


async def test_builtins_without_generation_tracking_have_no_generation(http: Http) -> None:
    created = await http.post(
        "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c"}, "data": {"a": "1"}}
    )
    assert "generation" not in created.body["metadata"]
    patched = await http.patch("/api/v1/namespaces/default/configmaps/c", {"data": {"a": "2"}})
    assert "generation" not in patched.body["metadata"]
    deployment = {"metadata": {"name": "d"}, "spec": {"replicas": 1}}
    assert (await http.post("/apis/apps/v1/namespaces/default/deployments", deployment)).body["metadata"][
        "generation"
    ] == 1
