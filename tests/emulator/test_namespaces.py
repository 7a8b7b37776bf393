"""Namespaces: the namespace controller's finalizer, deletion of their content, and the NamespaceLifecycle
admission (nothing new in a namespace being deleted; the system namespaces cannot be deleted)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.helpers import Http, Scope
from tests.support.waiting import eventually

# A real namespace controller starts emptying a namespace 5 seconds after its deletion, then retries with
# backoff while finalizers hold some content.
DELETION = 60.0


async def new_namespace(http: Http, scope: Scope, suffix: str) -> str:
    name = scope.name(suffix)
    created = await http.post("/api/v1/namespaces", {"metadata": {"name": name}})
    assert created.status == 201, created.body
    return name


async def gone(http: Http, path: str) -> bool:
    return (await http.get(path)).status == 404


def configmap(name: str, *finalizers: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "finalizers": list(finalizers)}, "data": {"a": "1"}}


async def test_a_new_namespace_has_the_kubernetes_finalizer_in_its_spec(http: Http, scope: Scope) -> None:
    name = await new_namespace(http, scope, "fresh")
    namespace = (await http.get(f"/api/v1/namespaces/{name}")).body
    assert namespace["spec"] == {"finalizers": ["kubernetes"]} and namespace["status"] == {"phase": "Active"}
    assert namespace["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
    assert "finalizers" not in namespace["metadata"]


async def test_deleting_a_namespace_deletes_its_content_then_the_namespace(http: Http, scope: Scope) -> None:
    name = await new_namespace(http, scope, "doomed")
    await http.post(f"/api/v1/namespaces/{name}/configmaps", configmap("c"))
    await http.post(f"/api/v1/namespaces/{name}/secrets", {"metadata": {"name": "s"}})
    deleting = await http.delete(f"/api/v1/namespaces/{name}")
    assert deleting.status == 200 and deleting.body["kind"] == "Namespace"
    assert (
        deleting.body["status"] == {"phase": "Terminating"} and deleting.body["metadata"]["deletionTimestamp"]
    )
    assert deleting.body["spec"] == {"finalizers": ["kubernetes"]}
    await eventually(lambda: gone(http, f"/api/v1/namespaces/{name}"), timeout=DELETION, what="the namespace")
    # Re-created, the namespace starts empty: nothing of the old one is left behind.
    await new_namespace(http, scope, "doomed")
    assert (await http.get(f"/api/v1/namespaces/{name}/configmaps")).body["items"] == []


async def test_nothing_can_be_created_in_a_terminating_namespace(http: Http, scope: Scope) -> None:
    name = await new_namespace(http, scope, "closing")
    configmaps = f"/api/v1/namespaces/{name}/configmaps"
    await http.post(configmaps, configmap("held", "example.com/hold"))
    await http.delete(f"/api/v1/namespaces/{name}")

    async def held_for_deletion() -> bool:
        reply = await http.get(f"{configmaps}/held")
        return bool(reply.body["metadata"].get("deletionTimestamp"))

    await eventually(held_for_deletion, timeout=DELETION, what="the content to be deleted")
    refused = await http.post(configmaps, configmap("late"))
    assert refused.status == 403 and refused.body["reason"] == "Forbidden"
    assert refused.body["message"] == (
        f'configmaps "late" is forbidden: unable to create new content in namespace {name} '
        "because it is being terminated"
    )
    assert refused.body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    updated = await http.patch(f"{configmaps}/held", {"data": {"a": "2"}})  # updates are still allowed
    assert updated.status == 200

    async def reported() -> dict[str, Any] | None:
        status = (await http.get(f"/api/v1/namespaces/{name}")).body["status"]
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        return conditions if "NamespaceFinalizersRemaining" in conditions else None

    # The namespace controller reports what holds the namespace.
    conditions = await eventually(reported, timeout=DELETION, what="the namespace controller's report")
    remaining, finalizers = (
        conditions["NamespaceContentRemaining"],
        conditions["NamespaceFinalizersRemaining"],
    )
    assert (remaining["status"], remaining["reason"]) == ("True", "SomeResourcesRemain")
    assert remaining["message"] == "Some resources are remaining: configmaps. has 1 resource instances"
    assert finalizers["message"] == (
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    )
    assert conditions["NamespaceDeletionContentFailure"]["status"] == "False"
    await http.patch(f"{configmaps}/held", {"metadata": {"finalizers": None}})
    await eventually(lambda: gone(http, f"/api/v1/namespaces/{name}"), timeout=DELETION, what="the namespace")


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
async def test_the_system_namespaces_cannot_be_deleted(http: Http, name: str) -> None:
    # A dry run: on a shared real server a mistake here must not delete anything.
    reply = await http.delete(f"/api/v1/namespaces/{name}", params={"dryRun": "All"})
    assert reply.status == 403 and reply.body["reason"] == "Forbidden"
    assert reply.body["message"] == f'namespaces "{name}" is forbidden: this namespace may not be deleted'


async def test_namespaces_cannot_be_deleted_as_a_collection(http: Http) -> None:
    reply = await http.delete("/api/v1/namespaces", params={"dryRun": "All", "labelSelector": "nothing=here"})
    assert reply.status == 405 and reply.body["reason"] == "MethodNotAllowed"
