"""The official ``kubernetes`` Python client against the emulated cluster (sync calls run in a thread)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes import client

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import GROUP, PLURAL, VERSION, widget


@pytest.mark.usefixtures("crd")
async def test_custom_object_lifecycle_with_the_official_client(cluster: EmulatedCluster) -> None:
    configuration = client.Configuration(host=cluster.url)
    configuration.api_key = {"authorization": "Bearer fake"}

    def scenario() -> dict[str, Any]:
        with client.ApiClient(configuration) as api_client:
            api = client.CustomObjectsApi(api_client)
            created = api.create_namespaced_custom_object(
                GROUP, VERSION, "default", PLURAL, widget("w1", size=1)
            )
            fetched = api.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
            listed = api.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
            patched = api.patch_namespaced_custom_object(
                GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"size": 2}}
            )
            status = api.patch_namespaced_custom_object_status(
                GROUP, VERSION, "default", PLURAL, "w1", {"status": {"phase": "Ready"}}
            )
            api.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
            with pytest.raises(client.ApiException) as missing:
                api.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
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

    result = await asyncio.to_thread(scenario)
    assert result["created"]["metadata"]["uid"] == result["fetched"]["metadata"]["uid"]
    assert [i["metadata"]["name"] for i in result["listed"]["items"]] == ["w1"]
    assert result["listed"]["kind"] == "WidgetList"
    assert result["patched"]["spec"] == {"size": 2} and result["patched"]["metadata"]["generation"] == 2
    assert result["status"]["status"] == {"phase": "Ready"}
    assert result["missing"] == 404
    assert result["namespaces"] == ["default"]
