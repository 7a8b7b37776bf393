"""The operator needs exactly the chart's permissions, in both scopes: proven from the API server's audit log.

For each scope, a release of the chart is installed with the real helm and the operator runs as its
ServiceAccount through the whole life of every kind (the sandbox's examples: create, observe, update, fail,
delete with finalizers, Events). The audit log then shows every request it made: none may be refused (a
missing permission), and every permission the chart grants must have been used (an unneeded one). The
README's RBAC table is held to the chart's rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops_operator.api.common import GROUP, VERSION
from modelops_operator.api.kinds import ALL_KINDS
from modelops_sandbox.runner import EXPECT_ANNOTATION, load_examples, script_sandbox_world
from modelops_sandbox.stack import Stack
from tests.conftest import REAL, mark_backend
from tests.integration.conftest import gone, real_stack, wait_event, wait_phase
from tests.support.realcluster import OPERATOR_NAMESPACE, Identity, RealCluster, RealControlPlane
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
Permission = tuple[str, str, str]  # (API group, resource[/subresource], verb)
PLURALS = {definition.kind: definition.plural for definition in ALL_KINDS}


async def exercise_every_kind(stack: Stack[RealCluster], *, clusterwide: bool) -> None:
    """The sandbox's examples from apply to deletion, with a spec edit on the way."""
    script_sandbox_world(stack)  # type: ignore[arg-type]
    manifests = load_examples(REPO / "examples")
    resources = [m for m in manifests if m["kind"] in PLURALS]
    async with stack.operator(clusterwide=clusterwide):
        for manifest in manifests:
            await stack.apply(manifest)
        for manifest in resources:
            expected = manifest["metadata"]["annotations"][EXPECT_ANNOTATION]
            await wait_phase(stack, manifest["metadata"]["name"], expected, plural=PLURALS[manifest["kind"]])
        tool = next(m for m in resources if m["kind"] == "AssistantTool")["metadata"]["name"]
        await stack.cluster.patch(
            f"{GROUP}/{VERSION}",
            "assistanttools",
            stack.namespace,
            tool,
            {"spec": {"description": "Edited."}},
        )
        await wait_event(stack, tool, "Updated")
        for manifest in resources:
            plural, name = PLURALS[manifest["kind"]], manifest["metadata"]["name"]
            await stack.cluster.delete(f"{GROUP}/{VERSION}", plural, stack.namespace, name)
        for manifest in resources:
            plural, name = PLURALS[manifest["kind"]], manifest["metadata"]["name"]
            await eventually(lambda p=plural, n=name: gone(stack, n, p), timeout=30, what=f"{name} deleted")


def granted(plane: RealControlPlane, identity: Identity) -> set[Permission]:
    """What the release's Roles and ClusterRoles bound to its ServiceAccount allow, rule by rule."""
    documents = [
        doc
        for doc in yaml.safe_load_all(
            plane.helm("get", "manifest", identity.release, "--namespace", identity.namespace)
        )
        if doc
    ]
    bound = {
        (doc["roleRef"]["kind"], doc["roleRef"]["name"], doc["metadata"].get("namespace"))
        for doc in documents
        if doc["kind"] in ("RoleBinding", "ClusterRoleBinding")
        and any(s.get("name") == identity.service_account for s in doc.get("subjects", []))
    }
    permissions: set[Permission] = set()
    for doc in documents:
        if doc["kind"] not in ("Role", "ClusterRole"):
            continue
        if (doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace")) not in bound:
            continue
        for rule in doc.get("rules", []):
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    for verb in rule.get("verbs", []):
                        permissions.add((group, resource, verb))
    return permissions


def used(entries: Iterable[dict[str, Any]]) -> tuple[set[Permission], list[str]]:
    """(permissions the requests needed, requests refused) from audit entries of one user."""
    needed: set[Permission] = set()
    refused: list[str] = []
    for entry in entries:
        ref = entry.get("objectRef")
        if not ref:
            continue  # discovery and other non-resource URLs: every authenticated user may read them
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        needed.add((ref.get("apiGroup", ""), resource, entry["verb"]))
        if entry.get("responseStatus", {}).get("code") == 403:
            refused.append(f"{entry['verb']} {entry['requestURI']}")
    return needed, refused


def assert_exactly_what_is_needed(plane: RealControlPlane, identity: Identity) -> set[Permission]:
    needed, refused = used(plane.audit(identity.username))
    assert refused == [], f"the operator was refused: {refused}"
    allowed = granted(plane, identity)
    assert needed <= allowed
    unused = sorted(allowed - needed)
    assert unused == [], f"the chart grants permissions the operator never used: {unused}"
    return needed


async def test_per_namespace_scope_needs_exactly_the_chart_rules(
    request: pytest.FixtureRequest, real_control_plane: RealControlPlane, session_release: Any
) -> None:
    mark_backend(request, REAL)
    plane = real_control_plane
    watched = "rbac-scoped"
    identity = plane.install_for_namespaces(
        "rbac-scoped", "rbac-system", [watched], "--set", "crds.install=false"
    )
    async with real_stack(plane, identity, watched) as stack:
        await exercise_every_kind(stack, clusterwide=False)
    assert_exactly_what_is_needed(plane, identity)


async def test_all_namespaces_scope_needs_exactly_the_chart_rules(
    request: pytest.FixtureRequest, isolated_control_plane: RealControlPlane
) -> None:
    mark_backend(request, REAL)
    plane = isolated_control_plane
    identity = plane.install_chart("modelops", OPERATOR_NAMESPACE)
    plane.create_namespaces(["team-a"])
    async with real_stack(plane, identity, "team-a") as stack:
        await exercise_every_kind(stack, clusterwide=True)
    assert_exactly_what_is_needed(plane, identity)


def readme_rbac_rows() -> set[Permission]:
    """The README's RBAC table: | API group | resources | verbs | scope | why |."""
    text = (REPO / "README.md").read_text()
    table = text.split("<!-- rbac-table -->", 2)[1]
    rows: set[Permission] = set()
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        group = "" if cells[0] == "(core)" else cells[0]
        for resource in re.split(r",\s*", cells[1]):
            for verb in re.split(r",\s*", cells[2]):
                rows.add((group, resource.strip("`"), verb.strip("`")))
    return rows


def test_the_readme_rbac_table_is_the_charts(
    real_control_plane: RealControlPlane, session_release: Any
) -> None:
    identity, _ = session_release
    assert readme_rbac_rows() == granted(real_control_plane, identity)
