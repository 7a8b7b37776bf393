"""The chart's shards (one Deployment per shard, each with its selector, scope and peering) and Twilio status
callbacks (settings, container port, a Service of their own, an optional Ingress), with the real helm."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from modelops_operator.core.shard import InvalidSelector, LabelSelector
from modelops_sandbox.cluster import EmulatedCluster
from tests.chart.helpers import CHART, Cli, by_kind, helm_template, one, require_tool, run_helm
from tests.chart.test_chart import CUSTOM_API_GROUPS, NAMESPACED, PEERING, Render

FULLNAME = "modelops-modelops-operator"
SELECTOR_LABELS = {"app.kubernetes.io/name": "modelops-operator", "app.kubernetes.io/instance": "modelops"}
SHARD_VALUES = [
    {"name": "a", "selector": "modelops.dev/shard=a"},
    {"name": "default", "selector": "!modelops.dev/shard"},
]
SHARDS = ("--set-json", f"shards={json.dumps(SHARD_VALUES)}")
# Namespaced: shard a watches team-a only, the default shard both watched namespaces.
NAMESPACED_SHARD_VALUES = [
    {"name": "a", "selector": "modelops.dev/shard=a", "namespaces": ["team-a"]},
    {"name": "default", "selector": "!modelops.dev/shard"},
]
NAMESPACED_SHARDS = ("--set-json", f"shards={json.dumps(NAMESPACED_SHARD_VALUES)}")
CALLBACKS = ("--set", "config.callbackPort=8082", "--set", "config.callbackBaseUrl=https://hooks.example.com")
TLS = [{"secretName": "hooks-tls", "hosts": ["hooks.example.com"]}]
INGRESS = (
    "--set", "config.callbackPort=8082",
    "--set", "callbacks.ingress.enabled=true",
    "--set", "callbacks.ingress.host=hooks.example.com",
    "--set", "callbacks.ingress.className=nginx",
    "--set", "callbacks.ingress.annotations.example\\.com/team=ml",
    "--set-json", f"callbacks.ingress.tls={json.dumps(TLS)}",
)  # fmt: skip
SELECTOR_PATTERN = json.loads((CHART / "values.schema.json").read_text())["properties"]["shards"]["items"][
    "properties"
]["selector"]["pattern"]


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


def deployments(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in by_kind(manifests, "Deployment")}


def operator_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def run_args(deployment: dict[str, Any]) -> list[str]:
    """The arguments of `modelops-operator run`, without the shell wrapper that draws a random priority."""
    main = operator_container(deployment)
    if "command" in main:
        assert main["command"] == ["/bin/sh", "-c"]
        assert main["args"][0].startswith('exec modelops-operator run "$@" --priority ')
        assert main["args"][1] == "modelops-operator"
        return list(main["args"][2:])
    return list(main["args"])


def env(deployment: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in operator_container(deployment)["env"] if "value" in e}


def ports(deployment: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in operator_container(deployment).get("ports", [])}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def services(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in by_kind(manifests, "Service")}


def validate_all(manifests: list[dict[str, Any]]) -> int:
    validated = 0
    for manifest in manifests:
        if manifest["apiVersion"].rpartition("/")[0] in CUSTOM_API_GROUPS:
            continue
        kubernetes_validate.validate(manifest, "1.30", strict=True)
        validated += 1
    return validated


def template_error(tmp_path: Path, *args: str) -> str:
    result = run_helm(tmp_path, "template", "modelops", str(CHART), *args)
    assert result.returncode != 0, f"helm template {' '.join(args)} rendered"
    return result.stderr


# ------------------------------------------------------------------------------------------------- shards


def test_without_shards_one_deployment_as_before(render: Render) -> None:
    found = deployments(render())
    assert list(found) == [FULLNAME]
    deployment = found[FULLNAME]
    assert deployment["spec"]["selector"]["matchLabels"] == SELECTOR_LABELS  # immutable: never changed
    assert "app.kubernetes.io/component" not in pod_labels(deployment)
    assert run_args(deployment) == ["--all-namespaces", "--standalone"]
    assert run_args(deployments(render(*PEERING))[FULLNAME])[-2:] == ["--peering-name", "modelops-operator"]


def test_one_deployment_per_shard(render: Render) -> None:
    found = deployments(render(*SHARDS))
    assert set(found) == {f"{FULLNAME}-a", f"{FULLNAME}-default"}
    a, default = found[f"{FULLNAME}-a"], found[f"{FULLNAME}-default"]
    assert run_args(a) == ["--all-namespaces", "--selector", "modelops.dev/shard=a", "--standalone"]
    assert run_args(default) == ["--all-namespaces", "--selector", "!modelops.dev/shard", "--standalone"]
    for shard, deployment in (("a", a), ("default", default)):
        assert deployment["spec"]["replicas"] == 1
        assert deployment["metadata"]["labels"]["app.kubernetes.io/component"] == f"shard-{shard}"
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector == {**SELECTOR_LABELS, "app.kubernetes.io/component": f"shard-{shard}"}
        assert selects(selector, pod_labels(deployment))
        # the same operator otherwise: image, ServiceAccount, settings
        assert operator_container(deployment)["image"] == "modelops-operator:0.1.0"
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == FULLNAME
        assert env(deployment) == env(deployments(render())[FULLNAME])
    # no Deployment adopts another's pods
    assert not selects(a["spec"]["selector"]["matchLabels"], pod_labels(default))
    assert not selects(default["spec"]["selector"]["matchLabels"], pod_labels(a))


def test_every_shard_is_scraped_by_the_metrics_service(render: Render) -> None:
    manifests = render(*SHARDS, "--set", "serviceMonitor.enabled=true")
    service = services(manifests)[f"{FULLNAME}-metrics"]
    for deployment in deployments(manifests).values():
        assert selects(service["spec"]["selector"], pod_labels(deployment))
        assert ports(deployment)["metrics"] == 8080
    monitor = one(manifests, "ServiceMonitor")
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])


def test_shards_with_peering_each_have_a_peering_name_and_object(render: Render) -> None:
    manifests = render(*SHARDS, *PEERING)
    found = deployments(manifests)
    for shard in ("a", "default"):
        deployment = found[f"{FULLNAME}-{shard}"]
        assert deployment["spec"]["replicas"] == 2  # a hot standby per shard
        args = run_args(deployment)
        assert args[-2:] == ["--peering-name", f"modelops-operator-{shard}"]
        assert "--standalone" not in args
    peerings = by_kind(manifests, "ClusterKopfPeering")
    assert sorted(p["metadata"]["name"] for p in peerings) == [
        "modelops-operator-a",
        "modelops-operator-default",
    ]
    for peering in peerings:
        assert peering["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    # the peering CRD once, whatever the number of shards
    crds = [c["metadata"]["name"] for c in by_kind(manifests, "CustomResourceDefinition")]
    assert crds.count("clusterkopfpeerings.kopf.dev") == 1


def test_a_pinned_priority_applies_to_every_shard(render: Render) -> None:
    manifests = render(*SHARDS, "--set", "peering.enabled=true", "--set", "peering.priority=7")
    for name, deployment in deployments(manifests).items():
        assert "command" not in operator_container(deployment)
        shard = name.removeprefix(f"{FULLNAME}-")
        assert run_args(deployment)[-4:] == [
            "--peering-name",
            f"modelops-operator-{shard}",
            "--priority",
            "7",
        ]


def test_namespaced_shards_watch_their_namespaces(render: Render) -> None:
    manifests = render(*NAMESPACED, *NAMESPACED_SHARDS, *PEERING)
    found = deployments(manifests)
    assert run_args(found[f"{FULLNAME}-a"]) == [
        "--namespace", "team-a",
        "--selector", "modelops.dev/shard=a",
        "--peering-name", "modelops-operator-a",
    ]  # fmt: skip
    assert run_args(found[f"{FULLNAME}-default"]) == [
        "--namespace", "team-a",
        "--namespace", "team-b",
        "--selector", "!modelops.dev/shard",
        "--peering-name", "modelops-operator-default",
    ]  # fmt: skip
    peerings = {
        (p["metadata"]["namespace"], p["metadata"]["name"]) for p in by_kind(manifests, "KopfPeering")
    }
    assert peerings == {
        ("team-a", "modelops-operator-a"),
        ("team-a", "modelops-operator-default"),
        ("team-b", "modelops-operator-default"),
    }
    assert by_kind(manifests, "ClusterKopfPeering") == []


@pytest.mark.parametrize(
    ("plain", "sharded"),
    [((), SHARDS), (NAMESPACED + PEERING, NAMESPACED + NAMESPACED_SHARDS + PEERING)],
    ids=["all-namespaces", "namespaced-peering"],
)
def test_shards_share_the_rbac(render: Render, plain: tuple[str, ...], sharded: tuple[str, ...]) -> None:
    kinds = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
    assert [m for m in render(*sharded) if m["kind"] in kinds] == [
        m for m in render(*plain) if m["kind"] in kinds
    ]


def test_a_namespace_only_shard(render: Render) -> None:
    values = [{"name": "a", "namespaces": ["team-a"]}, {"name": "b", "namespaces": ["team-b"]}]
    found = deployments(render(*NAMESPACED, "--set-json", f"shards={json.dumps(values)}"))
    assert run_args(found[f"{FULLNAME}-a"]) == ["--namespace", "team-a", "--standalone"]
    assert run_args(found[f"{FULLNAME}-b"]) == ["--namespace", "team-b", "--standalone"]


def test_the_alerts_point_at_every_shard(render: Render) -> None:
    rules = ("--set", "prometheusRule.enabled=true", "--set", "serviceMonitor.enabled=true")
    for manifest_args, expected, absent in (
        ((), f"deployment/{FULLNAME}", "--prefix"),
        (SHARDS, "-l app.kubernetes.io/instance=modelops", f"deployment/{FULLNAME}"),
    ):
        rule = one(render(*rules, *manifest_args), "PrometheusRule")
        text = json.dumps(rule)
        assert expected in text and absent not in text


def test_the_release_notes_name_every_shard_and_the_callback_url(tmp_path: Path) -> None:
    result = run_helm(
        tmp_path, "install", "modelops", str(CHART), "--dry-run=client", "--namespace", "ops",
        *SHARDS, *PEERING, *INGRESS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    notes = result.stdout.partition("NOTES:")[2]
    assert f"rollout status deployment/{FULLNAME}-a" in notes
    assert f"rollout status deployment/{FULLNAME}-default" in notes
    assert f"{FULLNAME}-a: modelops.dev/shard=a (peering modelops-operator-a)" in notes
    assert "https://hooks.example.com/callbacks/modelbuilds/<namespace>/<name>/<uid>" in notes
    assert f"service/{FULLNAME}-callbacks, port 80 (through ingress/{FULLNAME}-callbacks)" in notes


@pytest.mark.parametrize(
    ("selector", "valid"),
    [
        ("modelops.dev/shard=a", True),
        ("modelops.dev/shard==a", True),
        ("modelops.dev/shard!=a", True),
        ("!modelops.dev/shard", True),
        ("modelops.dev/shard", True),
        ("team=ml, tier != gold,!legacy", True),
        ("key=", True),
        ("", True),
        ("a,,b", True),
        ("x in (a,b)", False),
        ("!a=b", False),
        ("a=b c", False),
        ("-a=b", False),
        ("a=-b", False),
        ("a>1", False),
    ],
)
def test_the_schemas_selector_pattern_is_the_operators_parser(selector: str, valid: bool) -> None:
    """values.schema.json refuses what `modelops-operator run --selector` would refuse at start (a crash loop)."""
    try:
        LabelSelector.parse(selector)
        parsed = True
    except InvalidSelector:
        parsed = False
    assert parsed is valid
    assert (re.search(SELECTOR_PATTERN, selector) is not None) is valid


# ---------------------------------------------------------------------------------------------- callbacks


def test_callbacks_are_off_by_default(render: Render) -> None:
    manifests = render()
    deployment = deployments(manifests)[FULLNAME]
    assert env(deployment)["MODELOPS_CALLBACK_PORT"] == "0"
    assert env(deployment)["MODELOPS_CALLBACK_BASE_URL"] == ""
    assert "callbacks" not in ports(deployment)
    assert set(services(manifests)) == {f"{FULLNAME}-metrics"}
    assert by_kind(manifests, "Ingress") == []


def test_the_callbacks_port_and_service(render: Render) -> None:
    manifests = render(*CALLBACKS)
    deployment = deployments(manifests)[FULLNAME]
    assert env(deployment)["MODELOPS_CALLBACK_PORT"] == "8082"
    assert env(deployment)["MODELOPS_CALLBACK_BASE_URL"] == "https://hooks.example.com"
    assert ports(deployment) == {"metrics": 8080, "health": 8081, "callbacks": 8082}
    found = services(manifests)
    assert set(found) == {f"{FULLNAME}-metrics", f"{FULLNAME}-callbacks"}
    service = found[f"{FULLNAME}-callbacks"]
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "callbacks"
    assert service["spec"]["type"] == "ClusterIP"
    # only the callbacks: /metrics stays on its own Service, never behind the one exposed to the internet
    assert service["spec"]["ports"] == [
        {"name": "callbacks", "port": 80, "targetPort": "callbacks", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert found[f"{FULLNAME}-metrics"]["spec"]["ports"][0]["targetPort"] == "metrics"
    # the ServiceMonitor scrapes the metrics Service, not the callbacks one
    monitor = one(render(*CALLBACKS, "--set", "serviceMonitor.enabled=true"), "ServiceMonitor")
    assert not selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert by_kind(manifests, "Ingress") == []
    custom = services(
        render(
            *CALLBACKS, "--set", "callbacks.service.port=8443", "--set", "callbacks.service.type=LoadBalancer"
        )
    )
    assert custom[f"{FULLNAME}-callbacks"]["spec"]["type"] == "LoadBalancer"
    assert custom[f"{FULLNAME}-callbacks"]["spec"]["ports"][0]["port"] == 8443


def test_the_callbacks_ingress_routes_only_the_callbacks(render: Render) -> None:
    manifests = render(*INGRESS)
    ingress = one(manifests, "Ingress")
    assert ingress["metadata"]["name"] == f"{FULLNAME}-callbacks"
    assert ingress["metadata"]["annotations"] == {"example.com/team": "ml"}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == TLS
    assert ingress["spec"]["rules"] == [
        {
            "host": "hooks.example.com",
            "http": {
                "paths": [
                    {
                        "path": "/callbacks",
                        "pathType": "Prefix",
                        "backend": {
                            "service": {"name": f"{FULLNAME}-callbacks", "port": {"name": "callbacks"}}
                        },
                    }
                ]
            },
        }
    ]
    assert (
        ingress["metadata"]["namespace"]
        == services(manifests)[f"{FULLNAME}-callbacks"]["metadata"]["namespace"]
    )
    # without a base URL of its own, the operator gives Twilio https://<ingress host>
    assert env(deployments(manifests)[FULLNAME])["MODELOPS_CALLBACK_BASE_URL"] == "https://hooks.example.com"


def test_an_own_base_url_wins_and_its_path_is_routed(render: Render) -> None:
    manifests = render(
        *INGRESS,
        "--set", "config.callbackBaseUrl=https://hooks.example.com/modelops",
        "--set", "callbacks.ingress.path=/modelops/callbacks",
    )  # fmt: skip
    assert (
        env(deployments(manifests)[FULLNAME])["MODELOPS_CALLBACK_BASE_URL"]
        == "https://hooks.example.com/modelops"
    )
    assert one(manifests, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/modelops/callbacks"
    # any host: the Ingress rule has none, the base URL says where Twilio posts
    anyhost = render(*CALLBACKS, "--set", "callbacks.ingress.enabled=true")
    assert "host" not in one(anyhost, "Ingress")["spec"]["rules"][0]
    wildcard = render(
        *CALLBACKS, "--set", "callbacks.ingress.enabled=true", "--set", "callbacks.ingress.host=*.example.com"
    )
    assert one(wildcard, "Ingress")["spec"]["rules"][0]["host"] == "*.example.com"


def test_every_shard_serves_callbacks_behind_one_service(render: Render) -> None:
    manifests = render(*SHARDS, *PEERING, *INGRESS)
    service = services(manifests)[f"{FULLNAME}-callbacks"]
    found = deployments(manifests)
    assert len(found) == 2
    for deployment in found.values():
        assert ports(deployment)["callbacks"] == 8082
        assert env(deployment)["MODELOPS_CALLBACK_BASE_URL"] == "https://hooks.example.com"
        assert selects(service["spec"]["selector"], pod_labels(deployment))
    assert len(by_kind(manifests, "Ingress")) == 1


# ------------------------------------------------------------------------------- validity, lint, failures


@pytest.mark.parametrize(
    "args",
    [
        SHARDS,
        SHARDS + PEERING,
        NAMESPACED + NAMESPACED_SHARDS + PEERING,
        CALLBACKS,
        INGRESS,
        SHARDS + PEERING + INGRESS + ("--set", "serviceMonitor.enabled=true"),
    ],
    ids=["shards", "shards-peering", "namespaced-shards-peering", "callbacks", "ingress", "everything"],
)
def test_every_rendered_manifest_is_valid(render: Render, args: tuple[str, ...]) -> None:
    assert validate_all(render(*args)) >= 5


@pytest.mark.parametrize(
    "args",
    [SHARDS + PEERING + INGRESS, NAMESPACED + NAMESPACED_SHARDS + PEERING + CALLBACKS],
    ids=["all-namespaces", "namespaced"],
)
def test_helm_lint_with_shards_and_callbacks(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run_helm(tmp_path, "lint", "--strict", str(CHART), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def shards_json(*shards: dict[str, Any]) -> tuple[str, ...]:
    return ("--set-json", f"shards={json.dumps(list(shards))}")


def sets(*assignments: str) -> tuple[str, ...]:
    return tuple(arg for assignment in assignments for arg in ("--set", assignment))


INGRESS_ON = sets("callbacks.ingress.enabled=true")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # shards: the schema
        (shards_json({"name": "Shard_A", "selector": "x"}), "/shards/0/name"),
        (shards_json({"selector": "x"}), "missing property 'name'"),
        (shards_json({"name": "a", "selector": "x in (a,b)"}), "/shards/0/selector"),
        (shards_json({"name": "a", "selector": 3}), "/shards/0/selector"),
        (shards_json({"name": "a", "selector": "x", "replicas": 2}), "'replicas' not allowed"),
        (shards_json({"name": "a", "selector": "x", "namespaces": ["Team_A"]}), "/shards/0/namespaces/0"),
        # shards: the rendering rules
        (shards_json({"name": "a", "selector": "x=1"}, {"name": "a"}), 'the shard name "a" is used twice'),
        (shards_json({"name": "a", "selector": "x"}, {"name": "b"}), 'shard "b" has neither a selector nor'),
        (
            shards_json({"name": "a", "selector": "x", "namespaces": ["team-a"]}),
            'shard "a" lists namespaces, which needs watch.allNamespaces=false',
        ),
        (
            (*NAMESPACED, *shards_json({"name": "a", "namespaces": ["team-c"]})),
            'shard "a" lists namespace "team-c", which is not in watch.namespaces',
        ),
        ((*SHARDS, *sets("replicaCount=2")), "replicaCount > 1 needs peering.enabled=true"),
        ((*SHARDS, *PEERING, *sets("peering.priority=3")), "replicaCount > 1 needs peering.priority=random"),
        (shards_json({"name": "a" * 40, "selector": "x"}), "is longer than 63 characters"),
        # callbacks: the schema
        (sets("config.callbackPort=70000"), "/config/callbackPort"),
        (sets("config.callbackBaseUrl=hooks.example.com"), "/config/callbackBaseUrl"),
        (sets("callbacks.ingress.path=callbacks"), "/callbacks/ingress/path"),
        (sets("callbacks.ingress.host=https://hooks.example.com"), "/callbacks/ingress/host"),
        (sets("callbacks.service.type=ExternalName"), "/callbacks/service/type"),
        (sets("callbacks.unknown=1"), "'unknown' not allowed"),
        # callbacks: the rendering rules
        (INGRESS_ON, "callbacks.ingress.enabled needs config.callbackPort != 0"),
        (sets("config.callbackPort=8082"), "config.callbackPort needs config.callbackBaseUrl"),
        (
            (*INGRESS_ON, *sets("config.callbackPort=8082")),
            "config.callbackPort needs config.callbackBaseUrl",
        ),
        (
            (*INGRESS_ON, *sets("config.callbackPort=8082", "callbacks.ingress.host=*.example.com")),
            "not a wildcard",
        ),
        (
            sets("config.callbackPort=8080", "config.callbackBaseUrl=https://hooks.example.com"),
            "config.callbackPort 8080 is already config.metricsPort or config.healthPort",
        ),
        (
            (*CALLBACKS, *INGRESS_ON, *sets("callbacks.ingress.host=other.example.com")),
            'callbacks.ingress.host "other.example.com" does not match the host of config.callbackBaseUrl',
        ),
        (
            (*INGRESS, *sets("config.callbackBaseUrl=https://hooks.example.com/modelops")),
            'callbacks.ingress.path "/callbacks" does not route the callback URLs',
        ),
        (
            (*CALLBACKS, *INGRESS_ON, *sets("callbacks.ingress.path=/callbacks/x")),
            'callbacks.ingress.path "/callbacks/x" does not route the callback URLs',
        ),
    ],
)
def test_wrong_values_are_rejected(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    error = template_error(tmp_path, *args)
    assert message in error, error


# --------------------------------------------------------------------- against the emulated cluster


async def test_upgrade_to_shards_and_callbacks_against_the_emulated_cluster(tmp_path: Path) -> None:
    """One Deployment, then an upgrade to two shards with callbacks: the Deployment is replaced by one per shard.
    (Without peering: helm validates hooks, the peering objects, against an OpenAPI document the emulator does
    not serve, whatever --disable-openapi-validation says.)"""
    namespace = "modelops-system"
    async with EmulatedCluster() as cluster:
        kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
        cli = Cli(require_tool("helm"), tmp_path)

        async def helm(*args: str) -> None:
            code, out, err = await Cli.finish(await cli.start(*args, "--kubeconfig", str(kubeconfig)))
            assert code == 0, err + out

        def deployments_args() -> dict[str, list[str]]:
            found = cluster.objects("apps", "v1", "deployments", namespace)
            return {d["metadata"]["name"]: run_args(d) for d in found}

        def service_names() -> set[str]:
            return {s["metadata"]["name"] for s in cluster.objects("", "v1", "services", namespace)}

        common = ("modelops", str(CHART), "--namespace", namespace, "--disable-openapi-validation")
        await cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        await helm("install", *common)
        assert deployments_args() == {FULLNAME: ["--all-namespaces", "--standalone"]}
        assert service_names() == {f"{FULLNAME}-metrics"}

        await helm("upgrade", *common, *SHARDS, *CALLBACKS)
        assert deployments_args() == {
            f"{FULLNAME}-a": ["--all-namespaces", "--selector", "modelops.dev/shard=a", "--standalone"],
            f"{FULLNAME}-default": ["--all-namespaces", "--selector", "!modelops.dev/shard", "--standalone"],
        }
        assert service_names() == {f"{FULLNAME}-metrics", f"{FULLNAME}-callbacks"}

        await helm("upgrade", *common, "--reset-values")  # and back
        assert deployments_args() == {FULLNAME: ["--all-namespaces", "--standalone"]}
        assert service_names() == {f"{FULLNAME}-metrics"}
        await helm("uninstall", "modelops", "--namespace", namespace)
        assert deployments_args() == {}
