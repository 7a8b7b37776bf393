"""A CRD's structural schema: unknown fields are pruned, defaults applied, values validated."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.backends import Backend
from tests.emulator.helpers import Http, Scope

GADGETS = "gadgets"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "default": {},
            "properties": {
                "size": {"type": "integer", "minimum": 1, "default": 1},
                "mode": {"type": "string", "enum": ["auto", "manual"], "default": "auto"},
                "note": {"type": "string", "nullable": True},
                "limits": {
                    "type": "object",
                    "default": {},
                    "properties": {"cpu": {"type": "string", "default": "100m"}},
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer", "default": 80},
                        },
                    },
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
            "x-kubernetes-validations": [
                {
                    # A real server checks the rules against the schema's defaults too: guard with has().
                    "rule": "!has(self.mode) || self.mode != 'manual' || !has(self.size) || self.size <= 3",
                    "message": "manual gadgets are small",
                }
            ],
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}


@pytest.fixture
async def gadgets(cluster: Backend, scope: Scope) -> str:
    """The collection of the test's Gadgets: a CRD with a strict structural schema."""
    await cluster.install_crd(scope.crd(plural=GADGETS, kind="Gadget", schema=SCHEMA))
    return f"/apis/{scope.group}/v1/namespaces/{scope.namespace}/{GADGETS}"


def gadget(scope: Scope, name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": scope.api_version, "kind": "Gadget", "metadata": {"name": name}, **fields}


async def test_unknown_fields_are_pruned_at_any_depth(http: Http, scope: Scope, gadgets: str) -> None:
    body = gadget(
        scope,
        "g",
        spec={
            "size": 2,
            "extra": True,
            "limits": {"cpu": "1", "gpu": "1"},
            "ports": [{"name": "http", "port": 8080, "proto": "TCP"}],
            "labels": {"a": "b"},
            "free": {"anything": {"goes": [1]}},
        },
        data={"top": "level"},
    )
    created = await http.post(gadgets, body)
    assert created.status == 201, created.body
    assert "data" not in created.body
    assert created.body["spec"] == {
        "size": 2,
        "mode": "auto",
        "limits": {"cpu": "1"},
        "ports": [{"name": "http", "port": 8080}],
        "labels": {"a": "b"},
        "free": {"anything": {"goes": [1]}},
    }
    status = await http.patch(f"{gadgets}/g/status", {"status": {"phase": "Ready", "undeclared": 1}})
    assert status.body["status"] == {"phase": "Ready"}  # what an operator writes undeclared is lost


async def test_defaults_are_applied_top_down(http: Http, scope: Scope, gadgets: str) -> None:
    created = (await http.post(gadgets, gadget(scope, "g"))).body
    assert created["spec"] == {"size": 1, "mode": "auto", "limits": {"cpu": "100m"}}
    assert "status" not in created  # no default for it
    ports = (await http.patch(f"{gadgets}/g", {"spec": {"ports": [{"name": "http"}]}})).body["spec"]["ports"]
    assert ports == [{"name": "http", "port": 80}]


async def test_nulls_are_dropped_then_defaulted_unless_nullable(
    http: Http, scope: Scope, gadgets: str
) -> None:
    created = (await http.post(gadgets, gadget(scope, "g", spec={"mode": None, "note": None}))).body
    assert created["spec"]["mode"] == "auto" and created["spec"]["note"] is None


async def test_a_patch_of_undeclared_fields_only_is_a_no_op(http: Http, scope: Scope, gadgets: str) -> None:
    created = (await http.post(gadgets, gadget(scope, "g"))).body
    patched = (await http.patch(f"{gadgets}/g", {"spec": {"undeclared": 1}})).body
    assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert patched["metadata"]["generation"] == 1


@pytest.mark.emulator_limitation(
    "custom resources are not validated against their CRD's OpenAPI schema (types, enum, minimum...)"
)
async def test_values_are_validated_against_the_schema(http: Http, scope: Scope, gadgets: str) -> None:
    for spec, field in (
        ({"size": "big"}, "spec.size"),
        ({"size": 0}, "spec.size"),
        ({"mode": "x"}, "spec.mode"),
    ):
        reply = await http.post(gadgets, gadget(scope, "g", spec=spec))
        assert reply.status == 422 and reply.body["reason"] == "Invalid", spec
        assert field in reply.body["message"]


@pytest.mark.emulator_limitation("the CEL rules of a CRD (x-kubernetes-validations) are not evaluated")
async def test_cel_validation_rules_are_enforced(http: Http, scope: Scope, gadgets: str) -> None:
    reply = await http.post(gadgets, gadget(scope, "g", spec={"mode": "manual", "size": 5}))
    assert reply.status == 422 and "manual gadgets are small" in reply.body["message"]
