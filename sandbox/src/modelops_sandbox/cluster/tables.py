"""Server-side printing: ``meta.k8s.io/v1`` Tables (what ``kubectl get`` asks for) and partial metadata.

Custom resources get a Name column plus their CRD version's ``additionalPrinterColumns`` (or an Age
column when none are declared), evaluated with the JSONPath subset of :mod:`.jsonpath`. Cells are typed
as declared: ``integer``, ``number``, ``boolean``, ``string``; ``date`` cells are rendered as a human age
relative to now (``5s``, ``3m12s``, ``4h``, ``2d``), as the real server does. Column definitions carry
their ``priority``: kubectl itself hides ``priority > 0`` columns unless ``-o wide``.

Built-ins get the columns of the server's own printers (Name, Age, Secret Type/Data, ConfigMap Data,
Namespace Status, the ten Event columns...), all declared ``string`` as a real server declares them, with cells
computed as it computes them (e.g. ``<unknown>`` for a missing time). Descriptions are the API's field docs; a
CRD column without a description gets the server's default one, naming its JSONPath.

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

# The descriptions a real server gives its columns: the API documentation of the fields they show.
_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_CRD_COLUMN_DESCRIPTION = "Custom resource definition column (in JSONPath format): {}"


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


Printer = Callable[[Obj, datetime.datetime], Any]


@dataclass(frozen=True)
class Column:
    """A CRD column (``extract`` evaluates its JSONPath, the cell is converted to its ``type``), or a built-in
    one (``printer`` computes the cell as the server's printer does)."""

    name: str
    type: str
    extract: Callable[[Obj], list[Any]] = lambda obj: []
    description: str = ""
    format: str = ""
    priority: int = 0
    printer: Printer | None = None

    def value(self, obj: Obj, now: datetime.datetime) -> Any:
        if self.printer is not None:
            return self.printer(obj, now)
        try:
            return cell(self.type, self.extract(obj), now)
        except jsonpath.JSONPathError:
            return None

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


def _printed(name: str, printer: Printer, description: str, *, priority: int = 0, format: str = "") -> Column:
    """A built-in kind's column: declared ``string``, whatever its cells hold, as the server declares them."""
    return Column(name, "string", description=description, format=format, priority=priority, printer=printer)


def _since(value: Any, now: datetime.datetime) -> str:
    """A time as the server's printers show it: an age, or ``<unknown>`` when it is not set."""
    return "<unknown>" if not value else age(value, now)


def _count(*fields: str) -> Printer:
    return lambda obj, now: sum(len(obj.get(f) or {}) for f in fields)


def _field(*path: str) -> Printer:
    def printer(obj: Obj, now: datetime.datetime) -> Any:
        node: Any = obj
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return "" if node is None else node

    return printer


def _first_seen(obj: Obj, now: datetime.datetime) -> str:
    return _since(obj.get("firstTimestamp") or obj.get("eventTime"), now)


def _last_seen(obj: Obj, now: datetime.datetime) -> str:
    series = obj.get("series") or {}
    if series.get("lastObservedTime"):
        return _since(series["lastObservedTime"], now)
    return _since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else _first_seen(obj, now)


def _involved(obj: Obj, now: datetime.datetime) -> str:
    involved = obj.get("involvedObject") or {}
    kind, name = str(involved.get("kind", "")).lower(), involved.get("name")
    return f"{kind}/{name}" if name else kind


def _event_source(obj: Obj, now: datetime.datetime) -> str:
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    host = source.get("host") or obj.get("reportingInstance") or ""
    return f"{component}, {host}" if host else component


def _event_count(obj: Obj, now: datetime.datetime) -> int:
    series = obj.get("series") or {}
    return int(series.get("count") or obj.get("count") or 1)  # singleton events have no count


NAME_COLUMN = Column("Name", "string", _path(".metadata.name"), _NAME_DESCRIPTION, format="name")
AGE_COLUMN = Column("Age", "date", _path(".metadata.creationTimestamp"), _AGE_DESCRIPTION)
_NAME = _printed("Name", _field("metadata", "name"), _NAME_DESCRIPTION, format="name")
_AGE = _printed(
    "Age",
    lambda obj, now: _since((obj.get("metadata") or {}).get("creationTimestamp"), now),
    _AGE_DESCRIPTION,
)

_BUILTIN_COLUMNS: dict[tuple[str, str], tuple[Column, ...]] = {
    ("", "secrets"): (
        _NAME,
        _printed(
            "Type",
            _field("type"),
            "Used to facilitate programmatic handling of secret data. More info: "
            "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
        ),
        _printed(
            "Data",
            _count("data"),
            "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. "
            "The serialized form of the secret data is a base64 encoded string, representing the arbitrary "
            "(possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
        ),
        _AGE,
    ),
    ("", "configmaps"): (
        _NAME,
        _printed(
            "Data",
            _count("data", "binaryData"),
            "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' "
            "or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data "
            "must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
        ),
        _AGE,
    ),
    ("", "namespaces"): (
        _NAME,
        _printed("Status", _field("status", "phase"), "The status of the namespace"),
        _AGE,
    ),
    ("", "pods"): (
        _NAME,
        _printed("Status", _field("status", "phase"), "The pod phase"),
        _AGE,
    ),
    ("", "events"): (
        _printed(
            "Last Seen",
            _last_seen,
            "The time at which the most recent occurrence of this event was recorded.",
        ),
        _printed(
            "Type",
            _field("type"),
            "Type of this event (Normal, Warning), new types could be added in the future",
        ),
        _printed(
            "Reason",
            _field("reason"),
            "This should be a short, machine understandable string that gives the reason for the transition "
            "into the object's current status.",
        ),
        _printed("Object", _involved, "The object that this event is about."),
        _printed(
            "Subobject",
            _field("involvedObject", "fieldPath"),
            "If referring to a piece of an object instead of an entire object, this string should contain a "
            "valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if "
            "the object reference is to a container within a pod, this would take on a value like: "
            '"spec.containers{name}" (where "name" refers to the name of the container that triggered the '
            'event) or if no container name is specified "spec.containers[2]" (container with index 2 in this '
            "pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
            priority=1,
        ),
        _printed(
            "Source",
            _event_source,
            "The component reporting this event. Should be a short machine understandable string.",
            priority=1,
        ),
        _printed(
            "Message",
            lambda obj, now: str(obj.get("message") or "").strip(),
            "A human-readable description of the status of this operation.",
        ),
        _printed(
            "First Seen",
            _first_seen,
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            priority=1,
        ),
        _printed("Count", _event_count, "The number of times this event has occurred.", priority=1),
        _printed("Name", _field("metadata", "name"), _NAME_DESCRIPTION, priority=1, format="name"),
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
                    description=str(
                        column.get("description")
                        or _CRD_COLUMN_DESCRIPTION.format(column.get("jsonPath", ""))
                    ),
                    format=str(column.get("format", "")),
                    priority=int(column.get("priority", 0)),
                )
                for column in spec.printer_columns
            ),
        )
    if spec.crd is not None:  # a CRD version without printer columns: its name and age
        return (NAME_COLUMN, AGE_COLUMN)
    return _BUILTIN_COLUMNS.get((spec.group, spec.plural), (_NAME, _AGE))


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
        row: Obj = {"cells": [column.value(obj, now) for column in columns]}
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
