"""Protobuf request bodies (client-go's typed clients: kubectl create, helm's release storage)."""

from __future__ import annotations

import base64

from tests.emulator.helpers import Http

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


def secret_message() -> bytes:
    metadata = (
        _field(1, "s1") + _field(3, "default") + _field(11, _entry("owner", "helm")) + _field(14, "a/b")
    )
    secret = _field(1, metadata) + _field(2, _entry("release", b"\x00\x01")) + _field(3, "helm.sh/release.v1")
    envelope = _field(1, _field(1, "v1") + _field(2, "Secret")) + _field(2, secret)
    return b"k8s\x00" + envelope


async def test_protobuf_secret_is_decoded_on_create(http: Http) -> None:
    reply = await http.call(
        "POST", "/api/v1/namespaces/default/secrets", secret_message(), content_type=PROTOBUF
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


async def test_protobuf_of_an_unknown_kind_is_a_415(http: Http) -> None:
    envelope = _field(1, _field(1, "apps/v1") + _field(2, "Deployment")) + _field(
        2, _field(1, _field(1, "d"))
    )
    reply = await http.call(
        "POST", "/apis/apps/v1/namespaces/default/deployments", b"k8s\x00" + envelope, content_type=PROTOBUF
    )
    assert reply.status == 415 and reply.body["reason"] == "UnsupportedMediaType"
