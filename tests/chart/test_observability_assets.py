"""The Grafana dashboard and the Prometheus alerts the chart ships: valid PromQL (a real parser), metrics that a
real scrape of the running operator exports with the right type, a dashboard that Grafana's own model accepts,
and the chart rendering both only when asked."""

from __future__ import annotations

import asyncio
import copy
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelops_sandbox.stack import local_stack
from tests.chart.grafana_model import dashboard_problems
from tests.chart.helpers import CHART, REPO, by_kind, helm_template, one, run_helm
from tests.chart.promql import (
    Query,
    dashboard_queries,
    parse,
    resolve,
    rule_queries,
    series_names,
    series_problems,
    substitute_variables,
)
from tests.chart.test_chart import CUSTOM_API_GROUPS, Render, load_tool
from tests.integration.conftest import create_secret, modelbuild
from tests.support.waiting import eventually

DASHBOARD_DIR = REPO / "deploy" / "grafana"
DASHBOARD = DASHBOARD_DIR / "modelops-operator-dashboard.json"
SERVICE_MONITOR = ("--set", "serviceMonitor.enabled=true")
RULES = ("--set", "prometheusRule.enabled=true", *SERVICE_MONITOR)
DASHBOARDS = ("--set", "dashboards.enabled=true")
# Label matchers of a scrape that is not the chart's ServiceMonitor (--set would split them at the comma).
OWN_SELECTOR = 'job="ops-modelops", cluster=~"eu-.*"'
ALERTS = {
    "ModelopsOperatorDown",
    "ModelopsOperatorAbsent",
    "ModelopsResourcesStalled",
    "ModelopsUpstreamErrorsHigh",
    "ModelopsUpstreamRateLimited",
    "ModelopsReconcileFailures",
}
# What a dashboard must show to answer "is it healthy": each of these metrics is read by some panel.
DASHBOARD_METRICS = {
    "up",
    "modelops_resources",
    "modelops_resource_conditions",
    "modelops_reconcile_duration_seconds_count",
    "modelops_reconcile_duration_seconds_bucket",
    "modelops_upstream_requests_total",
    "modelops_upstream_request_duration_seconds_bucket",
    "modelops_upstream_wait_seconds_total",
    "modelops_upstream_retries_total",
    "modelops_callbacks_total",
    "modelops_secret_cache_requests_total",
    "modelops_poll_batch_size_bucket",
    "modelops_remote_creates_total",
}


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """`helm template` with extra arguments, cached per module (as in test_chart.py, whose fixture is not
    importable without shadowing)."""
    home = tmp_path_factory.mktemp("helm-home")
    cache: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def _render(*args: str) -> list[dict[str, Any]]:
        if args not in cache:
            cache[args] = helm_template(home, *args)
        return cache[args]

    return _render


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def rule_manifest(render: Render, *args: str) -> dict[str, Any]:
    return one(render(*RULES, *args), "PrometheusRule")


def alerts_of(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in manifest["spec"]["groups"] for rule in group["rules"]}


# ----------------------------------------------------------------------------------------- the parser


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(modelops_callbacks_total[5m])",  # unbalanced
        "rate(modelops_callbacks_total)",  # rate needs a range vector
        "ratez(modelops_callbacks_total[5m])",  # no such function
        "modelops_resources{kind=}",  # a matcher without a value
        "sum by (kind) modelops_resources",  # the aggregated expression needs parentheses
        "rate(modelops_callbacks_total[$__rate_interval])",  # a Grafana variable left in
    ],
)
def test_the_promql_parser_rejects_invalid_expressions(expr: str) -> None:
    with pytest.raises(AssertionError, match="not valid PromQL"):
        parse(Query("test", expr))


def test_the_promql_parser_reads_metric_names_from_the_ast() -> None:
    expr = parse(
        Query(
            "test",
            'histogram_quantile(0.95, sum by (le) (rate(a_bucket{x="1"}[5m]))) / on() group_left '
            'count({__name__="b"}) + absent(up{job="j"} == 1)',
        )
    )
    assert series_names(expr) == {"a_bucket", "b", "up"}


def test_undefined_dashboard_variables_are_refused() -> None:
    assert substitute_variables('x{job=~"$job"}[$__rate_interval]', {"job"}) == 'x{job=~".+"}[1m]'
    with pytest.raises(ValueError, match=r"\$cluster"):
        substitute_variables('x{cluster="$cluster"}', {"job"})


# ---------------------------------------------------------------------------------- every expression


def test_every_dashboard_expression_is_valid_promql(dashboard: dict[str, Any]) -> None:
    queries = dashboard_queries(dashboard)
    assert len(queries) >= 20
    for query in queries:
        parse(query)


@pytest.mark.parametrize(
    "args",
    [(), ("--set-json", f"prometheusRule.selector={json.dumps(OWN_SELECTOR)}")],
    ids=["servicemonitor-job", "own-selector"],
)
def test_every_alert_expression_is_valid_promql(render: Render, args: tuple[str, ...]) -> None:
    queries = rule_queries(rule_manifest(render, *args))
    assert {q.where for q in queries} == {f"rule {name!r}" for name in ALERTS}
    for query in queries:
        parse(query)
        if args:
            assert OWN_SELECTOR in query.expr, query


def test_the_dashboard_covers_the_health_questions(dashboard: dict[str, Any]) -> None:
    read = set().union(*(series_names(parse(q)) for q in dashboard_queries(dashboard)))
    assert sorted(DASHBOARD_METRICS - read) == []


# ------------------------------------------------------------------------- against a real scrape


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def scrape_running_operator() -> str:
    """/metrics of the real operator (in process, against the emulated cluster) once it has created one
    ModelBuild remotely, so that the scrape holds samples as well as every family's HELP and TYPE."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    async with local_stack(stage_seconds=0.2, poll_interval_seconds=0.2, backoff_base_seconds=0.05) as stack:
        stack.graceful_stop = False
        await create_secret(stack)
        async with stack.operator(metrics_port=port), httpx.AsyncClient() as client:
            await stack.apply(modelbuild("scraped"))

            async def created() -> str | None:
                try:
                    text = (await client.get(url)).text
                except httpx.TransportError:  # not listening yet: ask again
                    return None
                return text if 'modelops_remote_creates_total{kind="ModelBuild"' in text else None

            return await eventually(created, timeout=30, what="a remote create in the operator's /metrics")


@pytest.fixture(scope="module")
def scraped_families() -> dict[str, str]:
    """Metric family -> type, as the operator's exposition declares them."""
    text = asyncio.run(scrape_running_operator())
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def test_the_scrape_is_real(scraped_families: dict[str, str]) -> None:
    assert scraped_families.get("modelops_remote_creates") == "counter"
    assert scraped_families.get("modelops_reconcile_duration_seconds") == "histogram"


def test_dashboard_metrics_exist_in_the_scrape_with_their_types(
    dashboard: dict[str, Any], scraped_families: dict[str, str]
) -> None:
    assert series_problems(dashboard_queries(dashboard), scraped_families) == []


def test_alert_metrics_exist_in_the_scrape_with_their_types(
    render: Render, scraped_families: dict[str, str]
) -> None:
    assert series_problems(rule_queries(rule_manifest(render)), scraped_families) == []


def test_the_type_check_can_fail() -> None:
    families = {"modelops_resources": "gauge", "modelops_callbacks": "counter", "h_seconds": "histogram"}
    assert resolve("h_seconds_bucket", families) is not None
    problems = series_problems(
        [
            Query("gauge rated", "rate(modelops_resources[5m])"),
            Query("counter without _total", "modelops_callbacks"),
            Query("histogram without a suffix", "h_seconds"),
            Query("unknown", "modelops_nothing_total"),
            Query("fine", "rate(modelops_callbacks_total[5m]) + rate(h_seconds_count[5m]) + up"),
        ],
        families,
    )
    assert [problem.split(":")[0] for problem in problems] == [
        "gauge rated",
        "counter without _total",
        "histogram without a suffix",
        "unknown",
    ]


# ------------------------------------------------------------------------------- Grafana's model


def test_the_dashboard_conforms_to_grafanas_dashboard_model(dashboard: dict[str, Any]) -> None:
    assert dashboard_problems(dashboard) == []


def first_index(items: list[dict[str, Any]], key: str, value: str) -> int:
    return next(index for index, item in enumerate(items) if item[key] == value)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("bogusKey",), 1, "$.bogusKey: not part of Grafana's schema"),
        (("graphTooltip",), 7, "$.graph_tooltip"),
        (("<stat>", "options", "colorMode"), "rainbow", "color_mode: 'rainbow' is not one of"),
        (("<stat>", "fieldConfig", "defaults", "min"), "0", "min_val: expected a number"),
        (("<timeseries>", "targets", 0, "format"), "pie", "format_val: 'pie' is not one of"),
        (("<timeseries>", "targets", 0, "exprr"), "up", "targets[0].exprr: not part of Grafana's schema"),
        (("<timeseries>", "fieldConfig", "defaults", "custom", "drawStyle"), "zigzag", "draw_style"),
        (("<query-variable>", "refresh"), 9, "refresh: 9 is not one of"),
    ],
)
def test_the_model_check_rejects_what_grafana_would_not_read(
    dashboard: dict[str, Any], path: tuple[str | int, ...], value: Any, expected: str
) -> None:
    broken = copy.deepcopy(dashboard)
    where: dict[str, Any] = broken
    variables = broken["templating"]["list"]
    for key in path[:-1]:
        if key in ("<stat>", "<timeseries>"):
            where = broken["panels"][first_index(broken["panels"], "type", str(key)[1:-1])]
        elif key == "<query-variable>":
            where = variables[first_index(variables, "type", "query")]
        else:
            where = where[key]  # type: ignore[index]
    where[path[-1]] = value  # type: ignore[index]
    problems = dashboard_problems(broken)
    assert any(expected in problem for problem in problems), problems


def test_the_model_check_rejects_queries_of_no_known_data_source(dashboard: dict[str, Any]) -> None:
    broken = copy.deepcopy(dashboard)
    panel = broken["panels"][first_index(broken["panels"], "type", "timeseries")]
    for holder in (panel, *panel["targets"]):
        holder["datasource"] = {"uid": "${datasource}"}  # no type: Grafana cannot tell the query's model
    problems = dashboard_problems(broken)
    assert any("a query of no known data source type" in problem for problem in problems), problems


def test_the_dashboard_layout_and_datasource(dashboard: dict[str, Any]) -> None:
    assert 36 <= dashboard["schemaVersion"] <= 41  # Grafana 10 to 11
    datasource = next(v for v in dashboard["templating"]["list"] if v["type"] == "datasource")
    assert datasource["query"] == "prometheus"
    reference = {"type": "prometheus", "uid": f"${{{datasource['name']}}}"}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            # any Prometheus data source, chosen by the variable: never one instance's uid
            assert panel["datasource"] == reference, panel["title"]
            assert all(t["datasource"] == reference for t in panel["targets"]), panel["title"]
            assert panel.get("description"), f"{panel['title']}: say what the panel shows"


# ------------------------------------------------------------------------------------- the chart


def test_chart_dashboard_copies_match_deploy_grafana() -> None:
    sync = load_tool("sync_chart_dashboard")
    assert sync.differences() == [], "run: python tools/sync_chart_dashboard.py"


def test_the_sync_tool_reports_and_fixes_differences(tmp_path: Path) -> None:
    sync = load_tool("sync_chart_dashboard")
    source, target = tmp_path / "grafana", tmp_path / "chart"
    source.mkdir()
    target.mkdir()
    (source / "a.json").write_text("{}")
    (source / "b.json").write_text('{"b": 1}')
    (target / "b.json").write_text("{}")
    (target / "old.json").write_text("{}")
    assert sync.differences(source, target) == ["missing: a.json", "differs: b.json", "stale: old.json"]
    sync.sync(source, target)
    assert sync.differences(source, target) == []


def test_nothing_observability_is_rendered_by_default(render: Render) -> None:
    manifests = render(*SERVICE_MONITOR)
    assert by_kind(manifests, "PrometheusRule") == []
    assert by_kind(manifests, "ConfigMap") == []


def test_the_dashboard_configmap(render: Render) -> None:
    configmap = one(render(*DASHBOARDS), "ConfigMap")
    assert configmap["metadata"]["name"] == "modelops-modelops-operator-dashboards"
    assert configmap["metadata"]["namespace"] == "modelops-system"
    labels = configmap["metadata"]["labels"]
    assert labels["grafana_dashboard"] == "1"
    assert labels["app.kubernetes.io/instance"] == "modelops"
    canonical = sorted(DASHBOARD_DIR.glob("*.json"))
    assert sorted(configmap["data"]) == [path.name for path in canonical]
    for path in canonical:
        assert json.loads(configmap["data"][path.name]) == json.loads(path.read_text())


def test_the_dashboard_configmap_follows_the_values(render: Render) -> None:
    configmap = one(
        render(
            *DASHBOARDS,
            "--set", "dashboards.sidecarLabel=example.com/dashboard",
            "--set", "dashboards.sidecarLabelValue=yes",
            "--set", "dashboards.namespace=monitoring",
            "--set", "dashboards.labels.team=ml",
            "--set", "dashboards.annotations.grafana_folder=Operators",
        ),
        "ConfigMap",
    )  # fmt: skip
    metadata = configmap["metadata"]
    assert metadata["namespace"] == "monitoring"
    assert (
        metadata["labels"]["example.com/dashboard"] == "yes" and "grafana_dashboard" not in metadata["labels"]
    )
    assert metadata["labels"]["team"] == "ml"
    assert metadata["annotations"] == {"grafana_folder": "Operators"}
    numeric = one(render(*DASHBOARDS, "--set", "dashboards.sidecarLabelValue=1"), "ConfigMap")
    assert numeric["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_the_prometheus_rule(render: Render) -> None:
    manifests = render(*RULES, "--set", "prometheusRule.labels.release=kube-prometheus-stack")
    manifest = one(manifests, "PrometheusRule")
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["metadata"]["namespace"] == "modelops-system"
    assert manifest["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = alerts_of(manifest)
    assert set(alerts) == ALERTS
    for name, alert in alerts.items():
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        assert alert["for"], name
        assert alert["annotations"]["summary"] and len(alert["annotations"]["description"]) > 100, name
        assert "Check" in alert["annotations"]["description"], f"{name}: say what to check"
    # Prometheus' own templating passes through Helm untouched
    assert "{{ $labels.kind }}" in alerts["ModelopsResourcesStalled"]["annotations"]["summary"]
    assert alerts["ModelopsResourcesStalled"]["for"] == "15m"
    assert alerts["ModelopsUpstreamErrorsHigh"]["expr"].rstrip().endswith("> 0.05")


def test_the_alerts_select_the_job_the_service_monitor_creates(render: Render) -> None:
    """Without jobLabel, the Prometheus Operator names the job after the scraped Service, and the namespace
    label is the Service's."""
    manifests = render(*RULES)
    monitor = one(manifests, "ServiceMonitor")
    assert "jobLabel" not in monitor["spec"]
    service = one(manifests, "Service")["metadata"]
    selector = f'job="{service["name"]}", namespace="{service["namespace"]}"'
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["namespace"]]
    for name, alert in alerts_of(one(manifests, "PrometheusRule")).items():
        assert selector in alert["expr"], name


def test_the_alerts_follow_the_values(render: Render) -> None:
    alerts = alerts_of(
        rule_manifest(
            render,
            "--set", "prometheusRule.rules.resourcesStalled.for=1h",
            "--set", "prometheusRule.rules.resourcesStalled.severity=critical",
            "--set", "prometheusRule.rules.upstreamRateLimited.ratio=0.5",
            "--set", "prometheusRule.rules.operatorDown.enabled=false",
        )
    )  # fmt: skip
    assert "ModelopsOperatorDown" not in alerts
    assert alerts["ModelopsResourcesStalled"]["for"] == "1h"
    assert alerts["ModelopsResourcesStalled"]["labels"]["severity"] == "critical"
    assert alerts["ModelopsUpstreamRateLimited"]["expr"].rstrip().endswith("> 0.5")
    assert parse(Query("ratio", alerts["ModelopsUpstreamRateLimited"]["expr"]))


def test_everything_enabled_is_valid_and_lints(render: Render, tmp_path: Path) -> None:
    manifests = render(*RULES, *DASHBOARDS)
    for manifest in manifests:
        if manifest["apiVersion"].rpartition("/")[0] not in CUSTOM_API_GROUPS:
            kubernetes_validate.validate(manifest, "1.30", strict=True)
    result = run_helm(tmp_path, "lint", "--strict", str(CHART), *RULES, *DASHBOARDS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "prometheusRule.enabled=true"), "prometheusRule.selector"),
        ((*RULES, "--set", "config.metricsPort=0"), "config.metricsPort"),
        ((*RULES, "--set", "prometheusRule.rules.upstreamErrors.ratio=5"), "ratio"),
        ((*RULES, "--set", "prometheusRule.rules.resourcesStalled.for=soon"), "for"),
        ((*RULES, "--set", "prometheusRule.rules.unknownRule.enabled=true"), "unknownRule"),
        ((*RULES, "--set-string", "prometheusRule.selector={job='x'}"), "selector"),
        ((*DASHBOARDS, "--set", "dashboards.namespace=Not_A_Namespace"), "namespace"),
    ],
)
def test_wrong_observability_values_are_rejected(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_helm(tmp_path, "template", "modelops", str(CHART), *args)
    assert result.returncode != 0, f"helm template {' '.join(args)} rendered"
    assert message in result.stderr, result.stderr


def test_an_own_selector_needs_no_service_monitor(render: Render) -> None:
    manifests = render(
        "--set", "prometheusRule.enabled=true", "--set-string", 'prometheusRule.selector=job="ops"'
    )
    assert by_kind(manifests, "ServiceMonitor") == []
    for alert in alerts_of(one(manifests, "PrometheusRule")).values():
        assert 'job="ops"' in alert["expr"]
