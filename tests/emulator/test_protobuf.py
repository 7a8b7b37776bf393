"""Protobuf request bodies (client-go's typed clients: kubectl create, helm's release storage)."""

from __future__ import annotations

import base64

import pytest

from tests.emulator.helpers import Http, Scope

PROTOBUF = "application/vnd.kubernetes.protobuf"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _entry(key: str, value: bytes | str) -> bytes:
    return _field(1, key) + _field(2, value)


def secret_message(namespace: str) -> bytes:
    metadata = (
        _field(1, "s1") + _field(3, namespace) + _field(11, _entry("owner", "helm")) + _field(14, "a/b")
    )
    secret = _field(1, metadata) + _field(2, _entry("release", b"\x00\x01")) + _field(3, "helm.sh/release.v1")
    envelope = _field(1, _field(1, "v1") + _field(2, "Secret")) + _field(2, secret)
    return b"k8s\x00" + envelope


async def test_protobuf_secret_is_decoded_on_create(http: Http, scope: Scope) -> None:
    reply = await http.call(
        "POST",
        f"/api/v1/namespaces/{scope.namespace}/secrets",
        secret_message(scope.namespace),
        content_type=PROTOBUF,
    )
    assert reply.status == 201, reply.body
    metadata = reply.body["metadata"]
    assert (metadata["name"], metadata["labels"], metadata["finalizers"]) == (
        "s1",
        {"owner": "helm"},
        ["a/b"],
    )
    assert reply.body["type"] == "helm.sh/release.v1"
    assert base64.b64decode(reply.body["data"]["release"]) == b"\x00\x01"


def deployment_message(name: str) -> bytes:
    """A Deployment with a name only: decodable, but not a valid Deployment (no selector, no template)."""
    return (
        b"k8s\x00"
        + _field(1, _field(1, "apps/v1") + _field(2, "Deployment"))
        + _field(2, _field(1, _field(1, name)))
    )


@pytest.mark.emulator_only(
    "known limitation: the emulator decodes protobuf bodies of Secret, ConfigMap, Namespace and ServiceAccount "
    "only (what kubectl create and helm send); others are refused with a clear 415"
)
async def test_protobuf_of_a_kind_the_emulator_cannot_decode_is_a_415(http: Http, scope: Scope) -> None:
    reply = await http.call(
        "POST",
        f"/apis/apps/v1/namespaces/{scope.namespace}/deployments",
        deployment_message("d"),
        content_type=PROTOBUF,
    )
    assert reply.status == 415 and reply.body["reason"] == "UnsupportedMediaType"


@pytest.mark.emulator_limitation(
    "protobuf request bodies are decoded for Secret, ConfigMap, Namespace and ServiceAccount only"
)
async def test_protobuf_of_any_builtin_kind_is_decoded_then_validated(http: Http, scope: Scope) -> None:
    reply = await http.call(
        "POST",
        f"/apis/apps/v1/namespaces/{scope.namespace}/deployments",
        deployment_message("d"),
        content_type=PROTOBUF,
    )
    assert reply.status == 422 and reply.body["reason"] == "Invalid"
    assert "spec.selector: Required value" in reply.body["message"]
