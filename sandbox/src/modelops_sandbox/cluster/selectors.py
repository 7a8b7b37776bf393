"""Label and field selectors, as in ``?labelSelector=...`` and ``?fieldSelector=...`` on lists and watches.

Label selectors support the full string syntax of the API: ``a=b``, ``a==b``, ``a!=b``,
``a in (x,y)``, ``a notin (x,y)``, ``a`` (exists), ``!a`` (does not exist), ``a>1``, ``a<1``;
requirements are comma-separated and all must hold.

Field selectors support ``path=value``, ``path==value`` and ``path!=value`` (comma-separated, with
``\\,``, ``\\=`` and ``\\\\`` escapes in values); a missing field compares as ``""``. As on a real API
server, each resource accepts only its own field labels (:class:`FieldSupport`): ``metadata.name`` and
``metadata.namespace`` everywhere, plus a few per built-in kind (:data:`BUILTIN_FIELDS`, e.g. Events'
``involvedObject.*``), plus a CRD version's ``selectableFields``. Any other field is a 400.

Malformed selectors raise :class:`SelectorError` (the server answers 400 Bad Request).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class SelectorError(ValueError):
    pass


_SET_REQUIREMENT = re.compile(r"^(?P<key>[^\s!=<>(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_KEY = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$")


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced parentheses in selector: {text!r}")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise SelectorError(f"unbalanced parentheses in selector: {text!r}")
    parts.append("".join(current))
    return [part.strip() for part in parts]


def _check_key(key: str, text: str) -> str:
    if not _KEY.match(key):
        raise SelectorError(f"invalid label key {key!r} in selector {text!r}")
    return key


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # exists, !exists, =, !=, in, notin, gt, lt
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case "exists":
                return present
            case "!exists":
                return not present
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case "gt" | "lt":
                try:
                    actual = int(str(value))
                except ValueError:
                    return False
                (limit,) = self.values
                return actual > int(limit) if self.operator == "gt" else actual < int(limit)
        return False  # pragma: no cover


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[LabelRequirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if not text or not text.strip():
            return cls()
        requirements: list[LabelRequirement] = []
        for part in _split_top_level(text):
            if not part:
                raise SelectorError(f"empty requirement in label selector {text!r}")
            requirements.append(cls._parse_requirement(part, text))
        return cls(tuple(requirements))

    @staticmethod
    def _parse_requirement(part: str, text: str) -> LabelRequirement:
        if part.startswith("!"):
            return LabelRequirement(_check_key(part[1:].strip(), text), "!exists")
        match = _SET_REQUIREMENT.match(part)
        if match:
            values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
            return LabelRequirement(_check_key(match["key"], text), match["op"], values)
        for symbol, operator in (("!=", "!="), ("==", "="), ("=", "="), (">", "gt"), ("<", "lt")):
            if symbol in part:
                key, value = (s.strip() for s in part.split(symbol, 1))
                if operator in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
                    raise SelectorError(f"{symbol} needs an integer value in label selector {text!r}")
                if any(c in value for c in "=!<>() "):
                    raise SelectorError(f"invalid value {value!r} in label selector {text!r}")
                return LabelRequirement(_check_key(key, text), operator, frozenset({value}))
        return LabelRequirement(_check_key(part, text), "exists")

    def matches(self, obj: Mapping[str, Any]) -> bool:
        if not self.requirements:
            return True
        metadata = obj.get("metadata") or {}
        labels = metadata.get("labels") or {}
        return all(requirement.matches(labels) for requirement in self.requirements)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return ""
        node = node[part]
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _split_escaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise SelectorError(f"dangling escape in field selector {text!r}")
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    value: str
    negated: bool

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return (_field_value(obj, self.path) == self.value) != self.negated


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> FieldSelector:
        if not text or not text.strip():
            return cls()
        requirements: list[FieldRequirement] = []
        for part in _split_escaped(text, ","):
            part = part.strip()
            if not part:
                raise SelectorError(f"empty requirement in field selector {text!r}")
            for symbol, negated in (("!=", True), ("==", False), ("=", False)):
                position = part.find(symbol)
                if position > 0:
                    path, value = part[:position].strip(), part[position + len(symbol) :].strip()
                    requirements.append(FieldRequirement(path, _unescape(value), negated))
                    break
            else:
                raise SelectorError(f"invalid field selector requirement {part!r}: expected field=value")
        return cls(tuple(requirements))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(requirement.matches(obj) for requirement in self.requirements)

    def exact(self, path: str) -> str | None:
        """The value this selector pins ``path`` to (``path=value``), if any: used to narrow lookups."""
        for requirement in self.requirements:
            if requirement.path == path and not requirement.negated:
                return requirement.value
        return None


METADATA_FIELDS = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class FieldSupport:
    """The field labels a resource can be selected by, beyond :data:`METADATA_FIELDS`."""

    fields: Mapping[str, str] = field(default_factory=dict)  # label -> the dotted path of the value it reads
    # Kinds with their own field label conversion (Events, Pods, custom resources...) refuse other labels with a
    # different message than the generic one.
    custom: bool = False

    def resolve(self, selector: FieldSelector) -> FieldSelector:
        """The selector on the object's paths; :class:`SelectorError` for a label the resource does not offer."""
        resolved: list[FieldRequirement] = []
        for requirement in selector.requirements:
            if requirement.path in METADATA_FIELDS:
                path = requirement.path
            elif requirement.path in self.fields:
                path = self.fields[requirement.path]
            else:
                raise SelectorError(self._refusal(requirement.path))
            resolved.append(FieldRequirement(path, requirement.value, requirement.negated))
        return FieldSelector(tuple(resolved))

    def _refusal(self, label: str) -> str:
        if self.custom:
            return f"field label not supported: {label}"
        return f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'


def _same(*labels: str) -> dict[str, str]:
    return {label: label for label in labels}


_REFERENCE = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
BUILTIN_FIELDS: dict[tuple[str, str], FieldSupport] = {
    ("", "events"): FieldSupport(
        {
            **_same(*(f"involvedObject.{f}" for f in _REFERENCE), "reason", "reportingComponent", "type"),
            "source": "source.component",  # the label names the component that reported the event
        },
        custom=True,
    ),
    ("events.k8s.io", "events"): FieldSupport(
        _same(*(f"regarding.{f}" for f in _REFERENCE), "reason", "reportingController", "type"), custom=True
    ),
    ("", "secrets"): FieldSupport(_same("type"), custom=True),
    ("", "namespaces"): FieldSupport(_same("status.phase"), custom=True),
    ("", "services"): FieldSupport(_same("spec.clusterIP", "spec.type"), custom=True),
    ("", "pods"): FieldSupport(
        {
            **_same(
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ),
            "status.podIPs": "status.podIP",  # approximated by the primary IP
        },
        custom=True,
    ),
}


Matcher = Callable[[Mapping[str, Any]], bool]


def matcher(labels: LabelSelector, fields: FieldSelector) -> Matcher:
    """A predicate combining both (parsed) selectors."""
    if not labels.requirements and not fields.requirements:
        return lambda obj: True
    return lambda obj: labels.matches(obj) and fields.matches(obj)
