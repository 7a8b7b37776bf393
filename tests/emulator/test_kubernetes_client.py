"""The official ``kubernetes`` Python client against the cluster (sync calls run in a thread)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from tests.emulator.backends import Backend
from tests.emulator.helpers import PLURAL, VERSION, Scope


def scenario(configuration: client.Configuration, scope: Scope) -> dict[str, Any]:
    group, namespace = scope.group, scope.namespace
    with client.ApiClient(configuration) as api_client:
        api = client.CustomObjectsApi(api_client)
        created = api.create_namespaced_custom_object(
            group, VERSION, namespace, PLURAL, scope.widget("w1", size=1)
        )
        fetched = api.get_namespaced_custom_object(group, VERSION, namespace, PLURAL, "w1")
        listed = api.list_namespaced_custom_object(group, VERSION, namespace, PLURAL)
        patched = api.patch_namespaced_custom_object(
            group, VERSION, namespace, PLURAL, "w1", {"spec": {"size": 2}}
        )
        status = api.patch_namespaced_custom_object_status(
            group, VERSION, namespace, PLURAL, "w1", {"status": {"phase": "Ready"}}
        )
        api.delete_namespaced_custom_object(group, VERSION, namespace, PLURAL, "w1")
        with pytest.raises(client.ApiException) as missing:
            api.get_namespaced_custom_object(group, VERSION, namespace, PLURAL, "w1")
        core = client.CoreV1Api(api_client)
        namespaces = [ns.metadata.name for ns in core.list_namespace().items if ns.metadata]
        return {
            "created": created,
            "fetched": fetched,
            "listed": listed,
            "patched": patched,
            "status": status,
            "missing": missing.value.status,
            "namespaces": namespaces,
        }


@pytest.mark.usefixtures("crd")
async def test_custom_object_lifecycle_with_the_official_client(
    cluster: Backend, scope: Scope, tmp_path: Path
) -> None:
    configuration = client.Configuration()
    # The client's own kubeconfig loader: TLS and the client certificate on the real server.
    config.load_kube_config(
        str(cluster.write_kubeconfig(tmp_path / "kubeconfig")), client_configuration=configuration
    )

    result = await asyncio.to_thread(scenario, configuration, scope)
    assert result["created"]["metadata"]["uid"] == result["fetched"]["metadata"]["uid"]
    assert [i["metadata"]["name"] for i in result["listed"]["items"]] == ["w1"]
    assert result["listed"]["kind"] == "WidgetList"
    assert result["patched"]["spec"] == {"size": 2} and result["patched"]["metadata"]["generation"] == 2
    assert result["status"]["status"] == {"phase": "Ready"}
    assert result["missing"] == 404
    assert {"default", scope.namespace} <= set(result["namespaces"])
