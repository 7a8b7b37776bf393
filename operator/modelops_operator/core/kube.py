"""A small async Kubernetes client for what kopf does not offer: reading Secrets and immediate patches.

kopf applies a handler's patch only after the handler returns; the pending-create marker must be stored
*before* the upstream POST, so those writes go through here. It uses the same credentials kopf logged in with.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import kopf


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"Kubernetes API {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class SecretData:
    values: dict[str, str]
    resource_version: str


class SecretNotFound(Exception):
    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(f"Secret '{name}' not found in namespace '{namespace}'")
        self.namespace = namespace
        self.name = name


def _file_for(data: str | bytes, suffix: str) -> str:
    # ssl wants files for client certificates; kubeconfig may embed them as data.
    raw = data.encode() if isinstance(data, str) else data
    if not raw.lstrip().startswith(b"-----"):
        raw = base64.b64decode(raw)
    handle, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(handle, "wb") as file:
        file.write(raw)
    return path


def _ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if info.insecure:
        return False
    context = ssl.create_default_context()
    if info.ca_path:
        context.load_verify_locations(cafile=os.fsdecode(info.ca_path))
    elif info.ca_data:
        ca = info.ca_data.decode() if isinstance(info.ca_data, bytes) else info.ca_data
        if not ca.lstrip().startswith("-----"):
            ca = base64.b64decode(ca).decode()
        context.load_verify_locations(cadata=ca)
    cert = info.certificate_path or (info.certificate_data and _file_for(info.certificate_data, ".crt"))
    key = info.private_key_path or (info.private_key_data and _file_for(info.private_key_data, ".key"))
    if cert:
        context.load_cert_chain(os.fsdecode(cert), os.fsdecode(key) if key else None)
    return context


class KubeClient:
    """Talks to the API server kopf is connected to. `connection` is read on each (re)connect."""

    def __init__(self, connection: Callable[[], kopf.ConnectionInfo | None], timeout: float = 30.0) -> None:
        self._connection = connection
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._for: kopf.ConnectionInfo | None = None
        self._retired: list[httpx.AsyncClient] = []

    def _http(self) -> httpx.AsyncClient:
        info = self._connection()
        if info is None:
            raise RuntimeError("the operator has not logged in to Kubernetes yet")
        if self._client is None or info is not self._for:
            headers = {"User-Agent": "modelops-operator"}
            auth: httpx.Auth | None = None
            if info.token:
                headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
            elif info.username and info.password:
                auth = httpx.BasicAuth(info.username, info.password)
            if self._client is not None:
                self._retired.append(self._client)  # closed in aclose(); requests may still be in flight
            self._client = httpx.AsyncClient(
                base_url=info.server.rstrip("/"),
                headers=headers,
                auth=auth,
                verify=_ssl_context(info),
                timeout=self._timeout,
            )
            self._for = info
        return self._client

    async def aclose(self) -> None:
        for client in self._retired:
            await client.aclose()
        self._retired.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._http().request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
                reason, message = str(body.get("reason", "")), str(body.get("message", response.text))
            except ValueError:
                reason, message = "", response.text[:300]
            raise KubeError(response.status_code, reason, message)
        result: dict[str, Any] = response.json()
        return result

    async def read_secret(self, namespace: str, name: str) -> SecretData:
        try:
            secret = await self._call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except KubeError as error:
            if error.status == 404:
                raise SecretNotFound(namespace, name) from None
            raise
        data: dict[str, str] = {}
        for key, value in (secret.get("data") or {}).items():
            data[key] = base64.b64decode(value).decode("utf-8", errors="replace")
        for key, value in (secret.get("stringData") or {}).items():
            data[key] = str(value)
        return SecretData(
            values=data, resource_version=str((secret.get("metadata") or {}).get("resourceVersion"))
        )

    async def namespace_terminating(self, namespace: str) -> bool:
        """Whether the namespace is being deleted (or already gone): nothing can be created in it any more."""
        try:
            found = await self._call("GET", f"/api/v1/namespaces/{namespace}")
        except KubeError as error:
            if error.status == 404:
                return True
            raise
        return bool((found.get("metadata") or {}).get("deletionTimestamp")) or (
            (found.get("status") or {}).get("phase") == "Terminating"
        )

    async def merge_patch(
        self,
        path: str,
        patch: dict[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return await self._call(
            "PATCH",
            f"{path}/{subresource}" if subresource else path,
            json=patch,
            headers={"Content-Type": "application/merge-patch+json"},
        )
