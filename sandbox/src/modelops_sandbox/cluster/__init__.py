"""An emulated Kubernetes cluster: kmock's KubernetesEmulator with the fidelity of a real API server.

Used by the emulator conformance tests, the operator's integration tests and the sandbox::

    async with EmulatedCluster() as cluster:
        cluster.write_kubeconfig(tmp_path / "kubeconfig")         # for kubectl / helm / kubernetes client
        await cluster.apply(crd_manifest)
        obj = await cluster.create({"apiVersion": "example.com/v1", "kind": "Widget", ...})
        cluster.emulator["patch", kmock.resource("example.com", "v1", "widgets")] << 500  # fault injection

Public API of :class:`EmulatedCluster`:

``EmulatedCluster(*, host="127.0.0.1", port=0, request_log_limit=1000, watch_history_limit=10_000)``
    ``port=0`` picks a free port. ``request_log_limit``: how many recent requests kmock's views keep.
    ``watch_history_limit``: events per resource kept for watches resuming from a resourceVersion
    (older ones answer 410 Expired, as after an etcd compaction).
``async with cluster`` (``__aenter__`` / ``__aexit__``)
    Starts/stops the HTTP server; stopping ends all open watch streams first.
``cluster.url: str``
    e.g. ``http://127.0.0.1:41234`` (no trailing slash).
``cluster.emulator: ClusterEmulator``
    The kmock handler: DSL for fault injection/assertions, ``.store``, ``.registry``, ``.requests``.
``cluster.write_kubeconfig(path, *, namespace="default") -> Path``
    Plain-HTTP kubeconfig with a fake token and one context (``emulated``).
``cluster.objects(group, version, plural, namespace=None) -> list[dict]``
    A deep-copied snapshot (sync), sorted by namespace/name; ``namespace=None`` means all namespaces.
``cluster.get_object(group, version, plural, namespace, name) -> dict | None``
    A deep-copied snapshot of one object (sync); ``namespace=None`` for cluster-scoped objects.

Async convenience API over real HTTP (``api_version`` is ``"v1"`` or ``"<group>/<version>"``;
``namespace=None`` for cluster-scoped resources; errors raise :class:`ApiError`, with
:class:`NotFoundError` for 404 and :class:`ConflictError` for 409):

``await cluster.create(manifest) -> dict``
``await cluster.apply(manifest) -> dict``
    Create, or merge-patch the existing object; ``status`` in the manifest is ignored.
``await cluster.get(api_version, plural, namespace, name) -> dict``
``await cluster.get_or_none(api_version, plural, namespace, name) -> dict | None``
``await cluster.list_objects(api_version, plural, namespace=None, *, label_selector=None, field_selector=None)
-> list[dict]``
``await cluster.patch(api_version, plural, namespace, name, body, *, subresource=None) -> dict``
    A JSON merge patch, of the object or of a subresource (``subresource="status"``).
``await cluster.delete(api_version, plural, namespace, name) -> None``
    Deletes (or marks for deletion if finalizers hold the object); 404 raises NotFoundError.
``await cluster.events_for(namespace, name) -> list[dict]``
    core/v1 Events whose involvedObject is that object (by name and namespace).

Fidelity beyond stock kmock, checked against a real kube-apiserver by the conformance suite (``tests/emulator``,
run on both): uid/resourceVersion/generation/creationTimestamp; ObjectMeta as a real server keeps it (unknown
and empty metadata fields dropped; labels, annotations and finalizers validated; uid immutable; another name or
namespace in an update is a 400; a resourceVersion on create is refused); status subresource isolation; 409 on
stale resourceVersion and on existing names; PUT of a custom resource needs a resourceVersion; merge/JSON/
strategic/apply patches with 422 on failed JSON-patch tests (no strategic merge patch for custom resources: 415);
no-op writes keep the resourceVersion; custom resources pruned and defaulted by their CRD's structural schema;
label selectors, and field selectors limited to each resource's own fields (400 otherwise); typed lists in
storage-key order, paginated with ``limit``/``continue``; JSON watch streams with resourceVersion resume (410
Expired past the history, or before a CRD's resource was established), timeoutSeconds, sendInitialEvents and
the initial-events-end bookmark, Table watches (column definitions in the first event only); finalizers and
deletionTimestamp (the DELETED event carries the last stored state); errors worded as the server words them
(preconditions, Invalid causes, a 422 without fieldManager on apply); the system namespaces (default, kube-system, kube-public, kube-node-lease,
the first three undeletable); namespace deletion (Terminating, content deleted first, nothing new admitted
meanwhile: 403); CRDs established by a second write after their creation, and deleted through their cleanup
finalizer (custom resources first, new ones refused meanwhile: 403); CRDs registered for discovery;
server-side Tables; plain-text 404s for URLs that serve nothing; protobuf request bodies of core kinds
(kubectl create, helm); bounded request log; O(1) object lookups.

Not emulated (the known limitations; each is asserted against the real server by a conformance test marked
``emulator_limitation``): OpenAPI documents (``/openapi/v2``, ``/openapi/v3``); validation of values: custom
resources against their schema (types, enum, pattern, ranges, required, CEL ``x-kubernetes-validations``),
built-in kinds (a Deployment without a selector is accepted) and CRD schemas themselves (structural, defaults,
CEL rules); admission other than NamespaceLifecycle (no webhooks); authentication and authorization (RBAC):
anyone may do anything; field ownership (``managedFields``) of server-side apply, so apply is create-or-merge
(fields a manager stops applying stay, no conflicts between managers); garbage collection by ownerReferences;
conversion: all versions of a CRD share one storage, only ``apiVersion`` changes (no conversion webhooks), and
core/v1 and events.k8s.io/v1 Events are stored apart; subresources other than ``status`` (scale, token, exec,
log, eviction, finalize...); continued list pages show the objects as they are now, not as of the first page's
resourceVersion; protobuf request bodies other than Secret, ConfigMap, Namespace and ServiceAccount (415);
the wording of 400s about malformed bodies, patches and selectors (same status and reason, not the Go parsers'
messages); a POST to an object's URL is a 405 (a real server treats it as a create).
What a real server's controllers do later (establishing CRDs, emptying namespaces, deleting custom resources of
a deleted CRD), the emulator does within the request.
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import kmock
import kopf

from modelops_sandbox.cluster.client import (
    ApiError,
    ClusterClient,
    ConflictError,
    NotFoundError,
)
from modelops_sandbox.cluster.discovery import ResourceSpec
from modelops_sandbox.cluster.emulator import ClusterEmulator
from modelops_sandbox.cluster.kubeconfig import write_kubeconfig

__all__ = [
    "ApiError",
    "ClusterEmulator",
    "ConflictError",
    "EmulatedCluster",
    "NotFoundError",
    "ResourceSpec",
]


class EmulatedCluster:
    """An emulated API server on a real TCP port (see the module docstring for the whole API)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        request_log_limit: int = 1000,
        watch_history_limit: int = 10_000,
    ) -> None:
        self.emulator = ClusterEmulator(
            request_log_limit=request_log_limit, watch_history_limit=watch_history_limit
        )
        self._server = kmock.Server(self.emulator, host=host, port=port or None)
        self._session: aiohttp.ClientSession | None = None
        self._client: ClusterClient | None = None

    async def __aenter__(self) -> EmulatedCluster:
        await self.emulator.__aenter__()
        try:
            await self._server.__aenter__()
        except BaseException:
            await self.emulator.__aexit__(None, None, None)
            raise
        self._session = aiohttp.ClientSession()
        self._client = ClusterClient(self._session, self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._session is not None:
                await self._session.close()
            self._session = self._client = None
            self.emulator.close()
            await self._server.__aexit__(exc_type, exc_value, traceback)
        finally:
            await self.emulator.__aexit__(exc_type, exc_value, traceback)

    @property
    def url(self) -> str:
        return str(self._server.url).rstrip("/")

    @property
    def client(self) -> ClusterClient:
        if self._client is None:
            raise RuntimeError("the emulated cluster is not running (use `async with EmulatedCluster()`)")
        return self._client

    def write_kubeconfig(self, path: str | Path, *, namespace: str = "default") -> Path:
        return write_kubeconfig(path, self.url, namespace=namespace)

    # --- synchronous snapshots (for assertions) --------------------------------------------------

    def _spec(self, group: str, version: str, plural: str) -> ResourceSpec | None:
        return self.emulator.resolve(group, version, plural)

    def objects(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        spec = self._spec(group, version, plural)
        if spec is None:
            return []
        return [
            copy.deepcopy(self.emulator.render(spec, o))
            for o in self.emulator.store.objects(spec.storage_key, namespace)
        ]

    def get_object(
        self, group: str, version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        spec = self._spec(group, version, plural)
        obj = None if spec is None else self.emulator.store.get(spec.storage_key, namespace, name)
        return None if spec is None or obj is None else copy.deepcopy(self.emulator.render(spec, obj))

    # --- async API over HTTP (the shared ClusterClient: the real API server's tests use the same calls) -----

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

    def operator_connection(self, namespace: str) -> kopf.ConnectionInfo:
        """How the operator logs in: plain HTTP, no credentials (the emulator enforces no authn/z)."""
        return kopf.ConnectionInfo(server=self.url, insecure=True, default_namespace=namespace)
