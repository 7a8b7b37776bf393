"""Server-side printing: ``meta.k8s.io/v1`` Tables (what ``kubectl get`` asks for) and partial metadata.

Custom resources get a Name column plus their CRD version's ``additionalPrinterColumns`` (or an Age
column when none are declared), evaluated with the JSONPath subset of :mod:`.jsonpath`. Cells are typed
as declared: ``integer``, ``number``, ``boolean``, ``string``; ``date`` cells are rendered as a human age
relative to now (``5s``, ``3m12s``, ``4h``, ``2d``), as the real server does. Column definitions carry
their ``priority``: kubectl itself hides ``priority > 0`` columns unless ``-o wide``.

Built-ins get Name + Age, plus a few familiar columns (Secret Type/Data, ConfigMap Data, Namespace
Status, Event Type/Reason/Object/Message).

Each row carries its ``object`` as ``PartialObjectMetadata`` (``includeObject=Metadata``, the default),
as the full object (``includeObject=Object``), or not at all (``includeObject=None``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from modelops_sandbox.cluster import jsonpath
from modelops_sandbox.cluster.discovery import ResourceSpec

Obj = dict[str, Any]

_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically."
)
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created."
)


def human_duration(seconds: float) -> str:
    """A short, human-readable duration, with the precision kubectl users know from the AGE column."""
    total = int(seconds)
    if total < -1:
        return "<invalid>"
    if total < 0:
        return "0s"
    if total < 120:
        return f"{total}s"
    minutes = total // 60
    if minutes < 10:
        rest = total % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = total // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years, rest_days = divmod(days, 365)
    if days < 365 * 8:
        return f"{years}y{rest_days}d" if rest_days else f"{years}y"
    return f"{years}y"


def parse_timestamp(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def age(value: Any, now: datetime.datetime) -> str:
    parsed = parse_timestamp(value)
    if parsed is None:
        return "<unknown>" if value in (None, "") else "<invalid>"
    return human_duration((now - parsed).total_seconds())


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    extract: Callable[[Obj], list[Any]]
    description: str = ""
    format: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def cell(column_type: str, values: list[Any], now: datetime.datetime) -> Any:
    values = [v for v in values if v is not None]
    if not values:
        return None
    first = values[0]
    if column_type == "date":
        return age(first, now)
    if len(values) > 1:
        return ",".join(_scalar_text(v) for v in values)
    if column_type == "integer":
        if isinstance(first, bool):
            return None
        if isinstance(first, int):
            return first
        if isinstance(first, float) and first.is_integer():
            return int(first)
        return None
    if column_type == "number":
        return first if isinstance(first, int | float) and not isinstance(first, bool) else None
    if column_type == "boolean":
        return first if isinstance(first, bool) else None
    return _scalar_text(first)


def _path(expr: str) -> Callable[[Obj], list[Any]]:
    return lambda obj: jsonpath.evaluate(expr, obj)


def _count(*fields: str) -> Callable[[Obj], list[Any]]:
    return lambda obj: [sum(len(obj.get(f) or {}) for f in fields)]


def _involved(obj: Obj) -> list[Any]:
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    return [f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"]


def _last_seen(obj: Obj) -> list[Any]:
    return [
        obj.get("lastTimestamp")
        or obj.get("eventTime")
        or (obj.get("metadata") or {}).get("creationTimestamp")
    ]


NAME_COLUMN = Column("Name", "string", _path(".metadata.name"), _NAME_DESCRIPTION, format="name")
AGE_COLUMN = Column("Age", "date", _path(".metadata.creationTimestamp"), _AGE_DESCRIPTION)

_BUILTIN_COLUMNS: dict[tuple[str, str], tuple[Column, ...]] = {
    ("", "secrets"): (
        NAME_COLUMN,
        Column("Type", "string", _path(".type"), "The type of the secret"),
        Column("Data", "integer", _count("data"), "The number of keys in the secret"),
        AGE_COLUMN,
    ),
    ("", "configmaps"): (
        NAME_COLUMN,
        Column("Data", "integer", _count("data", "binaryData"), "The number of keys in the config map"),
        AGE_COLUMN,
    ),
    ("", "namespaces"): (
        NAME_COLUMN,
        Column("Status", "string", _path(".status.phase"), "The status of the namespace"),
        AGE_COLUMN,
    ),
    ("", "pods"): (
        NAME_COLUMN,
        Column("Status", "string", _path(".status.phase"), "The pod phase"),
        AGE_COLUMN,
    ),
    ("", "events"): (
        Column("Last Seen", "date", _last_seen, "When the event was last seen"),
        Column("Type", "string", _path(".type"), "Normal or Warning"),
        Column("Reason", "string", _path(".reason"), "The reason of the event"),
        Column("Object", "string", _involved, "The object the event is about"),
        Column("Message", "string", _path(".message"), "A human-readable description"),
    ),
}


def columns_for(spec: ResourceSpec) -> tuple[Column, ...]:
    if spec.printer_columns is not None:
        return (
            NAME_COLUMN,
            *(
                Column(
                    name=str(column.get("name", "")),
                    type=str(column.get("type", "string")),
                    extract=_path(str(column.get("jsonPath", ""))),
                    description=str(column.get("description", "")),
                    format=str(column.get("format", "")),
                    priority=int(column.get("priority", 0)),
                )
                for column in spec.printer_columns
            ),
        )
    return _BUILTIN_COLUMNS.get((spec.group, spec.plural), (NAME_COLUMN, AGE_COLUMN))


def partial_metadata(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def partial_metadata_list(objs: Iterable[Obj], resource_version: str) -> Obj:
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "items": [partial_metadata(obj) for obj in objs],
    }


def table(
    spec: ResourceSpec,
    objs: Iterable[Obj],
    *,
    include_object: str = "Metadata",
    resource_version: str = "",
    now: datetime.datetime | None = None,
) -> Obj:
    now = now or datetime.datetime.now(datetime.UTC)
    columns = columns_for(spec)
    rows: list[Obj] = []
    for obj in objs:
        row: Obj = {"cells": [cell(c.type, _safe_extract(c, obj), now) for c in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [c.definition() for c in columns],
        "rows": rows,
    }


def _safe_extract(column: Column, obj: Obj) -> list[Any]:
    try:
        return column.extract(obj)
    except jsonpath.JSONPathError:
        return []
