"""Patch documents as the API server accepts them, applied to plain JSON-like objects.

* JSON merge patch (RFC 7386, ``application/merge-patch+json``): maps merge recursively, ``null``
  deletes a key, anything else (lists included) replaces the value.
* JSON patch (RFC 6902, ``application/json-patch+json``): ``add``, ``remove``, ``replace``, ``move``,
  ``copy``, ``test``. A failed ``test`` or an op on a missing path raises :class:`PatchFailed`
  (the server answers 422 Invalid); a malformed document raises :class:`PatchInvalid` (400).
* Strategic merge patch (``application/strategic-merge-patch+json``): a merge patch, except that lists
  of maps keyed by ``name`` are merged item by item (``$patch: delete`` removes an item), and the
  directives ``$patch: replace|delete``, ``$retainKeys``, ``$setElementOrder/<field>`` and
  ``$deleteFromPrimitiveList/<field>`` are honoured. Other merge keys (e.g. ``containerPort``) are not
  known here: such lists are replaced as in a merge patch. A ``$setElementOrder`` list must name the
  patch list's items in the same relative order, or the patch fails (:class:`PatchRejected`, a 500 on a real
  server). Custom resources do not accept strategic merge patches at all (the emulator answers 415).
* Server-side apply (``application/apply-patch+yaml``) is treated by the emulator as create-or-merge,
  using :func:`merge_patch`; field ownership is not tracked.

Inputs are never mutated; results share no mutable structure with the patch documents.
"""

from __future__ import annotations

import copy
from typing import Any

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = frozenset({MERGE_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH})


class PatchInvalid(ValueError):
    """The patch document itself is malformed (400 Bad Request)."""


class PatchFailed(ValueError):
    """The patch is well-formed but cannot be applied, e.g. a failed ``test`` op (422 Invalid)."""


class PatchRejected(ValueError):
    """The server's patch machinery itself gives up (a real server answers 500 with this message)."""


# --- RFC 7386 ------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- RFC 6902 ------------------------------------------------------------------------------------


def _parse_pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise PatchInvalid(f"invalid JSON pointer: {pointer!r}")
    if pointer == "":
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _index(container: list[Any], token: str, pointer: str, *, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchFailed(f"invalid array index {token!r} in {pointer}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchFailed(f"array index {index} out of bounds in {pointer}")
    return index


def _resolve(doc: Any, tokens: list[str], pointer: str) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise PatchFailed(f"path not found: {pointer}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, pointer, allow_end=False)]
        else:
            raise PatchFailed(f"path not found: {pointer}")
    return node


def _json_equal(a: Any, b: Any) -> bool:
    # JSON equality: booleans are not numbers, 1 == 1.0, containers compare structurally.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _add(doc: Any, tokens: list[str], value: Any, pointer: str) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1], pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, pointer, allow_end=True), value)
    else:
        raise PatchFailed(f"path not found: {pointer}")
    return doc


def _remove(doc: Any, tokens: list[str], pointer: str) -> Any:
    if not tokens:
        raise PatchFailed("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1], pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchFailed(f"path not found: {pointer}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, pointer, allow_end=False))
    raise PatchFailed(f"path not found: {pointer}")


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchInvalid("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise PatchInvalid(f"invalid JSON patch operation: {op!r}")
        kind = op["op"]
        pointer = op.get("path")
        tokens = _parse_pointer(pointer)
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchInvalid(f"missing value in JSON patch operation: {op!r}")
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op["value"]), str(pointer))
        elif kind == "remove":
            _remove(doc, tokens, str(pointer))
        elif kind == "replace":
            _resolve(doc, tokens, str(pointer))  # must exist
            if tokens:
                _remove(doc, tokens, str(pointer))
            doc = _add(doc, tokens, copy.deepcopy(op["value"]), str(pointer))
        elif kind in ("move", "copy"):
            source = op.get("from")
            from_tokens = _parse_pointer(source)
            value = copy.deepcopy(_resolve(doc, from_tokens, str(source)))
            if kind == "move":
                if tokens[: len(from_tokens)] == from_tokens and len(tokens) > len(from_tokens):
                    raise PatchFailed(f"cannot move {source} into its own child {pointer}")
                _remove(doc, from_tokens, str(source))
            doc = _add(doc, tokens, value, str(pointer))
        elif kind == "test":
            actual = _resolve(doc, tokens, str(pointer))
            if not _json_equal(actual, op["value"]):
                raise PatchFailed(f"testing value {pointer} failed: test failed")
        else:
            raise PatchInvalid(f"unknown JSON patch operation: {kind!r}")
    return doc


# --- strategic merge patch -----------------------------------------------------------------------

_DELETE = object()  # a sentinel: "$patch: delete" on a map removes the map itself


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _strip_directives(item)
            for key, item in value.items()
            if not key.startswith("$") and item is not None
        }
    if isinstance(value, list):
        return [
            _strip_directives(item) for item in value if not (isinstance(item, dict) and item.get("$patch"))
        ]
    return copy.deepcopy(value)


def _is_named_list(items: Any) -> bool:
    return isinstance(items, list) and all(
        isinstance(i, dict) and isinstance(i.get("name"), str) for i in items
    )


def _merge_named_list(current: list[Any], patch: list[Any]) -> list[Any]:
    result = list(current)
    for item in patch:
        position = next(
            (i for i, existing in enumerate(result) if existing.get("name") == item["name"]), None
        )
        if item.get("$patch") == "delete":
            if position is not None:
                result.pop(position)
        elif position is not None:
            merged = _strategic(result[position], item)
            result[position] = {} if merged is _DELETE else merged
        else:
            result.append(_strip_directives(item))
    return result


def _reorder(items: list[Any], order: list[Any]) -> list[Any]:
    def identity(item: Any) -> Any:
        return item.get("name") if isinstance(item, dict) else item

    wanted = [identity(item) for item in order]
    ranks = {key: rank for rank, key in enumerate(wanted) if isinstance(key, str | int | float | bool)}
    ranked = [item for item in items if identity(item) in ranks]
    others = [item for item in items if identity(item) not in ranks]
    return sorted(ranked, key=lambda item: ranks[identity(item)]) + others


def _go_format(value: Any) -> str:
    """A JSON value as Go's ``%v`` prints it (maps with sorted keys), for messages worded like the server's."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{_go_format(value[key])}" for key in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_format(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<nil>" if value is None else str(value)


def _check_order(patch_list: Any, order: Any) -> None:
    """The patch list's items (but deletions) must appear in the ``$setElementOrder`` list in the same order."""
    if not isinstance(patch_list, list) or not isinstance(order, list) or not patch_list or not order:
        return

    def identity(item: Any) -> Any:
        return item.get("name") if isinstance(item, dict) else item

    kept = [item for item in patch_list if not (isinstance(item, dict) and item.get("$patch") == "delete")]
    position = 0
    for wanted in order:
        if position < len(kept) and identity(kept[position]) == identity(wanted):
            position += 1
    if position < len(kept):
        raise PatchRejected(
            f"The order in patch list:\n{_go_format(patch_list)}\n doesn't match $setElementOrder list:\n"
            f"{_go_format(order)}\n"
        )


def _strategic(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return _strip_directives(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return _DELETE
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    orders: dict[str, Any] = {}
    deletions: dict[str, Any] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            _check_order(patch.get(key.split("/", 1)[1]), value)
        elif key.startswith("$deleteFromPrimitiveList/"):
            deletions[key.split("/", 1)[1]] = value
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list) and _is_named_list(value) and _is_named_list(result.get(key, [])):
            result[key] = _merge_named_list(result.get(key) or [], value)
        elif isinstance(value, dict):
            merged = _strategic(result.get(key), value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = _strip_directives(value)
    for key, values in deletions.items():
        if isinstance(result.get(key), list) and isinstance(values, list):
            result[key] = [item for item in result[key] if item not in values]
    for key, order in orders.items():
        if isinstance(result.get(key), list) and isinstance(order, list):
            result[key] = _reorder(result[key], order)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {key: value for key, value in result.items() if key in retain}
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise PatchInvalid("a strategic merge patch must be a JSON object")
    result = _strategic(target, patch)
    return {} if result is _DELETE else result
