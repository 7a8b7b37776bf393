"""Built-in resources: the system namespaces, Secrets' stringData, namespaced vs cluster-scoped URLs."""

from __future__ import annotations

import base64

import pytest

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import Http, Scope

SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


async def test_system_namespaces_exist_and_are_active(http: Http) -> None:
    reply = await http.get("/api/v1/namespaces/default")
    assert reply.status == 200 and reply.body["status"] == {"phase": "Active"}
    assert reply.body["metadata"]["labels"] == {"kubernetes.io/metadata.name": "default"}
    assert reply.body["spec"] == {"finalizers": ["kubernetes"]}
    listed = {ns["metadata"]["name"] for ns in (await http.get("/api/v1/namespaces")).body["items"]}
    assert listed >= SYSTEM_NAMESPACES


@pytest.mark.emulator_only("what exists at start is the emulator's own choice: only the system namespaces")
async def test_only_the_system_namespaces_exist_at_start(emulator: EmulatedCluster, scope: Scope) -> None:
    names = {ns["metadata"]["name"] for ns in emulator.objects("", "v1", "namespaces")}
    assert names == SYSTEM_NAMESPACES | {scope.namespace}  # and the test's own namespace


async def test_secret_string_data_is_folded_into_base64_data(http: Http, scope: Scope) -> None:
    secrets = f"/api/v1/namespaces/{scope.namespace}/secrets"
    body = {
        "metadata": {"name": "s"},
        "data": {"old": base64.b64encode(b"x").decode()},
        "stringData": {"token": "t0p"},
    }
    created = (await http.post(secrets, body)).body
    assert "stringData" not in created and created["type"] == "Opaque"  # the default type
    assert base64.b64decode(created["data"]["token"]) == b"t0p"
    assert base64.b64decode(created["data"]["old"]) == b"x"
    patched = (await http.patch(f"{secrets}/s", {"stringData": {"token": "new"}})).body
    assert base64.b64decode(patched["data"]["token"]) == b"new" and "stringData" not in patched


async def test_cluster_scoped_resources_have_no_namespace(http: Http, scope: Scope) -> None:
    team = scope.name("team-a")
    created = await http.post("/api/v1/namespaces", {"metadata": {"name": team, "namespace": "ignored"}})
    assert created.status == 201 and "namespace" not in created.body["metadata"]
    assert (await http.get(f"/api/v1/namespaces/{scope.namespace}/namespaces")).status == 404
    role = {"metadata": {"name": scope.name("reader")}, "rules": []}
    assert (await http.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", role)).status == 201
    assert (
        await http.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{team}/roles", role)
    ).status == 201


async def test_generate_name_makes_unique_names(http: Http, scope: Scope) -> None:
    names = set()
    for _ in range(5):
        reply = await http.post(
            f"/api/v1/namespaces/{scope.namespace}/configmaps", {"metadata": {"generateName": "cm-"}}
        )
        names.add(reply.body["metadata"]["name"])
    assert len(names) == 5 and all(n.startswith("cm-") and len(n) == 8 for n in names)
