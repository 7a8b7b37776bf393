"""Decoding of Kubernetes protobuf request bodies for the few built-in kinds clients send that way.

client-go's typed clients (used by ``kubectl create`` and by helm's release storage) send built-in
objects as ``application/vnd.kubernetes.protobuf`` and offer no JSON fallback for request bodies.
Responses are not a problem: those clients also accept JSON, which is what the emulator answers.

The envelope is the magic ``k8s\\x00`` followed by a ``runtime.Unknown`` message (``typeMeta`` = 1 with
apiVersion = 1 and kind = 2; ``raw`` = 2 holding the object's own message). Objects are decoded with
the field numbers of the published ``generated.proto`` schemas of core/v1 and meta/v1, into the same
JSON shape the API uses (empty/zero fields omitted, bytes base64-encoded, Time as RFC 3339).

Only Secret, ConfigMap, Namespace and ServiceAccount are known; anything else raises
:class:`UnsupportedProtobuf` (the emulator answers 415). ``managedFields`` are skipped.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# A field type: a scalar name, ("message", schema), ("map", key, value), ("repeated", item type).
FieldType = Any
Schema = dict[int, tuple[str, FieldType]]


class UnsupportedProtobuf(ValueError):
    pass


TIME: Schema = {1: ("seconds", "int64"), 2: ("nanos", "int32")}
OWNER_REFERENCE: Schema = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
OBJECT_META: Schema = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int64"),
    8: ("creationTimestamp", "time"),
    9: ("deletionTimestamp", "time"),
    10: ("deletionGracePeriodSeconds", "int64"),
    11: ("labels", ("map", "string", "string")),
    12: ("annotations", ("map", "string", "string")),
    13: ("ownerReferences", ("repeated", ("message", OWNER_REFERENCE))),
    14: ("finalizers", ("repeated", "string")),
}
OBJECT_REFERENCE: Schema = {
    1: ("kind", "string"),
    2: ("namespace", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("resourceVersion", "string"),
    7: ("fieldPath", "string"),
}
KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Secret"): {
        1: ("metadata", ("message", OBJECT_META)),
        2: ("data", ("map", "string", "bytes")),
        3: ("type", "string"),
        4: ("stringData", ("map", "string", "string")),
        5: ("immutable", "bool"),
    },
    ("v1", "ConfigMap"): {
        1: ("metadata", ("message", OBJECT_META)),
        2: ("data", ("map", "string", "string")),
        3: ("binaryData", ("map", "string", "bytes")),
        4: ("immutable", "bool"),
    },
    ("v1", "Namespace"): {
        1: ("metadata", ("message", OBJECT_META)),
        2: ("spec", ("message", {1: ("finalizers", ("repeated", "string"))})),
    },
    ("v1", "ServiceAccount"): {
        1: ("metadata", ("message", OBJECT_META)),
        2: ("secrets", ("repeated", ("message", OBJECT_REFERENCE))),
        3: ("imagePullSecrets", ("repeated", ("message", {1: ("name", "string")}))),
        4: ("automountServiceAccountToken", "bool"),
    },
}


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise UnsupportedProtobuf("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """The raw (number, wire type, value) triples of one message."""
    fields: list[tuple[int, int, Any]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise UnsupportedProtobuf(f"unsupported wire type {wire}")
        fields.append((number, wire, value))
    return fields


def _scalar(kind: str, value: Any) -> Any:
    match kind:
        case "string":
            return bytes(value).decode("utf-8")
        case "bytes":
            return base64.b64encode(bytes(value)).decode()
        case "bool":
            return bool(value)
        case "int64" | "int32":
            return value - (1 << 64) if value >= 1 << 63 else value
        case "time":
            seconds = decode_message(bytes(value), TIME).get("seconds", 0)
            if not seconds:
                return None
            moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise UnsupportedProtobuf(f"unsupported field type {kind}")  # pragma: no cover


def _value(kind: FieldType, value: Any) -> Any:
    if isinstance(kind, tuple) and kind[0] == "message":
        return decode_message(bytes(value), kind[1])
    return _scalar(kind, value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False or value == {} or value == []


def decode_message(data: bytes, schema: Schema) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for number, _, raw in _fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if isinstance(kind, tuple) and kind[0] == "map":
            entry = {n: v for n, _, v in _fields(bytes(raw))}
            key = _scalar(kind[1], entry.get(1, b""))
            result.setdefault(name, {})[key] = _scalar(kind[2], entry.get(2, b""))
        elif isinstance(kind, tuple) and kind[0] == "repeated":
            result.setdefault(name, []).append(_value(kind[1], raw))
        else:
            result[name] = _value(kind, raw)
    return {key: value for key, value in result.items() if not _empty(value)}


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a protobuf-encoded built-in object into its JSON form (with apiVersion and kind)."""
    if not body.startswith(MAGIC):
        raise UnsupportedProtobuf("not a Kubernetes protobuf envelope")
    envelope = {number: value for number, _, value in _fields(body[len(MAGIC) :])}
    type_meta = {number: value for number, _, value in _fields(bytes(envelope.get(1, b"")))}
    api_version = bytes(type_meta.get(1, b"")).decode()
    kind = bytes(type_meta.get(2, b"")).decode()
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise UnsupportedProtobuf(f"protobuf bodies of {api_version} {kind} are not supported; send JSON")
    obj = decode_message(bytes(envelope.get(2, b"")), schema)
    return {"apiVersion": api_version, "kind": kind, **obj}
