"""System metadata on writes: uid, resourceVersion, generation, creationTimestamp."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest

from tests.emulator.helpers import Http, Scope

pytestmark = pytest.mark.usefixtures("crd")


def deployment(name: str) -> dict[str, Any]:
    """A valid Deployment (a real server validates built-in kinds)."""
    labels = {"app": name}
    container = {"name": "main", "image": "registry.example.com/app:1"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


async def test_create_sets_uid_resource_version_generation_and_creation_timestamp(
    http: Http, scope: Scope
) -> None:
    reply = await http.post(scope.widgets(), scope.widget("w1"))
    assert reply.status == 201
    meta = reply.body["metadata"]
    uuid.UUID(meta["uid"])
    assert int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1
    created = datetime.datetime.strptime(meta["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    assert abs((now - created).total_seconds()) < 5
    assert meta["namespace"] == scope.namespace

    again = await http.get(f"{scope.widgets()}/w1")
    assert again.body["metadata"] == meta


async def test_client_supplied_system_metadata_is_ignored(http: Http, scope: Scope) -> None:
    body = scope.widget("w1")
    body["metadata"].update(uid="forged", generation=42, creationTimestamp="2001-01-01T00:00:00Z")
    reply = await http.post(scope.widgets(), body)
    meta = reply.body["metadata"]
    assert meta["uid"] != "forged" and meta["generation"] == 1
    assert not meta["creationTimestamp"].startswith("2001")

    patch = {"metadata": {"generation": 7, "creationTimestamp": "2001-01-01T00:00:00Z", "selfLink": "/x"}}
    patched = (await http.patch(f"{scope.widgets()}/w1", patch)).body["metadata"]
    assert (patched["uid"], patched["generation"]) == (meta["uid"], 1)
    assert patched["creationTimestamp"] == meta["creationTimestamp"] and "selfLink" not in patched


async def test_a_resource_version_on_create_is_refused(http: Http, scope: Scope) -> None:
    body = scope.widget("w1")
    body["metadata"]["resourceVersion"] = "999"
    reply = await http.post(scope.widgets(), body)
    # Refused by the storage layer, which answers a 500 without a reason.
    assert reply.status == 500 and "reason" not in reply.body
    assert reply.body["message"] == "resourceVersion should not be set on objects to be created"


async def test_the_uid_is_immutable(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    reply = await http.patch(f"{scope.widgets()}/w1", {"metadata": {"uid": "forged"}})
    assert reply.status == 422 and reply.body["reason"] == "Invalid"
    assert 'metadata.uid: Invalid value: "forged": field is immutable' in reply.body["message"]


async def test_renaming_or_moving_by_a_patch_is_a_400(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1"))
    renamed = await http.patch(f"{scope.widgets()}/w1", {"metadata": {"name": "w2"}})
    assert renamed.status == 400
    assert renamed.body["message"] == "the name of the object (w2) does not match the name on the URL (w1)"
    moved = await http.patch(f"{scope.widgets()}/w1", {"metadata": {"namespace": scope.name("other")}})
    assert moved.status == 400 and moved.body["reason"] == "BadRequest"


async def test_a_put_of_a_custom_resource_needs_a_resource_version(http: Http, scope: Scope) -> None:
    current = (await http.post(scope.widgets(), scope.widget("w1"))).body
    del current["metadata"]["resourceVersion"]
    reply = await http.put(f"{scope.widgets()}/w1", current)
    assert reply.status == 422 and reply.body["message"] == (
        f'widgets.{scope.group} "w1" is invalid: '
        "metadata.resourceVersion: Invalid value: 0: must be specified for an update"
    )
    # Built-in kinds like ConfigMaps allow unconditional updates.
    configmaps = f"/api/v1/namespaces/{scope.namespace}/configmaps"
    await http.post(configmaps, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    replaced = await http.put(f"{configmaps}/c", {"metadata": {"name": "c"}, "data": {"a": "2"}})
    assert replaced.status == 200 and replaced.body["data"] == {"a": "2"}


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"labels": {"a~b/c": "x"}}, "metadata.labels"),
        ({"labels": {"ok": "not ok!"}}, "metadata.labels"),
        ({"annotations": {"bad key": "x"}}, "metadata.annotations"),
        ({"finalizers": ["bad finalizer"]}, "metadata.finalizers"),
    ],
)
async def test_invalid_labels_annotations_and_finalizers_are_a_422(
    http: Http, scope: Scope, metadata: dict[str, Any], field: str
) -> None:
    body = scope.widget("w1")
    body["metadata"].update(metadata)
    created = await http.post(scope.widgets(), body)
    assert created.status == 422 and f"{field}: Invalid value" in created.body["message"]
    await http.post(scope.widgets(), scope.widget("w2"))
    patched = await http.patch(f"{scope.widgets()}/w2", {"metadata": metadata})
    assert patched.status == 422 and f"{field}: Invalid value" in patched.body["message"]


async def test_metadata_keeps_only_object_meta_fields_and_drops_empty_ones(http: Http, scope: Scope) -> None:
    body = scope.widget("w1")
    body["metadata"].update(labels={}, annotations={}, finalizers=[], color="red")
    created = (await http.post(scope.widgets(), body)).body["metadata"]
    assert not {"labels", "annotations", "finalizers", "color"} & set(created)
    patched = await http.patch(f"{scope.widgets()}/w1", {"metadata": {"labels": {"a": "b"}, "size": 3}})
    assert patched.body["metadata"]["labels"] == {"a": "b"} and "size" not in patched.body["metadata"]


async def test_resource_version_changes_on_every_write_and_is_monotonic(http: Http, scope: Scope) -> None:
    versions = [
        int((await http.post(scope.widgets(), scope.widget("w1"))).body["metadata"]["resourceVersion"])
    ]
    for size in range(2, 6):
        reply = await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": size}})
        versions.append(int(reply.body["metadata"]["resourceVersion"]))
    reply = await http.patch(f"{scope.widgets()}/w1/status", {"status": {"phase": "Ready"}})
    versions.append(int(reply.body["metadata"]["resourceVersion"]))
    other = await http.post(scope.widgets(), scope.widget("w2"))
    versions.append(int(other.body["metadata"]["resourceVersion"]))
    assert versions == sorted(set(versions)), versions


async def test_noop_write_keeps_the_resource_version(http: Http, scope: Scope) -> None:
    created = await http.post(scope.widgets(), scope.widget("w1", size=3))
    reply = await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 3}})
    assert reply.body["metadata"]["resourceVersion"] == created.body["metadata"]["resourceVersion"]


async def test_generation_bumps_on_spec_changes_only(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1", size=1))
    spec_change = await http.patch(f"{scope.widgets()}/w1", {"spec": {"size": 2}})
    assert spec_change.body["metadata"]["generation"] == 2
    labels = await http.patch(
        f"{scope.widgets()}/w1", {"metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}}}
    )
    assert labels.body["metadata"]["generation"] == 2
    status = await http.patch(f"{scope.widgets()}/w1/status", {"status": {"phase": "Ready"}})
    assert status.body["metadata"]["generation"] == 2
    top_level = await http.patch(f"{scope.widgets()}/w1", {"data": {"extra": True}})
    assert top_level.body["metadata"]["generation"] == 3


async def test_builtins_without_generation_tracking_have_no_generation(http: Http, scope: Scope) -> None:
    configmaps = f"/api/v1/namespaces/{scope.namespace}/configmaps"
    created = await http.post(configmaps, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    assert "generation" not in created.body["metadata"]
    patched = await http.patch(f"{configmaps}/c", {"data": {"a": "2"}})
    assert "generation" not in patched.body["metadata"]
    created = await http.post(f"/apis/apps/v1/namespaces/{scope.namespace}/deployments", deployment("d"))
    assert created.status == 201, created.body
    assert created.body["metadata"]["generation"] == 1


@pytest.mark.emulator_limitation("objects carry no metadata.managedFields (field ownership is not tracked)")
async def test_writes_record_their_field_manager(http: Http, scope: Scope) -> None:
    created = await http.post(scope.widgets(), scope.widget("w1"), params={"fieldManager": "tester"})
    (entry,) = created.body["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("tester", "Update", "FieldsV1")
    assert entry["fieldsV1"] == {"f:spec": {".": {}, "f:size": {}}}


@pytest.mark.emulator_limitation("built-in kinds are not validated (e.g. a Deployment without a selector)")
async def test_builtin_kinds_are_validated(http: Http, scope: Scope) -> None:
    invalid = {"metadata": {"name": "d"}, "spec": {"replicas": 1}}
    reply = await http.post(f"/apis/apps/v1/namespaces/{scope.namespace}/deployments", invalid)
    assert reply.status == 422 and "spec.selector: Required value" in reply.body["message"]


@pytest.mark.emulator_limitation(
    "built-in kinds are not defaulted (besides a Secret's type): e.g. a Deployment gets no strategy, no "
    "revisionHistoryLimit, its containers no imagePullPolicy"
)
async def test_builtin_kinds_are_defaulted(http: Http, scope: Scope) -> None:
    created = (
        await http.post(f"/apis/apps/v1/namespaces/{scope.namespace}/deployments", deployment("d"))
    ).body
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"
    assert created["spec"]["revisionHistoryLimit"] == 10
    assert created["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
