"""Shared helpers for contract tests: load the vendors' OpenAPI specs and turn their schemas into validators.

OpenAPI 3.0 schemas are not JSON Schema: ``nullable: true`` and ``$ref`` with sibling keywords need
converting. ``openapi_validator(spec, schema, strict=True)`` resolves every ``$ref`` (inlined), turns
``nullable`` into a ``{"anyOf": [..., {"type": "null"}]}`` union and, in strict mode, requires every
documented property and forbids undocumented ones (fakes must render exactly the documented fields).
``require_all=False`` keeps the spec's own ``required`` lists while still forbidding undocumented properties
(for request bodies, whose optional fields may be left out).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker

SpecLoader = Callable[[str], dict[str, Any]]
ValidatorFactory = Callable[..., Draft202012Validator]

_ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _resolve(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported: {ref}")
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    assert isinstance(node, dict)
    return node


def to_json_schema(
    spec: dict[str, Any], node: Any, *, strict: bool, depth: int = 0, require_all: bool = True
) -> Any:
    if depth > 50:
        raise ValueError("$ref nesting too deep (cycle?)")

    def sub(child: Any) -> Any:
        return to_json_schema(spec, child, strict=strict, depth=depth + 1, require_all=require_all)

    if isinstance(node, list):
        return [sub(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**_resolve(spec, node["$ref"]), **siblings}
    nullable = bool(node.get("nullable", False))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("nullable", "example", "examples", "x-twilio"):
            continue
        if key == "properties":
            out[key] = {name: sub(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties", "not") or key in ("allOf", "anyOf", "oneOf"):
            out[key] = sub(value)
        else:
            out[key] = value
    if strict and "properties" in out:
        if require_all:
            out.setdefault("required", sorted(out["properties"]))
        out.setdefault("additionalProperties", False)
    if nullable:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _ISO_Z.match(value):
            raise ValueError(f"not an ISO 8601 UTC timestamp ending in Z: {value!r}")
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("uri", raises=ValueError)
    def is_uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an absolute http(s) URI: {value!r}")
        return True

    return checker


@pytest.fixture(scope="session")
def load_spec() -> SpecLoader:
    """Load a spec shipped in ``modelops_sandbox/specs`` by file name."""
    cache: dict[str, dict[str, Any]] = {}

    def load(name: str) -> dict[str, Any]:
        if name not in cache:
            text = resources.files("modelops_sandbox").joinpath("specs", name).read_text("utf-8")
            cache[name] = json.loads(text)
        return cache[name]

    return load


@pytest.fixture(scope="session")
def openapi_validator() -> ValidatorFactory:
    """``openapi_validator(spec, schema_or_ref, strict=True, require_all=True)``: a format-checking Draft
    2020-12 validator (see the module docstring for the two switches)."""
    checker = _format_checker()

    def make(
        spec: dict[str, Any], schema: dict[str, Any] | str, *, strict: bool = True, require_all: bool = True
    ) -> Draft202012Validator:
        node = {"$ref": schema} if isinstance(schema, str) else schema
        converted = to_json_schema(spec, node, strict=strict, require_all=require_all)
        Draft202012Validator.check_schema(converted)
        return Draft202012Validator(converted, format_checker=checker)

    return make


def response_schema(spec: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    """The documented ``application/json`` schema of one response."""
    operation = spec["paths"][path][method.lower()]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    assert isinstance(schema, dict)
    return schema


def response_examples(spec: dict[str, Any], path: str, method: str, status: int) -> list[Any]:
    operation = spec["paths"][path][method.lower()]
    examples = operation["responses"][str(status)]["content"]["application/json"].get("examples", {})
    return [example["value"] for example in examples.values()]


@pytest.fixture(scope="session")
def spec_response() -> Callable[[dict[str, Any], str, str, int], dict[str, Any]]:
    return response_schema


@pytest.fixture(scope="session")
def spec_examples() -> Callable[[dict[str, Any], str, str, int], list[Any]]:
    return response_examples
