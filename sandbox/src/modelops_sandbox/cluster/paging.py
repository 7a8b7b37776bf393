"""List pagination: ``?limit=N`` answers the first N objects and a ``continue`` token for the rest.

The token has the shape of a real server's: unpadded URL-safe base64 of compact JSON ``{"v": "meta.k8s.io/v1",
"rv": <list resourceVersion>, "start": "<the storage key to resume from>"}``; storage keys are ``<namespace>/<name>`` (or ``<name>``), the
order in which lists are answered. A continued list reports the first page's resourceVersion, but (unlike a
real server, which reads the rest of the snapshot from etcd) shows the objects as they are now.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

TOKEN_VERSION = "meta.k8s.io/v1"


class InvalidToken(ValueError):
    """A ``continue`` parameter that no list of this server handed out (the server answers 400)."""


def storage_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace"), str(meta.get("name") or "")
    return f"{namespace}/{name}" if namespace else name


def encode(resource_version: int, start: str) -> str:
    document = {"v": TOKEN_VERSION, "rv": resource_version, "start": start}
    encoded = base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode())
    return encoded.decode().rstrip("=")


def decode(token: str) -> tuple[int, str]:
    """The (resourceVersion, start key) of a token."""
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if document["v"] != TOKEN_VERSION:
            raise ValueError(document["v"])
        return int(document["rv"]), str(document["start"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(f"continue key is not valid: {exc}") from None


def page(
    items: list[dict[str, Any]], *, limit: int, token: str | None, resource_version: int, counted: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page of a list (in storage-key order) and its list metadata (resourceVersion, continue and, when
    ``counted`` (no selectors), remainingItemCount)."""
    if token:
        resource_version, start = decode(token)
        items = [item for item in items if storage_key(item) >= start]
    metadata: dict[str, Any] = {"resourceVersion": str(resource_version)}
    if 0 < limit < len(items):
        items, rest = items[:limit], items[limit:]
        metadata["continue"] = encode(resource_version, storage_key(items[-1]) + "\x00")
        if counted:
            metadata["remainingItemCount"] = len(rest)
    return items, metadata
