"""A minimal async HTTP client for the emulated cluster (used by the facade; real HTTP, no shortcuts)."""

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
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")

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
