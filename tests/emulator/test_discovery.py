"""Discovery: built-ins are served; a CRD's resources appear (and disappear) with the CRD."""

from __future__ import annotations

from typing import Any

import pytest

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.backends import Backend
from tests.emulator.helpers import CRDS, Http, Scope
from tests.support.waiting import eventually


async def test_builtin_resources_are_discoverable(http: Http) -> None:
    api = await http.get("/api")
    assert api.body["kind"] == "APIVersions" and api.body["versions"] == ["v1"]
    core = {r["name"]: r for r in (await http.get("/api/v1")).body["resources"]}
    assert {"namespaces", "secrets", "configmaps", "events", "serviceaccounts", "services", "pods"} <= set(
        core
    )
    assert core["namespaces"]["namespaced"] is False and core["secrets"]["namespaced"] is True
    assert core["configmaps"]["shortNames"] == ["cm"]
    groups = {g["name"] for g in (await http.get("/apis")).body["groups"]}
    assert {
        "apiextensions.k8s.io",
        "apps",
        "coordination.k8s.io",
        "events.k8s.io",
        "rbac.authorization.k8s.io",
    } <= groups
    rbac = {
        r["name"]: r["namespaced"]
        for r in (await http.get("/apis/rbac.authorization.k8s.io/v1")).body["resources"]
    }
    assert rbac == {"clusterrolebindings": False, "clusterroles": False, "rolebindings": True, "roles": True}
    version = (await http.get("/version")).body
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.")
    assert {"emulationMajor", "emulationMinor", "minCompatibilityMajor", "minCompatibilityMinor"} <= set(
        version
    )


async def established(http: Http, name: str) -> dict[str, Any] | None:
    """The CRD once its names are accepted and it is established (a real server does this asynchronously)."""
    reply = await http.get(f"{CRDS}/{name}")
    conditions = {c["type"]: c["status"] for c in (reply.body.get("status") or {}).get("conditions") or []}
    return reply.body if conditions.get("Established") == "True" else None


async def test_crd_creation_registers_the_resource_for_discovery(http: Http, scope: Scope) -> None:
    assert (await http.get(f"/apis/{scope.group}")).status == 404
    created = await http.post(CRDS, scope.crd())
    assert created.status == 201
    # The create answer is the CRD as stored, before the controllers accepted its names.
    assert created.body["status"]["acceptedNames"] == {"plural": "", "kind": ""}
    assert not created.body["status"].get("conditions")
    crd = await eventually(lambda: established(http, scope.crd_name), what="the CRD to be established")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}  # defaulted, as the names derived from the kind
    assert crd["spec"]["names"]["listKind"] == "WidgetList"

    await eventually(
        lambda: _served(http, f"/apis/{scope.group}/v1"), what="the group version to be discoverable"
    )
    group = next(g for g in (await http.get("/apis")).body["groups"] if g["name"] == scope.group)
    assert group["preferredVersion"] == {"groupVersion": f"{scope.group}/v1", "version": "v1"}
    assert (await http.get(f"/apis/{scope.group}")).body["versions"] == [
        {"groupVersion": f"{scope.group}/v1", "version": "v1"}
    ]
    resources = {r["name"]: r for r in (await http.get(f"/apis/{scope.group}/v1")).body["resources"]}
    assert set(resources) == {"widgets", "widgets/status"}
    main = resources["widgets"]
    assert main["kind"] == "Widget" and main["singularName"] == "widget" and main["namespaced"] is True
    assert main["shortNames"] == [scope.short_name] and main["categories"] == [scope.category]
    assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= set(main["verbs"])
    assert set(resources["widgets/status"]["verbs"]) == {"get", "patch", "update"}


async def _served(http: Http, path: str) -> bool:
    return (await http.get(path)).status == 200


async def _gone(http: Http, path: str) -> bool:
    return (await http.get(path)).status == 404


async def test_crd_deletion_unregisters_the_resource_and_drops_its_objects(
    cluster: Backend, http: Http, scope: Scope
) -> None:
    await cluster.install_crd(scope.crd())
    await http.post(scope.widgets(), scope.widget("w1"))
    deleting = await http.delete(f"{CRDS}/{scope.crd_name}")
    # The answer is the CRD marked for deletion: its finalizer deletes the custom resources first.
    assert deleting.status == 200 and deleting.body["metadata"]["deletionTimestamp"]
    terminating = {c["type"]: c for c in deleting.body["status"]["conditions"]}["Terminating"]
    assert terminating["status"] == "True"
    assert deleting.body["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    await eventually(lambda: _gone(http, f"{CRDS}/{scope.crd_name}"), what="the CRD to be deleted")
    await eventually(lambda: _gone(http, f"/apis/{scope.group}/v1"), what="the group version to be gone")
    assert (await http.get(scope.widgets())).status == 404
    await cluster.install_crd(scope.crd())  # a new CRD of the same name starts empty
    assert (await http.get(scope.widgets())).body["items"] == []


async def test_crd_deletion_waits_for_the_finalizers_of_its_objects(
    cluster: Backend, http: Http, scope: Scope
) -> None:
    await cluster.install_crd(scope.crd())
    held = scope.widget("held")
    held["metadata"]["finalizers"] = ["example.com/cleanup"]
    await http.post(scope.widgets(), held)
    await http.delete(f"{CRDS}/{scope.crd_name}")

    async def held_for_deletion() -> bool:
        reply = await http.get(f"{scope.widgets()}/held")
        return reply.status == 200 and bool(reply.body["metadata"].get("deletionTimestamp"))

    await eventually(held_for_deletion, what="the custom resource to be marked for deletion")
    assert (await http.get(f"{CRDS}/{scope.crd_name}")).status == 200  # still terminating
    refused = await http.post(scope.widgets(), scope.widget("late"))
    assert refused.status == 403 and refused.body["reason"] == "Forbidden"
    assert refused.body["message"].endswith(
        "create not allowed while custom resource definition is terminating"
    )
    await http.patch(f"{scope.widgets()}/held", {"metadata": {"finalizers": None}})
    await eventually(lambda: _gone(http, f"{CRDS}/{scope.crd_name}"), what="the CRD to be deleted")


async def test_multiple_crd_versions_share_one_storage(cluster: Backend, http: Http, scope: Scope) -> None:
    crd = scope.crd()
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [
        dict(v1, name="v1beta1", storage=False),
        v1,
        dict(v1, name="v1alpha1", storage=False),
    ]
    await cluster.install_crd(crd)
    group = next(g for g in (await http.get("/apis")).body["groups"] if g["name"] == scope.group)
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1", "v1alpha1"]
    await http.post(scope.widgets(), scope.widget("w1"))
    other = await http.get(f"{scope.widgets(version='v1beta1')}/w1")
    assert other.status == 200 and other.body["apiVersion"] == f"{scope.group}/v1beta1"


async def test_invalid_crd_is_rejected(http: Http, scope: Scope) -> None:
    crd = scope.crd()
    crd["metadata"]["name"] = f"wrong.{scope.group}"
    reply = await http.post(CRDS, crd)
    assert reply.status == 422 and reply.body["reason"] == "Invalid"


@pytest.mark.emulator_only("the emulator's store is internal: deleting a CRD drops its objects from it")
async def test_crd_deletion_purges_the_store(emulator: EmulatedCluster, http: Http, scope: Scope) -> None:
    await http.post(CRDS, scope.crd())
    await http.post(scope.widgets(), scope.widget("w1"))
    await http.delete(f"{CRDS}/{scope.crd_name}")
    assert emulator.emulator.store.count((scope.group, "widgets")) == 0


@pytest.mark.emulator_limitation(
    "no OpenAPI documents (/openapi/v2, /openapi/v3), so clients cannot validate against them (kubectl "
    "--validate=false, helm --disable-openapi-validation)"
)
@pytest.mark.usefixtures("crd")
async def test_openapi_documents_describe_the_served_resources(http: Http, scope: Scope) -> None:
    async def published() -> bool:
        reply = await http.get("/openapi/v3")
        return reply.status == 200 and f"apis/{scope.group}/v1" in reply.body["paths"]

    await eventually(published, what="the CRD's group version in /openapi/v3")


@pytest.mark.emulator_limitation(
    "CRD schemas are not checked (a real server requires structural schemas, and valid defaults and CEL rules)"
)
async def test_a_crd_schema_must_be_structural(http: Http, scope: Scope) -> None:
    untyped = {"type": "object", "properties": {"spec": {"properties": {"size": {"type": "integer"}}}}}
    reply = await http.post(CRDS, scope.crd(schema=untyped))
    assert reply.status == 422 and "properties[spec].type: Required value" in reply.body["message"]
