"""Validate a custom resource against a CRD the way the API server would: OpenAPI schema + CEL rules."""

from __future__ import annotations

from typing import Any

import cel
import jsonschema


def version_schema(crd: dict[str, Any], version: str = "v1alpha1") -> dict[str, Any]:
    for item in crd["spec"]["versions"]:
        if item["name"] == version:
            schema: dict[str, Any] = item["schema"]["openAPIV3Schema"]
            return schema
    raise KeyError(version)


def _plain(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_plain(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {key: _plain(value) for key, value in schema.items() if not key.startswith("x-kubernetes")}


def schema_errors(crd: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(_plain(version_schema(crd)))
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(obj)
    ]


def cel_errors(crd: dict[str, Any], new: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """Evaluate every x-kubernetes-validations rule; transition rules (oldSelf) only when both sides exist."""
    errors: list[str] = []

    def walk(schema: dict[str, Any], value: Any, old_value: Any, path: str) -> None:
        for rule in schema.get("x-kubernetes-validations", []):
            uses_old = "oldSelf" in rule["rule"]
            if uses_old and old_value is None:
                continue
            context = {"self": value}
            if uses_old:
                context["oldSelf"] = old_value
            if not cel.evaluate(rule["rule"], context):
                # fieldPath (relative to the rule's node) is where the API server reports the error.
                where = path + rule.get("fieldPath", "")
                errors.append(f"{where or '<root>'}: {rule.get('message', rule['rule'])}")
        if isinstance(value, dict):
            for name, child in (schema.get("properties") or {}).items():
                if name in value:
                    old_child = old_value.get(name) if isinstance(old_value, dict) else None
                    walk(child, value[name], old_child, f"{path}.{name}" if path else name)

    walk(version_schema(crd), new, old, "")
    return errors
