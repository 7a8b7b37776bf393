"""Who may call the API: clients authenticate, and RBAC authorizes each request."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from tests.emulator.backends import Backend, RealBackend
from tests.emulator.helpers import Http, Scope

pytestmark = pytest.mark.emulator_limitation(
    "no authentication or authorization: any client, with any credentials or none, may do anything"
)


@asynccontextmanager
async def without_certificate(cluster: Backend) -> AsyncIterator[Http]:
    """HTTP to the real server that trusts its CA but presents no client certificate."""
    assert isinstance(cluster, RealBackend)
    verify = ssl.create_default_context(cafile=str(cluster.plane.control_plane.ca_file))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=verify)) as session:
        yield Http(session, cluster.url)


async def test_anonymous_requests_are_refused(cluster: Backend) -> None:
    async with without_certificate(cluster) as anonymous:
        reply = await anonymous.get("/api/v1/namespaces")
    assert reply.status in (401, 403), reply.body


async def test_rbac_denies_what_no_role_grants(cluster: Backend, http: Http, scope: Scope) -> None:
    accounts = f"/api/v1/namespaces/{scope.namespace}/serviceaccounts"
    await http.post(accounts, {"metadata": {"name": "nobody"}})
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    token = (await http.post(f"{accounts}/nobody/token", request)).body["status"]["token"]
    async with without_certificate(cluster) as nobody:
        secrets = f"/api/v1/namespaces/{scope.namespace}/secrets"
        reply = await nobody.get(secrets, headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 403 and reply.body["reason"] == "Forbidden"
    assert f"system:serviceaccount:{scope.namespace}:nobody" in reply.body["message"]
