"""Which resources this replica owns: a Kubernetes label selector (equality and existence), for sharding.

A shard is a label selector and/or a set of namespaces (the namespaces go to kopf). The selector is checked
on every event, not by kopf's filters: a resource relabelled into another shard is let go at once (its
polling stops), and the pending marker and external-id annotations on the resource tell the next shard what
was already done upstream, so moving a resource never repeats remote work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


class InvalidSelector(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "exists", "!exists"
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!exists":
            return self.key not in labels
        if self.operator == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """`a=b,c!=d,e,!f` (as `kubectl -l` takes them; `==` is `=`). Empty: every resource."""
        requirements = []
        for raw in (text or "").split(","):
            part = raw.strip()
            if not part:
                continue
            match = re.fullmatch(rf"(!?)({_KEY})", part)
            if match:
                requirements.append(Requirement(match.group(2), "!exists" if match.group(1) else "exists"))
                continue
            match = re.fullmatch(rf"({_KEY})\s*(==|=|!=)\s*({_VALUE})", part)
            if match is None:
                raise InvalidSelector(
                    f"not a label requirement: {part!r} (expected key=value, key!=value, key or !key)"
                )
            operator = "!=" if match.group(3) == "!=" else "="
            requirements.append(Requirement(match.group(1), operator, match.group(4)))
        return cls(tuple(requirements))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        found = labels or {}
        return all(requirement.matches(found) for requirement in self.requirements)

    def __str__(self) -> str:
        shown = []
        for r in self.requirements:
            shown.append(
                {
                    "exists": r.key,
                    "!exists": f"!{r.key}",
                    "=": f"{r.key}={r.value}",
                    "!=": f"{r.key}!={r.value}",
                }[r.operator]
            )
        return ",".join(shown)
