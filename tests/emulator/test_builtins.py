"""Built-in resources: the default namespace, Secrets' stringData, namespaced vs cluster-scoped URLs."""

from __future__ import annotations

import base64

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import Http


async def test_default_namespace_exists_at_start(cluster: EmulatedCluster, http: Http) -> None:
    reply = await http.get("/api/v1/namespaces/default")
    assert reply.status == 200 and reply.body["status"] == {"phase": "Active"}
    assert [ns["metadata"]["name"] for ns in cluster.objects("", "v1", "namespaces")] == ["default"]


async def test_secret_string_data_is_folded_into_base64_data(http: Http) -> None:
    body = {
        "metadata": {"name": "s"},
        "data": {"old": base64.b64encode(b"x").decode()},
        "stringData": {"token": "t0p"},
    }
    created = (await http.post("/api/v1/namespaces/default/secrets", body)).body
    assert "stringData" not in created
    assert base64.b64decode(created["data"]["token"]) == b"t0p"
    assert base64.b64decode(created["data"]["old"]) == b"x"
    patched = (
        await http.patch("/api/v1/namespaces/default/secrets/s", {"stringData": {"token": "new"}})
    ).body
    assert base64.b64decode(patched["data"]["token"]) == b"new" and "stringData" not in patched


async def test_cluster_scoped_resources_have_no_namespace(http: Http) -> None:
    created = await http.post("/api/v1/namespaces", {"metadata": {"name": "team-a", "namespace": "ignored"}})
    assert created.status == 201 and "namespace" not in created.body["metadata"]
    assert (await http.get("/api/v1/namespaces/default/namespaces")).status == 404
    role = {"metadata": {"name": "reader"}, "rules": []}
    assert (await http.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", role)).status == 201
    assert (await http.post("/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles", role)).status == 201


async def test_generate_name_makes_unique_names(http: Http) -> None:
    names = set()
    for _ in range(5):
        reply = await http.post(
            "/api/v1/namespaces/default/configmaps", {"metadata": {"generateName": "cm-"}}
        )
        names.add(reply.body["metadata"]["name"])
    assert len(names) == 5 and all(n.startswith("cm-") and len(n) == 8 for n in names)
