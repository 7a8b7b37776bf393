"""Discovery: built-ins are served; a CRD's resources appear (and disappear) with the CRD."""

from __future__ import annotations

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import Http, widget_crd


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


async def test_crd_creation_registers_the_resource_for_discovery(
    cluster: EmulatedCluster, http: Http
) -> None:
    assert (await http.get("/apis/example.com")).status == 404
    created = await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd())
    assert created.status == 201
    conditions = {c["type"]: c["status"] for c in created.body["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}

    group = next(g for g in (await http.get("/apis")).body["groups"] if g["name"] == "example.com")
    assert group["preferredVersion"] == {"groupVersion": "example.com/v1", "version": "v1"}
    assert (await http.get("/apis/example.com")).body["versions"] == [
        {"groupVersion": "example.com/v1", "version": "v1"}
    ]
    resources = {r["name"]: r for r in (await http.get("/apis/example.com/v1")).body["resources"]}
    assert set(resources) == {"widgets", "widgets/status"}
    main = resources["widgets"]
    assert main["kind"] == "Widget" and main["singularName"] == "widget" and main["namespaced"] is True
    assert main["shortNames"] == ["wdg"] and main["categories"] == ["gadgets"]
    assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= set(main["verbs"])
    assert set(resources["widgets/status"]["verbs"]) == {"get", "patch", "update"}


async def test_crd_deletion_unregisters_the_resource_and_drops_its_objects(
    cluster: EmulatedCluster, http: Http
) -> None:
    await cluster.apply(widget_crd())
    await http.post("/apis/example.com/v1/namespaces/default/widgets", {"metadata": {"name": "w1"}})
    await http.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    assert (await http.get("/apis/example.com/v1")).status == 404
    assert (await http.get("/apis/example.com/v1/namespaces/default/widgets")).status == 404
    assert cluster.emulator.store.count(("example.com", "widgets")) == 0


async def test_multiple_crd_versions_share_one_storage(cluster: EmulatedCluster, http: Http) -> None:
    crd = widget_crd()
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [
        dict(v1, name="v1beta1", storage=False),
        v1,
        dict(v1, name="v1alpha1", storage=False),
    ]
    await cluster.apply(crd)
    group = next(g for g in (await http.get("/apis")).body["groups"] if g["name"] == "example.com")
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1", "v1alpha1"]
    await http.post("/apis/example.com/v1/namespaces/default/widgets", {"metadata": {"name": "w1"}})
    other = await http.get("/apis/example.com/v1beta1/namespaces/default/widgets/w1")
    assert other.status == 200 and other.body["apiVersion"] == "example.com/v1beta1"


async def test_invalid_crd_is_rejected(http: Http) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "wrong.example.com"
    reply = await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert reply.status == 422 and reply.body["reason"] == "Invalid"
