"""The subset of Kubernetes JSONPath used by ``additionalPrinterColumns`` (and by kubectl's column specs).

Supported: ``.a.b``, ``a.b`` (leading dot optional), ``{.a.b}`` and ``$.a.b`` wrappers, ``['key']`` and
``["key"]`` (for keys with dots or slashes), ``[0]`` and ``[-1]`` indexes, ``[*]`` and ``.*`` wildcards,
``[start:end]`` slices, and filters ``[?(@.type=="Ready")]`` with ``==``/``!=`` against a quoted string,
a number or ``true``/``false``, or a bare ``[?(@.field)]`` existence test. ``\\.`` escapes a dot in a key.

:func:`evaluate` returns all matched values (an empty list when nothing matches).
Unsupported syntax (e.g. ``..`` recursive descent, ``range``) raises :class:`JSONPathError`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any


class JSONPathError(ValueError):
    pass


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Slice:
    start: int | None
    stop: int | None


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Filter:
    path: tuple[str, ...]
    operator: str | None  # "==", "!=", or None for an existence test
    value: Any = None


_Step = _Field | _Index | _Slice | _Wildcard | _Filter
_FILTER = re.compile(r"^\?\(\s*@((?:\.[^.\s=!<>]+)+)\s*(?:(==|!=)\s*(.+?))?\s*\)$")


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise JSONPathError(f"unsupported literal in a JSONPath filter: {text!r}") from exc


def _closing_bracket(expr: str, start: int) -> int:
    quote: str | None = None
    depth = 0
    for position in range(start, len(expr)):
        char = expr[position]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0 and char == "]":
                return position
    raise JSONPathError(f"unbalanced brackets in JSONPath {expr!r}")


def _bracket_step(inner: str, expr: str) -> _Step:
    inner = inner.strip()
    if inner == "*":
        return _Wildcard()
    if inner.startswith("?"):
        match = _FILTER.match(inner)
        if not match:
            raise JSONPathError(f"unsupported JSONPath filter {inner!r} in {expr!r}")
        path = tuple(match[1].lstrip(".").split("."))
        operator = match[2]
        return _Filter(path, operator, _literal(match[3]) if operator else None)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Field(inner[1:-1])
    if re.fullmatch(r"-?\d+", inner):
        return _Index(int(inner))
    if re.fullmatch(r"-?\d*:-?\d*", inner):
        start, stop = inner.split(":")
        return _Slice(int(start) if start else None, int(stop) if stop else None)
    raise JSONPathError(f"unsupported JSONPath subscript [{inner}] in {expr!r}")


@functools.lru_cache(maxsize=256)
def parse(expr: str) -> tuple[_Step, ...]:
    text = expr.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[_Step] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "[":
            end = _closing_bracket(text, position)
            steps.append(_bracket_step(text[position + 1 : end], expr))
            position = end + 1
            continue
        if char == ".":
            if text[position + 1 : position + 2] == ".":
                raise JSONPathError(f"recursive descent is not supported: {expr!r}")
            position += 1
        name: list[str] = []
        while position < len(text) and text[position] not in ".[":
            if text[position] == "\\" and position + 1 < len(text):
                position += 1
            name.append(text[position])
            position += 1
        key = "".join(name)
        if key == "*":
            steps.append(_Wildcard())
        elif key:
            steps.append(_Field(key))
        elif position < len(text) and text[position] != "[":
            raise JSONPathError(f"empty key in JSONPath {expr!r}")
    return tuple(steps)


def _lookup(node: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _apply(step: _Step, node: Any) -> list[Any]:
    match step:
        case _Field(name):
            return [node[name]] if isinstance(node, dict) and name in node else []
        case _Index(index):
            if isinstance(node, list) and -len(node) <= index < len(node):
                return [node[index]]
            return []
        case _Slice(start, stop):
            return list(node[start:stop]) if isinstance(node, list) else []
        case _Wildcard():
            if isinstance(node, list):
                return list(node)
            if isinstance(node, dict):
                return list(node.values())
            return []
        case _Filter(path, operator, value):
            items = node if isinstance(node, list) else []
            result: list[Any] = []
            for item in items:
                found, actual = _lookup(item, path)
                if operator is None:
                    keep = found
                elif operator == "==":
                    keep = found and _equal(actual, value)
                else:
                    keep = not (found and _equal(actual, value))
                if keep:
                    result.append(item)
            return result
    return []  # pragma: no cover


def evaluate(expr: str, obj: Any) -> list[Any]:
    nodes: list[Any] = [obj]
    for step in parse(expr):
        nodes = [found for node in nodes for found in _apply(step, node)]
        if not nodes:
            break
    return nodes
