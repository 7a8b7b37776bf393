"""The benchmark's verdicts and table: pure arithmetic and formatting, no I/O (unit-tested on its own).

Each row puts one figure (the operator as shipped, coalesced polling) beside its target and beside the naive
baseline measured in the same run (MODELOPS_COALESCE_POLLING=false), with the ratio figure / baseline: this
machine is shared and noisy, so the ratio says more than either absolute number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MISSING = "—"


@dataclass(frozen=True)
class Target:
    """`figure ≤ limit` (or `≥` when `at_most` is False). `note` qualifies the label, e.g. "scaled"."""

    limit: float
    at_most: bool = True
    note: str = ""

    def met(self, figure: float | None) -> bool | None:
        """None when there is nothing to judge (the figure was not measured)."""
        if figure is None or math.isnan(figure):
            return None
        return figure <= self.limit if self.at_most else figure >= self.limit

    def label(self, precision: int) -> str:
        sign = "≤" if self.at_most else "≥"
        # A limit is never rounded into a different one (7.5 shown as "8" would pass a figure of 8).
        while precision < 3 and round(self.limit, precision) != self.limit:
            precision += 1
        text = f"{sign} {number(self.limit, precision)}"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class Row:
    cluster: str
    count: int
    metric: str
    figure: float | None
    baseline: float | None = None
    target: Target | None = None
    precision: int = 1  # decimals shown for the figure, the baseline and the target
    # Shown instead of the figure when it could not be measured (e.g. "timeout: 812/1000 Ready").
    remark: str = ""
    # The run ended before every resource was Ready: a per-resource figure is shown but not judged.
    incomplete: bool = False

    @property
    def ratio(self) -> float | None:
        return ratio(self.figure, self.baseline)

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        if self.incomplete:
            return "incomplete"
        met = self.target.met(self.figure)
        if met is None:
            return "n/a"
        return "ok" if met else "MISS"


def ratio(figure: float | None, baseline: float | None) -> float | None:
    """figure / baseline; None when either is missing or the baseline is 0 (0/0 says nothing, x/0 is
    infinite: neither is a useful number in a table)."""
    if figure is None or baseline is None or baseline == 0:
        return None
    return figure / baseline


def number(value: float | None, precision: int = 1) -> str:
    """Thousands separated, `precision` decimals; integers-valued figures keep their decimals so a column
    lines up."""
    if value is None or math.isnan(value):
        return MISSING
    return f"{value:,.{precision}f}"


def ratio_text(value: float | None) -> str:
    if value is None:
        return MISSING
    if value != 0 and abs(value) < 0.01:
        return f"{value:.4f}x"
    return f"{value:.2f}x"


HEADER = ("cluster", "N", "metric", "figure", "target", "naive baseline", "ratio", "ok?")
# Numbers are right-aligned, words left-aligned.
RIGHT = (False, True, False, True, False, True, True, False)


def cells(row: Row) -> tuple[str, ...]:
    figure = row.remark or number(row.figure, row.precision)
    target = row.target.label(row.precision) if row.target is not None else MISSING
    return (
        row.cluster,
        f"{row.count:,}",
        row.metric,
        figure,
        target,
        number(row.baseline, row.precision),
        ratio_text(row.ratio),
        row.verdict,
    )


def render(rows: Sequence[Row]) -> str:
    """One aligned table; a blank line between (cluster, N) groups."""
    body = [cells(row) for row in rows]
    return grid(HEADER, body, RIGHT, groups=[(row.cluster, row.count) for row in rows])


def grid(
    header: Sequence[str],
    body: Sequence[Sequence[str]],
    right: Sequence[bool],
    groups: Sequence[object] | None = None,
) -> str:
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if align else value.ljust(width)
            for value, width, align in zip(values, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(header), "  ".join("-" * width for width in widths)]
    previous: object = None
    for index, values in enumerate(body):
        group = groups[index] if groups is not None else None
        if groups is not None and index > 0 and group != previous:
            out.append("")
        previous = group
        out.append(line(values))
    return "\n".join(out)


def time_target(count: int) -> Target:
    """1,000 → ≤ 20 s and 10,000 → ≤ 200 s, i.e. 20 ms per resource; never below 20 s for smaller runs
    (fewer resources must not be held to less time than the remote builds and the startup take)."""
    limit = max(20.0, 0.02 * count)
    return Target(limit, note="" if count in (1_000, 10_000) else "scaled")


def polling_target(parents: int, count: int, page_size: int) -> Target:
    """Upstream polling requests per interval ≤ 1.5 times (distinct parents + list pages)."""
    return Target(1.5 * (parents + pages(count, page_size)))


def pages(count: int, page_size: int) -> int:
    return math.ceil(count / page_size)


def by_route(
    cluster: str, count: int, coalesced: dict[str, int], naive: dict[str, int] | None
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Rows of a by-route breakdown: total and per resource, both modes, busiest route first (`naive` None:
    no baseline was measured, its columns stay empty)."""
    measured = naive is not None
    naive = naive or {}
    routes = sorted(set(coalesced) | set(naive), key=lambda r: (-coalesced.get(r, 0), -naive.get(r, 0), r))
    header = ("cluster", "N", "route", "coalesced", "/resource", "naive", "/resource")
    rows: list[tuple[str, ...]] = [
        (
            cluster,
            f"{count:,}",
            route,
            f"{coalesced.get(route, 0):,}",
            number(coalesced.get(route, 0) / count, 2),
            f"{naive.get(route, 0):,}" if measured else MISSING,
            number(naive.get(route, 0) / count if measured else None, 2),
        )
        for route in routes
    ]
    return header, rows


def render_by_route(sections: Iterable[tuple[str, int, dict[str, int], dict[str, int] | None]]) -> str:
    header: tuple[str, ...] = ()
    body: list[tuple[str, ...]] = []
    groups: list[object] = []
    for cluster, count, coalesced, naive in sections:
        header, rows = by_route(cluster, count, coalesced, naive)
        body += rows
        groups += [(cluster, count)] * len(rows)
    if not body:
        return "(no requests recorded)"
    return grid(header, body, (False, True, False, True, True, True, True), groups=groups)


def saturation(
    percent: dict[str, float],
    waiting: dict[str, float],
    capacity: dict[str, float],
    machine_percent: float,
    cores: int,
) -> str:
    """Which side saturates. A process's demand is its CPU plus the time it was ready to run but waiting for a
    CPU (both % of one core), against what it can use: 100 for a Python process (its event loop runs on one
    core), every core for kube-apiserver and etcd. At 90% or more it saturates; the machine is full at 90% of
    all cores busy (other sessions share it)."""

    def limit(name: str) -> float:
        return capacity.get(name, 100.0)

    demand = {name: (value + waiting.get(name, 0.0)) / limit(name) for name, value in percent.items()}
    order = sorted(demand, key=lambda n: -demand[n])
    parts = []
    for name in order:
        part = f"{name} {percent[name]:.0f}%"
        if waiting.get(name, 0.0) >= 1:
            part += f" + {waiting[name]:.0f}% waiting for a CPU"
        if limit(name) > 100:
            part += f" ({100 * demand[name]:.0f}% of {limit(name) / 100:g} cores)"
        parts.append(part)
    others = max(machine_percent * cores - sum(percent.values()), 0.0)
    machine = f"machine {machine_percent:.0f}% of {cores} cores busy, other processes {others:.0f}%"
    saturated = [name for name in order if demand[name] >= 0.9]
    if saturated:
        verdict = " and ".join(saturated) + (" saturates" if len(saturated) == 1 else " saturate")
        if machine_percent >= 90:
            verdict += "; the machine is full too"
    elif machine_percent >= 90:
        verdict = "the machine saturates"
    else:
        verdict = "nothing saturates" + (f" (busiest: {order[0]})" if order else "")
    return f"{verdict}. " + ", ".join([*parts, machine])
