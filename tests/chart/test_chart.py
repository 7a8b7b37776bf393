"""The Helm chart, with the real helm: lint, render, validate every manifest, RBAC, CRDs, settings, and
install/upgrade/uninstall against the emulated cluster."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

from modelops_operator.config import settings_table
from modelops_sandbox.cluster import EmulatedCluster
from tests.chart.helpers import (
    CHART,
    CRDS,
    REPO,
    Cli,
    by_kind,
    helm_template,
    one,
    require_tool,
    run_helm,
)

NAMESPACED = ("--set", "watch.allNamespaces=false", "--set", "watch.namespaces={team-a,team-b}")
PEERING = ("--set", "peering.enabled=true", "--set", "replicaCount=2")
# Kinds that are not built into Kubernetes: kubernetes-validate has no schema for them.
CUSTOM_API_GROUPS = {"kopf.dev", "monitoring.coreos.com"}
OPERATOR_KINDS = {"modelbuilds", "modelruns", "assistanttools"}

Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """`helm template` with extra arguments, cached per module (each xdist worker renders on its own)."""
    home = tmp_path_factory.mktemp("helm-home")
    cache: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def _render(*args: str) -> list[dict[str, Any]]:
        if args not in cache:
            cache[args] = helm_template(home, *args)
        return cache[args]

    return _render


def load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rules_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return list(manifest.get("rules") or [])


def all_rules(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for m in manifests if m["kind"] in ("Role", "ClusterRole") for rule in rules_of(m)]


def grants(rules: list[dict[str, Any]], group: str, resource: str) -> set[str]:
    verbs: set[str] = set()
    for rule in rules:
        if group in rule.get("apiGroups", []) and resource in rule.get("resources", []):
            verbs |= set(rule.get("verbs", []))
    return verbs


def container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def env_of(manifests: list[dict[str, Any]]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container(manifests)["env"] if "value" in e}


# ------------------------------------------------------------------------------------------------ lint


@pytest.mark.parametrize("extra", [(), ("--strict",)], ids=["lint", "lint-strict"])
def test_helm_lint(tmp_path: Path, extra: tuple[str, ...]) -> None:
    result = run_helm(tmp_path, "lint", str(CHART), *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_helm_lint_namespaced_with_peering(tmp_path: Path) -> None:
    result = run_helm(tmp_path, "lint", "--strict", str(CHART), *NAMESPACED, *PEERING)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------- validation, all modes


@pytest.mark.parametrize(
    "args",
    [
        (),
        NAMESPACED,
        PEERING,
        NAMESPACED + PEERING,
        ("--set", "serviceMonitor.enabled=true"),
        ("--set", "crds.install=false", "--set", "config.metricsPort=0", "--set", "config.healthPort=0"),
    ],
    ids=["default", "namespaced", "peering", "namespaced-peering", "servicemonitor", "minimal"],
)
def test_every_rendered_manifest_is_valid(render: Render, args: tuple[str, ...]) -> None:
    manifests = render(*args)
    validated = 0
    for manifest in manifests:
        assert manifest.get("apiVersion") and manifest.get("kind"), manifest
        group = manifest["apiVersion"].rpartition("/")[0]
        if group in CUSTOM_API_GROUPS:
            continue
        kubernetes_validate.validate(manifest, "1.30", strict=True)
        validated += 1
    assert validated >= 4


# ------------------------------------------------------------------------------------- the Deployment


def test_default_render_has_the_expected_objects(render: Render) -> None:
    kinds = sorted(m["kind"] for m in render())
    assert kinds == sorted(
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service"]
        + ["CustomResourceDefinition"] * 3
    )


def test_deployment_defaults(render: Render) -> None:
    manifests = render()
    deployment = one(manifests, "Deployment")
    assert deployment["metadata"]["namespace"] == "modelops-system"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] == one(manifests, "ServiceAccount")["metadata"]["name"]
    main = container(manifests)
    assert "command" not in main  # the image's ENTRYPOINT: modelops-operator run
    assert main["args"] == ["--all-namespaces", "--standalone"]
    assert main["image"] == "modelops-operator:0.1.0"
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert main["resources"]["requests"] and main["resources"]["limits"]
    assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    env = {e["name"]: e for e in main["env"]}
    assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_security_context(render: Render) -> None:
    manifests = render()
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(manifests)["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}


def test_namespaced_scope_args(render: Render) -> None:
    assert container(render(*NAMESPACED))["args"] == [
        "--namespace",
        "team-a",
        "--namespace",
        "team-b",
        "--standalone",
    ]


def test_peering_args_and_standby_replica(render: Render) -> None:
    manifests = render(*PEERING)
    assert one(manifests, "Deployment")["spec"]["replicas"] == 2
    main = container(manifests)
    # a random priority per replica, drawn by a shell wrapper around the same command line
    assert main["command"] == ["/bin/sh", "-c"]
    assert main["args"][0].startswith('exec modelops-operator run "$@" --priority ')
    assert main["args"][1:] == [
        "modelops-operator",
        "--all-namespaces",
        "--peering-name",
        "modelops-operator",
    ]
    pinned = container(render("--set", "peering.enabled=true", "--set", "peering.priority=7"))
    assert "command" not in pinned
    assert pinned["args"] == ["--all-namespaces", "--peering-name", "modelops-operator", "--priority", "7"]


def test_pod_placement_env_and_image_values(render: Render) -> None:
    values = {
        "image": {"repository": "registry.local/mo", "tag": "1.2.3", "pullPolicy": "Always"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ops"]}]}
                    ]
                }
            }
        },
        "podAnnotations": {"example.com/team": "ml"},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
    }
    manifests = render("--set-json", f"image={json.dumps(values['image'])}")
    assert container(manifests)["image"] == "registry.local/mo:1.2.3"
    assert container(manifests)["imagePullPolicy"] == "Always"
    args: list[str] = []
    for key in ("nodeSelector", "tolerations", "affinity", "podAnnotations", "extraEnv"):
        args += ["--set-json", f"{key}={json.dumps(values[key])}"]
    manifests = render(*args)
    pod_template = one(manifests, "Deployment")["spec"]["template"]
    assert pod_template["metadata"]["annotations"] == values["podAnnotations"]
    for key in ("nodeSelector", "tolerations", "affinity"):
        assert pod_template["spec"][key] == values[key]
    assert env_of(manifests)["HTTPS_PROXY"] == "http://proxy:3128"


# -------------------------------------------------------------------------------------------- settings


def test_every_setting_is_rendered_with_its_default(render: Render) -> None:
    env = env_of(render())
    for variable, default, _ in settings_table():
        assert variable in env, f"{variable} is not rendered by the chart"
        try:
            assert float(env[variable]) == float(default), variable
        except ValueError:
            assert env[variable] == default, variable


def test_settings_follow_the_values(render: Render) -> None:
    env = env_of(
        render(
            "--set", "config.upstreams.modelsApiUrl=http://models.test:8000",
            "--set", "config.pollIntervalSeconds=2.5",
            "--set", "config.httpMaxAttempts=6",
            "--set", "config.logFormat=json",
            "--set", "config.timeoutSeconds=7200",
        )
    )  # fmt: skip
    assert env["MODELOPS_MODELS_API_URL"] == "http://models.test:8000"
    assert env["MODELOPS_POLL_INTERVAL_SECONDS"] == "2.5"
    assert env["MODELOPS_HTTP_MAX_ATTEMPTS"] == "6"
    assert env["MODELOPS_LOG_FORMAT"] == "json"
    assert env["MODELOPS_TIMEOUT_SECONDS"] == "7200"


def test_disabled_ports_drop_the_probe_and_the_service(render: Render) -> None:
    manifests = render("--set", "config.metricsPort=0", "--set", "config.healthPort=0")
    assert "livenessProbe" not in container(manifests) and "ports" not in container(manifests)
    assert by_kind(manifests, "Service") == []


def test_metrics_service_and_service_monitor(render: Render) -> None:
    manifests = render("--set", "metrics.service.port=9102")
    service = one(manifests, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9102, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == one(manifests, "Deployment")["spec"]["selector"]["matchLabels"]
    assert by_kind(render(), "ServiceMonitor") == []
    monitor = one(render("--set", "serviceMonitor.enabled=true"), "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


# ------------------------------------------------------------------------------------------------ RBAC


def test_rbac_all_namespaces(render: Render) -> None:
    manifests = render()
    assert by_kind(manifests, "Role") == [] and by_kind(manifests, "RoleBinding") == []
    rules = rules_of(one(manifests, "ClusterRole"))
    for plural in OPERATOR_KINDS:
        assert grants(rules, "modelops.dev", plural) == {"list", "watch", "patch"}
        assert grants(rules, "modelops.dev", f"{plural}/status") == {"patch"}
    assert grants(rules, "", "events") == {"create"}
    assert grants(rules, "events.k8s.io", "events") == set()
    assert grants(rules, "", "secrets") == {"get"}
    assert grants(rules, "apiextensions.k8s.io", "customresourcedefinitions") == {"list", "watch"}
    # get: is a namespace being deleted; kopf lists and watches namespaces only when not cluster-wide
    assert grants(rules, "", "namespaces") == {"get"}
    assert grants(rules, "kopf.dev", "clusterkopfpeerings") == set()
    binding = one(manifests, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == one(manifests, "ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": one(manifests, "ServiceAccount")["metadata"]["name"],
            "namespace": "modelops-system",
        }
    ]


def test_rbac_watched_namespaces(render: Render) -> None:
    manifests = render(*NAMESPACED)
    roles = {r["metadata"]["namespace"]: r for r in by_kind(manifests, "Role")}
    assert set(roles) == {"team-a", "team-b"}
    bindings = {b["metadata"]["namespace"]: b for b in by_kind(manifests, "RoleBinding")}
    assert set(bindings) == {"team-a", "team-b"}
    for namespace, role in roles.items():
        rules = rules_of(role)
        for plural in OPERATOR_KINDS:
            assert grants(rules, "modelops.dev", plural) == {"list", "watch", "patch"}
        assert grants(rules, "", "secrets") == {"get"}
        assert grants(rules, "kopf.dev", "kopfpeerings") == set()
        assert bindings[namespace]["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role["metadata"]["name"],
        }
        assert bindings[namespace]["subjects"][0]["namespace"] == "modelops-system"
    # the cluster-level part is kopf's observation only: nothing about the kinds or Secrets
    cluster_rules = rules_of(one(manifests, "ClusterRole"))
    assert grants(cluster_rules, "apiextensions.k8s.io", "customresourcedefinitions") == {"list", "watch"}
    assert grants(cluster_rules, "", "namespaces") == {"get", "list", "watch"}
    assert len(cluster_rules) == 2


def test_rbac_peering_rules_only_with_peering(render: Render) -> None:
    clusterwide = rules_of(one(render(*PEERING), "ClusterRole"))
    assert grants(clusterwide, "kopf.dev", "clusterkopfpeerings") == {"get", "list", "watch", "patch"}
    for role in by_kind(render(*NAMESPACED, *PEERING), "Role"):
        assert grants(rules_of(role), "kopf.dev", "kopfpeerings") == {"get", "list", "watch", "patch"}
    for args in ((), NAMESPACED):
        assert not [r for r in all_rules(render(*args)) if "kopf.dev" in r.get("apiGroups", [])]


@pytest.mark.parametrize("args", [(), NAMESPACED, PEERING, NAMESPACED + PEERING], ids=str)
def test_rbac_never_lists_or_watches_secrets_and_has_no_wildcards(
    render: Render, args: tuple[str, ...]
) -> None:
    for rule in all_rules(render(*args)):
        assert "*" not in rule.get("verbs", []) and "*" not in rule.get("resources", []), rule
        assert "*" not in rule.get("apiGroups", []), rule
        if "secrets" in rule.get("resources", []):
            assert set(rule["verbs"]) == {"get"}, rule


# ------------------------------------------------------------------------------------------------ CRDs


def test_chart_crd_copies_match_deploy_crds() -> None:
    sync = load_tool("sync_chart_crds")
    assert sync.differences() == [], "run: python tools/sync_chart_crds.py"


def test_crds_rendered_from_deploy_crds_with_keep_policy(render: Render) -> None:
    rendered = {c["metadata"]["name"]: c for c in by_kind(render(), "CustomResourceDefinition")}
    sources = [yaml.safe_load(path.read_text()) for path in sorted(CRDS.glob("*.yaml"))]
    assert set(rendered) == {s["metadata"]["name"] for s in sources}
    for source in sources:
        crd = rendered[source["metadata"]["name"]]
        assert crd["spec"] == source["spec"]
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert crd["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"
        assert source["metadata"]["labels"].items() <= crd["metadata"]["labels"].items()


def test_crds_skipped_when_managed_elsewhere(render: Render) -> None:
    assert by_kind(render("--set", "crds.install=false"), "CustomResourceDefinition") == []
    assert by_kind(render("--set", "crds.install=false", *PEERING), "CustomResourceDefinition") == []


def test_peering_crds_and_objects(render: Render) -> None:
    clusterwide = render(*PEERING)
    names = {c["metadata"]["name"] for c in by_kind(clusterwide, "CustomResourceDefinition")}
    assert "clusterkopfpeerings.kopf.dev" in names and "kopfpeerings.kopf.dev" not in names
    peering = one(clusterwide, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "modelops-operator"
    assert peering["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    namespaced = render(*NAMESPACED, *PEERING)
    names = {c["metadata"]["name"] for c in by_kind(namespaced, "CustomResourceDefinition")}
    assert "kopfpeerings.kopf.dev" in names and "clusterkopfpeerings.kopf.dev" not in names
    assert {p["metadata"]["namespace"] for p in by_kind(namespaced, "KopfPeering")} == {"team-a", "team-b"}
    assert not [m for m in render() if m["apiVersion"].startswith("kopf.dev/")]


# ----------------------------------------------------------------------------------- schema and guards


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "replicaCount=abc"), "replicaCount"),
        (("--set", "config.logLevel=LOUD"), "logLevel"),
        (("--set", "config.pollIntervalSeconds=fast"), "pollIntervalSeconds"),
        (("--set", "config.metricsPort=70000"), "metricsPort"),
        (("--set", "watch.allNamespaces=maybe"), "allNamespaces"),
        (("--set", "crds.install=yes-please"), "install"),
        (("--set", "peering.priority=high"), "priority"),
        (("--set", "unknownKey=1"), "unknownKey"),
        (("--set", "replicaCount=2"), "peering.enabled=true"),
        (("--set", "watch.allNamespaces=false"), "watch.namespaces"),
    ],
)
def test_wrong_values_are_rejected(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_helm(tmp_path, "template", "modelops", str(CHART), *args)
    assert result.returncode != 0, f"helm template {' '.join(args)} rendered"
    assert message in result.stderr, result.stderr


# --------------------------------------------------------------------- against the emulated cluster


async def test_helm_install_upgrade_uninstall_against_the_emulated_cluster(tmp_path: Path) -> None:
    namespace = "modelops-system"
    async with EmulatedCluster() as cluster:
        kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
        cli = Cli(require_tool("helm"), tmp_path)

        async def helm(*args: str) -> tuple[int, str, str]:
            return await Cli.finish(await cli.start(*args, "--kubeconfig", str(kubeconfig)))

        common = ("--namespace", namespace, "--disable-openapi-validation")

        def deployment_env() -> dict[str, str]:
            obj = cluster.get_object("apps", "v1", "deployments", namespace, "modelops-modelops-operator")
            if obj is None:
                return {}
            containers = obj["spec"]["template"]["spec"]["containers"]
            return {e["name"]: e.get("value", "") for e in containers[0]["env"]}

        # Created up front rather than with --create-namespace: helm validates the Namespace it creates against
        # the OpenAPI document (even with --disable-openapi-validation), which the emulator does not serve.
        await cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        code, out, err = await helm("install", "modelops", str(CHART), *common)
        assert code == 0, err + out
        assert "kubectl get modelops" in out and "kubectl create secret generic" in out  # NOTES.txt
        crds = {
            c["metadata"]["name"]
            for c in cluster.objects("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        }
        assert {"modelbuilds.modelops.dev", "modelruns.modelops.dev", "assistanttools.modelops.dev"} <= crds
        assert cluster.get_object(
            "rbac.authorization.k8s.io", "v1", "clusterroles", None, "modelops-modelops-operator"
        )
        assert cluster.get_object("", "v1", "serviceaccounts", namespace, "modelops-modelops-operator")
        assert deployment_env()["MODELOPS_POLL_INTERVAL_SECONDS"] == "10"

        code, out, err = await helm(
            "upgrade", "modelops", str(CHART), *common,
            "--set", "config.pollIntervalSeconds=3", "--set", "config.logLevel=DEBUG",
        )  # fmt: skip
        assert code == 0, err + out
        env = deployment_env()  # helm returns once the objects are applied
        assert env["MODELOPS_POLL_INTERVAL_SECONDS"] == "3" and env["MODELOPS_LOG_LEVEL"] == "DEBUG"
        code, out, _ = await helm("list", "--namespace", namespace)
        assert "deployed" in out and "modelops" in out

        code, out, err = await helm("uninstall", "modelops", "--namespace", namespace)
        assert code == 0, err + out
        assert deployment_env() == {}
        assert (
            cluster.get_object(
                "rbac.authorization.k8s.io", "v1", "clusterroles", None, "modelops-modelops-operator"
            )
            is None
        )
        # the CRDs stay: helm.sh/resource-policy keep (deleting them would delete every resource of their kind)
        crds = {
            c["metadata"]["name"]
            for c in cluster.objects("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        }
        assert "modelbuilds.modelops.dev" in crds
