"""PromQL of the shipped dashboard and alerts: where it is, parsed by a real PromQL parser, and what it reads.

promql-parser (Python bindings of the Rust crate GreptimeDB's query engine uses) follows Prometheus' grammar and
type rules: it rejects unbalanced brackets, unknown functions, a range vector where an instant one belongs, and
so on. Grafana's own variables are not PromQL; they are replaced by plausible values before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser

# Grafana's built-in variables that stand for durations, with a value such as Grafana would put there.
GRAFANA_DURATIONS = {"__rate_interval": "1m", "__interval": "30s", "__range": "6h"}
# A dashboard variable with "All" selected becomes a regex; any value parses the same inside quotes.
VARIABLE_VALUE = ".+"
# $name, ${name}, ${name:format} and the deprecated [[name]].
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
# label_values(selector, label), the Prometheus data source's variable query that holds a PromQL selector.
LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.+),\s*(?P<label>\w+)\s*\)\s*$", re.DOTALL)
# Functions whose argument must be a counter (or a histogram's cumulative _bucket/_sum/_count series).
COUNTER_FUNCTIONS = {"rate", "irate", "increase"}
# Series that Prometheus itself adds to every scrape, not the operator.
SCRAPE_SERIES = {"up"}


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it lives (for messages)."""

    where: str
    expr: str


def substitute_variables(expr: str, variables: set[str]) -> str:
    """`expr` with Grafana's variables replaced by plausible values; an undefined variable is an error."""

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in GRAFANA_DURATIONS:
            return GRAFANA_DURATIONS[name]
        if name not in variables:
            raise ValueError(f"{expr!r} uses ${name}, which the dashboard does not define")
        return VARIABLE_VALUE

    return VARIABLE.sub(value, expr)


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    for panel in dashboard.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def dashboard_queries(dashboard: dict[str, Any]) -> list[Query]:
    """Each panel target's expression and each query variable's selector, variables substituted."""
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    queries = [
        Query(f"panel {panel['title']!r} target {target['refId']}", target["expr"])
        for panel in all_panels(dashboard)
        for target in panel.get("targets") or []
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(Query(f"variable {variable['name']!r}", variable_selector(variable)))
    return [Query(q.where, substitute_variables(q.expr, variables)) for q in queries]


def variable_selector(variable: dict[str, Any]) -> str:
    """The PromQL selector of a `label_values(selector, label)` variable query."""
    query = variable["query"]
    text = query["query"] if isinstance(query, dict) else query
    match = LABEL_VALUES.match(text)
    if match is None:
        raise ValueError(
            f"variable {variable['name']!r}: expected label_values(selector, label), got {text!r}"
        )
    return match["selector"]


def rule_queries(rule_manifest: dict[str, Any]) -> list[Query]:
    """Each alerting or recording rule's expression of a PrometheusRule."""
    return [
        Query(f"rule {rule.get('alert') or rule.get('record')!r}", rule["expr"])
        for group in rule_manifest["spec"]["groups"]
        for rule in group["rules"]
    ]


def parse(query: Query) -> promql_parser.Expr:
    try:
        return promql_parser.parse(query.expr)
    except ValueError as error:
        raise AssertionError(f"{query.where}: not valid PromQL ({error}):\n{query.expr}") from None


def selectors(expr: promql_parser.Expr) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(expr, visit)
    return found


def series_name(selector: promql_parser.VectorSelector) -> str:
    """The metric name a selector reads: `name{...}` or `{__name__="name"}`; a selector of no one name (a regex
    on __name__) is refused, since nothing could check what it reads."""
    if selector.name:
        return selector.name
    for matcher in selector.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
            return matcher.value
    raise AssertionError(f"{selector}: names no single metric")


def series_names(expr: promql_parser.Expr) -> set[str]:
    return {series_name(selector) for selector in selectors(expr)}


def counter_function_series(expr: promql_parser.Expr) -> set[str]:
    """Series read through rate(), irate() or increase(): those must only ever go up."""
    found: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.Call) and node.func.name in COUNTER_FUNCTIONS:
            for argument in node.args:
                found.update(series_names(argument))

    promql_parser.walk(expr, visit)
    return found


# ------------------------------------------------------------------ series against the scrape's families

# A family's type -> the series Prometheus stores for it (suffix) and whether each only goes up.
SERIES_OF_TYPE: dict[str, dict[str, bool]] = {
    "counter": {"_total": True},
    "gauge": {"": False},
    "histogram": {"_bucket": True, "_sum": True, "_count": True},
    "summary": {"": False, "_sum": True, "_count": True},
}


@dataclass(frozen=True)
class Series:
    family: str
    type: str
    monotonic: bool


def resolve(series: str, families: dict[str, str]) -> Series | None:
    """The family (name and type, as the exposition's TYPE lines say) that stores `series`, or None."""
    for family, family_type in families.items():
        for suffix, monotonic in SERIES_OF_TYPE.get(family_type, {"": False}).items():
            if series == family + suffix:
                return Series(family, family_type, monotonic)
    return None


def series_problems(queries: list[Query], families: dict[str, str]) -> list[str]:
    """Series the queries read that the scrape has no family for, or read in a way their type forbids."""
    problems = []
    for query in queries:
        expr = parse(query)
        for name in sorted(series_names(expr) - SCRAPE_SERIES):
            if resolve(name, families) is None:
                problems.append(f"{query.where}: {name} is not exported by the operator")
        for name in sorted(counter_function_series(expr) - SCRAPE_SERIES):
            found = resolve(name, families)
            if found is not None and not found.monotonic:
                problems.append(f"{query.where}: rate/increase over {name}, a {found.type} that can go down")
    return problems
