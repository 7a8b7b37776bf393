"""The rules the API server applies to an object on every write, independent of HTTP and storage.

* create: ``uid``, ``creationTimestamp`` and (for resources that track it) ``generation: 1`` are set;
  the resourceVersion comes from the store;
* update: system metadata (``uid``, ``creationTimestamp``, ``deletionTimestamp``,
  ``deletionGracePeriodSeconds``, ``generation``, ``name``, ``namespace``) cannot be changed by clients;
* ``metadata.generation`` is incremented when anything outside ``metadata`` changes (outside
  ``metadata`` and ``status`` when the resource has the status subresource), and when deletion starts;
* Secrets: ``stringData`` is folded into base64 ``data`` and never stored;
* names must be DNS-1123 subdomains (namespaces: DNS-1123 labels).
"""

from __future__ import annotations

import base64
import datetime
import re
import secrets
import uuid
from typing import Any

Obj = dict[str, Any]

SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "name",
    "namespace",
)
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_GENERATED_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the server uses for generateName suffixes


def now_timestamp() -> str:
    """RFC 3339, seconds precision, UTC: the format of creationTimestamp and deletionTimestamp."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(5))


def name_problem(name: Any, *, label: bool = False) -> str | None:
    """Why a name is not acceptable (a field error message), or None if it is fine."""
    if not isinstance(name, str) or not name:
        return "metadata.name: Required value: name or generateName is required"
    limit, pattern = (63, _LABEL) if label else (253, _SUBDOMAIN)
    if len(name) > limit or not pattern.match(name):
        kind = "RFC 1123 label" if label else "RFC 1123 subdomain"
        return (
            f'metadata.name: Invalid value: "{name}": a lowercase {kind} must consist of lower case '
            f"alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    return None


def metadata(obj: Obj) -> Obj:
    """The object's metadata dict, created if absent (the object must be a private copy)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def stamp_new(obj: Obj, *, namespace: str | None, generation: bool = True) -> None:
    meta = metadata(obj)
    for key in (
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "generation",
    ):
        meta.pop(key, None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now_timestamp()
    if generation:
        meta["generation"] = 1
    if namespace is None:
        meta.pop("namespace", None)
    else:
        meta["namespace"] = namespace


def carry_system_metadata(old: Obj, new: Obj) -> None:
    """Restore the metadata fields clients may not change from the stored object."""
    new_meta = metadata(new)
    old_meta = old.get("metadata") or {}
    for key in SYSTEM_METADATA:
        if key in old_meta:
            new_meta[key] = old_meta[key]
        else:
            new_meta.pop(key, None)


def _content(obj: Obj, *, ignore_status: bool) -> Obj:
    skipped = {"metadata", "kind", "apiVersion"} | ({"status"} if ignore_status else set())
    return {key: value for key, value in obj.items() if key not in skipped}


def spec_changed(old: Obj, new: Obj, *, has_status: bool) -> bool:
    return _content(old, ignore_status=has_status) != _content(new, ignore_status=has_status)


def bump_generation(obj: Obj) -> None:
    """Increment ``metadata.generation`` if the object has one (resources not tracking it have none)."""
    meta = metadata(obj)
    if "generation" in meta:
        meta["generation"] = int(meta["generation"] or 0) + 1


def fold_string_data(secret: Obj) -> None:
    """Secrets: merge ``stringData`` into base64-encoded ``data`` (stringData wins), drop ``stringData``."""
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = dict(secret.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret["data"] = data
