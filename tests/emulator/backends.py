"""The two API servers the conformance suite runs against, behind one interface.

``emulated``: a fresh :class:`EmulatedCluster` per test (plain HTTP, no credentials).
``real``: the session's kube-apiserver (``real_control_plane``), shared by every test of the worker, reached
with the admin client certificate over TLS. Each test works in its own namespace and CRD group (see
:class:`~tests.emulator.helpers.Scope`), and teardown removes what carries the test's token, so tests never see
each other's objects, and the operator's integration tests (namespaces ``it-*``, CRDs of ``modelops.dev``) on the
same control plane are never touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import yaml

from modelops_sandbox.cluster import EmulatedCluster
from modelops_sandbox.cluster.client import ApiError, ClusterClient, NotFoundError
from tests.emulator.helpers import CRDS, Scope
from tests.support.controlplane import kubeconfig
from tests.support.realcluster import RealControlPlane
from tests.support.waiting import eventually

EMULATED, REAL = "emulated", "real"
ADMIN_USER = "modelops-test-admin"  # the CN of the control plane's admin client certificate
# Built-in kinds to which the tests give finalizers: those are released at teardown, or the namespace would
# stay Terminating forever.
FINALIZED_BUILTINS = ("secrets", "configmaps")


class Backend:
    """One test's API server, with the async API of the emulated cluster (over real HTTP on both)."""

    name: str

    def __init__(self, url: str, session: aiohttp.ClientSession, scope: Scope) -> None:
        self.url = url.rstrip("/")
        self.session = session
        self.scope = scope
        self.client = ClusterClient(session, self.url)

    @property
    def real(self) -> bool:
        return self.name == REAL

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for kubectl, helm and the official client, defaulting to the test's namespace."""
        raise NotImplementedError

    def kopf_connection(self) -> kopf.ConnectionInfo:
        raise NotImplementedError

    async def saw_watch(self, group: str, plural: str) -> bool:
        """Whether some client has opened a watch on this resource (the server's own records of requests)."""
        raise NotImplementedError

    # -- the same calls as EmulatedCluster and RealCluster --------------------------------------------------

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return await self.client.create(manifest)

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return await self.client.apply(manifest)

    async def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        return await self.client.get(api_version, plural, namespace, name)

    async def get_or_none(
        self, api_version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        return await self.client.get_or_none(api_version, plural, namespace, name)

    async def list_objects(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        return await self.client.list_objects(
            api_version, plural, namespace, label_selector=label_selector, field_selector=field_selector
        )

    async def patch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return await self.client.patch(api_version, plural, namespace, name, body, subresource=subresource)

    async def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> None:
        await self.client.delete(api_version, plural, namespace, name)

    async def events_for(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return await self.client.events_for(namespace, name)

    # -- helpers of the tests -------------------------------------------------------------------------------

    async def install_crd(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a CRD and wait until its resource is served and discoverable (by kubectl too): a real server
        establishes CRDs and updates its discovery documents asynchronously."""
        created = await self.apply(manifest)
        spec = manifest["spec"]
        plural = spec["names"]["plural"]
        for version in [v["name"] for v in spec["versions"] if v.get("served", True)]:
            group_version = f"/apis/{spec['group']}/{version}"
            await eventually(
                lambda gv=group_version: self._served(gv, plural),
                timeout=30,
                what=f"{group_version}/{plural}",
            )
        return created

    async def _served(self, group_version: str, plural: str) -> bool:
        with contextlib.suppress(NotFoundError):
            await self.client.request("GET", f"{group_version}/{plural}", params={"limit": "1"})
            listing = await self.client.request("GET", group_version)
            return plural in {resource["name"] for resource in listing.get("resources", [])}
        return False


class EmulatedBackend(Backend):
    name = EMULATED

    def __init__(self, cluster: EmulatedCluster, session: aiohttp.ClientSession, scope: Scope) -> None:
        super().__init__(cluster.url, session, scope)
        self.emulated = cluster

    def write_kubeconfig(self, path: Path) -> Path:
        return self.emulated.write_kubeconfig(path, namespace=self.scope.namespace)

    def kopf_connection(self) -> kopf.ConnectionInfo:
        return self.emulated.operator_connection(self.scope.namespace)

    async def saw_watch(self, group: str, plural: str) -> bool:
        return any(
            request.params.get("watch") in ("true", "1")
            and request.resource is not None
            and (request.resource.group, request.resource.plural) == (group, plural)
            for request in self.emulated.emulator
        )


class RealBackend(Backend):
    name = REAL

    def __init__(self, plane: RealControlPlane, session: aiohttp.ClientSession, scope: Scope) -> None:
        super().__init__(plane.url, session, scope)
        self.plane = plane

    def write_kubeconfig(self, path: Path) -> Path:
        control_plane = self.plane.control_plane
        cert, key = control_plane.admin_cert_files
        user = {"client-certificate": str(cert), "client-key": str(key)}
        config = kubeconfig(self.url, control_plane.ca_file, user=user, namespace=self.scope.namespace)
        path.write_text(yaml.safe_dump(config))
        return path

    def kopf_connection(self) -> kopf.ConnectionInfo:
        control_plane = self.plane.control_plane
        cert, key = control_plane.admin_cert_files
        return kopf.ConnectionInfo(
            server=self.url,
            ca_path=str(control_plane.ca_file),
            certificate_path=str(cert),
            private_key_path=str(key),
            default_namespace=self.scope.namespace,
        )

    async def saw_watch(self, group: str, plural: str) -> bool:
        # The audit log (level Metadata, blocking) has a ResponseStarted entry as soon as a watch is served.
        def is_the_watch(entry: dict[str, Any]) -> bool:
            ref = entry.get("objectRef") or {}
            return entry.get("verb") == "watch" and (ref.get("apiGroup", ""), ref.get("resource")) == (
                group,
                plural,
            )

        return any(is_the_watch(entry) for entry in self.plane.audit(ADMIN_USER))


# ------------------------------------------------------------------------------------------------ lifecycle


async def create_namespace(client: ClusterClient, name: str) -> None:
    await client.request(
        "POST",
        "/api/v1/namespaces",
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )


@contextlib.asynccontextmanager
async def emulated_backend(scope: Scope) -> AsyncIterator[EmulatedBackend]:
    async with EmulatedCluster() as cluster, aiohttp.ClientSession() as session:
        backend = EmulatedBackend(cluster, session, scope)
        await create_namespace(backend.client, scope.namespace)
        yield backend


@contextlib.asynccontextmanager
async def real_backend(plane: RealControlPlane, scope: Scope) -> AsyncIterator[RealBackend]:
    connector = aiohttp.TCPConnector(ssl=plane.control_plane.admin_ssl_context())
    async with aiohttp.ClientSession(connector=connector) as session:
        backend = RealBackend(plane, session, scope)
        await create_namespace(backend.client, scope.namespace)
        try:
            yield backend
        finally:
            await discard(backend.client, scope)


async def discard(client: ClusterClient, scope: Scope) -> None:
    """Delete what the test created on the shared server (without waiting): its CRDs and the instances' finalizers,
    its namespaces (the namespace controller deletes their content) and other cluster-scoped objects.
    Only names carrying the test's token are touched."""
    for crd in await _owned(client, CRDS, lambda item: item["spec"]["group"] == scope.group):
        await _release_all(client, crd)
        await _delete_quietly(client, f"{CRDS}/{crd['metadata']['name']}")
    for namespace in await _owned(client, "/api/v1/namespaces", lambda item: scope.token in _name(item)):
        for plural in FINALIZED_BUILTINS:
            await _release(client, f"/api/v1/namespaces/{_name(namespace)}/{plural}")
        await _delete_quietly(client, f"/api/v1/namespaces/{_name(namespace)}")
    roles = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
    for role in await _owned(client, roles, lambda item: scope.token in _name(item)):
        await _delete_quietly(client, f"{roles}/{_name(role)}")


def _name(item: dict[str, Any]) -> str:
    return str(item["metadata"]["name"])


async def _owned(
    client: ClusterClient, path: str, mine: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    try:
        items: list[dict[str, Any]] = (await client.request("GET", path))["items"]
    except ApiError:
        return []
    return [item for item in items if mine(item)]


async def _release_all(client: ClusterClient, crd: dict[str, Any]) -> None:
    spec = crd["spec"]
    for version in spec["versions"]:
        if version.get("served"):
            await _release(client, f"/apis/{spec['group']}/{version['name']}/{spec['names']['plural']}")
            return


async def _release(client: ClusterClient, collection: str) -> None:
    """Remove the finalizers of every object of a collection (the test's controllers are gone)."""
    try:
        items = (await client.request("GET", collection))["items"]
    except ApiError:
        return
    for item in items:
        if not item["metadata"].get("finalizers"):
            continue
        namespace = item["metadata"].get("namespace")
        prefix, _, plural = collection.rpartition("/")
        if namespace and "/namespaces/" not in collection:
            prefix = f"{prefix}/namespaces/{namespace}"
        with contextlib.suppress(ApiError):
            await client.request(
                "PATCH",
                f"{prefix}/{plural}/{_name(item)}",
                body={"metadata": {"finalizers": None}},
                content_type="application/merge-patch+json",
            )


async def _delete_quietly(client: ClusterClient, path: str) -> None:
    with contextlib.suppress(ApiError):
        await client.request("DELETE", path)
