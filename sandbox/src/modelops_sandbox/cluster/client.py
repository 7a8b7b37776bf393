"""A small async HTTP client for a Kubernetes API: the emulated cluster's, or a real kube-apiserver's.

Real HTTP, no shortcuts: the same calls work against both, which is what lets the integration tests and the
conformance suite run on either backend. Kinds are resolved to resources through API discovery.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp


class ApiError(Exception):
    """A non-2xx answer of the API server, with the fields of its ``v1/Status`` body."""

    def __init__(self, status: int, reason: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


class NotFoundError(ApiError):
    """404: the object (or the resource) does not exist."""


class ConflictError(ApiError):
    """409: AlreadyExists on create, Conflict on a stale resourceVersion."""


def resource_path(
    api_version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """``/api/v1/...`` for the core group (``api_version="v1"``), else ``/apis/<group>/<version>/...``."""
    parts = ["api", api_version] if "/" not in api_version else ["apis", *api_version.split("/", 1)]
    if namespace is not None:
        parts += ["namespaces", namespace]
    parts.append(plural)
    if name is not None:
        parts.append(name)
    if subresource is not None:
        parts.append(subresource)
    return "/" + "/".join(parts)


class ClusterClient:
    """``session`` carries the credentials and TLS settings (none for the emulator; a client certificate or a
    token for a real API server)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        # apiVersion -> kind -> (plural, namespaced), from discovery; refreshed on a miss (CRDs come and go).
        self._kinds: dict[str, dict[str, tuple[str, bool]]] = {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        async with self._session.request(
            method, self._base_url + path, data=data, headers=headers, params=params
        ) as response:
            text = await response.text()
            try:
                payload: Any = json.loads(text) if text else None
            except ValueError:
                payload = text
            if response.status >= 400:
                status_body = payload if isinstance(payload, dict) else {}
                reason = str(status_body.get("reason") or response.reason or "")
                message = str(status_body.get("message") or text)
                error_class = {404: NotFoundError, 409: ConflictError}.get(response.status, ApiError)
                raise error_class(response.status, reason, message, payload)
            return payload

    # --- resources by manifest ------------------------------------------------------------------------------

    async def _discover(self, api_version: str) -> dict[str, tuple[str, bool]]:
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            listing = await self.request("GET", path)
        except NotFoundError:
            return {}
        return {
            item["kind"]: (item["name"], bool(item.get("namespaced")))
            for item in listing.get("resources", [])
            if "/" not in item["name"]
        }

    async def locate(self, manifest: Mapping[str, Any]) -> tuple[str, str, str | None, str | None]:
        """(apiVersion, plural, namespace or None for cluster-scoped, name) of a manifest."""
        api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            raise ValueError("the manifest needs apiVersion and kind")
        known = self._kinds.get(api_version, {})
        if kind not in known:
            known = self._kinds[api_version] = await self._discover(api_version)
        if kind not in known:
            raise ValueError(f"the cluster serves no kind {kind} in {api_version}")
        plural, namespaced = known[kind]
        metadata = manifest.get("metadata") or {}
        namespace = (metadata.get("namespace") or "default") if namespaced else None
        return api_version, plural, namespace, metadata.get("name")

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        api_version, plural, namespace, _ = await self.locate(manifest)
        result: dict[str, Any] = await self.request(
            "POST", resource_path(api_version, plural, namespace), body=manifest
        )
        return result

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create, or merge-patch the existing object; ``status`` in the manifest is ignored."""
        body = {key: value for key, value in manifest.items() if key != "status"}
        api_version, plural, namespace, name = await self.locate(body)
        try:
            return await self.create(body)
        except ConflictError as exc:
            if exc.reason != "AlreadyExists" or name is None:
                raise
        return await self.patch(api_version, plural, namespace, name, body)

    async def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "GET", resource_path(api_version, plural, namespace, name)
        )
        return result

    async def get_or_none(
        self, api_version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        try:
            return await self.get(api_version, plural, namespace, name)
        except NotFoundError:
            return None

    async def list_objects(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        result = await self.request("GET", resource_path(api_version, plural, namespace), params=params)
        items: list[dict[str, Any]] = result["items"]
        return items

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
        """A JSON merge patch, of the object or of a subresource."""
        result: dict[str, Any] = await self.request(
            "PATCH",
            resource_path(api_version, plural, namespace, name, subresource),
            body=body,
            content_type="application/merge-patch+json",
        )
        return result

    async def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> None:
        await self.request("DELETE", resource_path(api_version, plural, namespace, name))

    async def events_for(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """core/v1 Events whose involvedObject is that object (by name and namespace)."""
        selector = f"involvedObject.name={name},involvedObject.namespace={namespace}"
        return await self.list_objects("v1", "events", namespace, field_selector=selector)
