"""Parsing of API URLs and of the ``Accept`` header (content negotiation for Tables & partial metadata).

Resource URLs follow the API conventions::

    /api/v1/<plural>[/<name>[/<subresource>]]                                  core, cluster-scoped
    /api/v1/namespaces/<ns>/<plural>[/<name>[/<subresource>]]                  core, namespaced
    /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>[/<subresource>]]

``/api/v1/namespaces[/<name>[/status|/finalize]]`` addresses the namespaces themselves.
Anything else (``/api``, ``/apis/<group>``, ``/version``, ...) is not a resource URL.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse_resource_path(path: str) -> ResourcePath | None:
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:]) or None
    return ResourcePath(group, version, plural, namespace, name, subresource)


@dataclass(frozen=True)
class MediaRange:
    type: str
    params: dict[str, str]


def parse_accept(accept: str | None) -> list[MediaRange]:
    ranges: list[MediaRange] = []
    for item in (accept or "").split(","):
        fields = [f.strip() for f in item.split(";")]
        if not fields[0]:
            continue
        params = {}
        for param in fields[1:]:
            key, _, value = param.partition("=")
            params[key.strip().lower()] = value.strip()
        ranges.append(MediaRange(fields[0].lower(), params))
    return ranges


def negotiate(accept: str | None) -> str:
    """The representation asked for: ``Table``, ``PartialObjectMetadata[List]``, or ``""`` (plain)."""
    for media in parse_accept(accept):
        if media.type not in ("application/json", "*/*", "application/*"):
            continue
        as_ = media.params.get("as")
        if as_ is None:
            return ""
        if (
            as_ in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList")
            and media.params.get("g", "meta.k8s.io") == "meta.k8s.io"
        ):
            return as_
    return ""


def content_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()
