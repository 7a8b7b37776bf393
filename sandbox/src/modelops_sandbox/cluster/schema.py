"""What the API server does to a custom resource with its CRD version's structural schema, on every write.

* Pruning: fields the schema does not declare are dropped, silently, at any depth (``status`` included):
  an object node keeps only its ``properties`` (and, with ``additionalProperties``, any key, pruned by that
  schema), unless it has ``x-kubernetes-preserve-unknown-fields: true``; a node with
  ``x-kubernetes-embedded-resource: true`` also keeps ``apiVersion``, ``kind`` and ``metadata``. Array items
  are pruned by ``items``. At the root, ``apiVersion``, ``kind`` and ``metadata`` are always kept.
* Nulls: a ``null`` in a field that is not ``nullable: true`` is dropped (and then defaulted, if it can be).
* Defaulting: a missing property with a ``default`` gets (a copy of) it, wherever its parent object exists,
  top-down, so defaults inside a defaulted object apply too.

Not done here: validation of values (types, formats, enums, patterns, ranges, ``required``, CEL rules).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]
ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def apply(obj: dict[str, Any], schema: Schema | None) -> dict[str, Any]:
    """The object pruned and defaulted by its (structural) schema; ``None``: no schema, nothing to do."""
    if not schema:
        return obj
    # The root always keeps its type and metadata (metadata has rules of its own), whatever the schema says.
    kept = {key: obj[key] for key in ROOT_FIELDS if key in obj}
    content = _object({key: value for key, value in obj.items() if key not in ROOT_FIELDS}, schema)
    return kept | content


def _kept_as_is(schema: Schema, key: str) -> bool:
    if (
        schema.get("x-kubernetes-preserve-unknown-fields") is True
        or schema.get("additionalProperties") is True
    ):
        return True
    return bool(schema.get("x-kubernetes-embedded-resource")) and key in ROOT_FIELDS


def _child(schema: Schema, key: str) -> Schema | None:
    """The schema of a key of an object node (``None``: an unknown key)."""
    properties: Mapping[str, Schema] = schema.get("properties") or {}
    if key in properties:
        return properties[key]
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, Mapping) else None


def _object(value: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    properties: Mapping[str, Schema] = schema.get("properties") or {}
    result: dict[str, Any] = {}
    for key, item in value.items():
        child = _child(schema, key)
        if child is None:
            if _kept_as_is(schema, key):
                result[key] = item
            continue  # otherwise pruned
        if item is None and not child.get("nullable"):
            continue  # dropped, and defaulted below if the schema has a default
        result[key] = _value(item, child)
    for key, child in properties.items():
        if key not in result and "default" in child:
            result[key] = _value(copy.deepcopy(child["default"]), child)
    return result


def _value(value: Any, schema: Schema) -> Any:
    if isinstance(value, Mapping):
        return _object(value, schema)
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_value(item, schema["items"]) for item in value]
    return value
