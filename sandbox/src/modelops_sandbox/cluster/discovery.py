"""What resources the emulated cluster serves, and the discovery documents describing them.

:class:`ResourceSpec` describes one resource in one version (what ``/apis/<group>/<version>`` lists).
:class:`ResourceRegistry` holds them: the built-ins from :data:`BUILTIN_RESOURCES` and those declared by
CustomResourceDefinitions (registered on CRD create/update, removed on CRD delete).

The renderers produce the legacy (unaggregated) discovery documents: ``APIVersions`` for ``/api``,
``APIGroupList`` for ``/apis``, ``APIGroup`` for ``/apis/<group>`` and ``APIResourceList`` for a
group-version, with kind, singularName, namespaced, verbs, shortNames, categories and ``<plural>/status``
subresource entries. Versions are ordered by Kubernetes version priority (GA > beta > alpha).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STANDARD_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
STATUS_VERBS: tuple[str, ...] = ("get", "patch", "update")

GVR = tuple[str, str, str]  # (group, version, plural)


@dataclass(frozen=True)
class ResourceSpec:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[str, ...] = ()
    # Whether the server maintains metadata.generation (custom resources and some built-ins do).
    generation: bool = False
    # additionalPrinterColumns of a CRD version (None: the built-in/default columns are used).
    printer_columns: tuple[dict[str, Any], ...] | None = field(default=None, compare=False)
    crd: str | None = None  # the name of the CRD that declared it, if any
    # A CRD version's selectableFields, as field selector labels (``spec.size``).
    selectable_fields: tuple[str, ...] = ()
    # A CRD version's openAPIV3Schema: custom resources are pruned and defaulted by it (see :mod:`.schema`).
    schema: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def gvr(self) -> GVR:
        return (self.group, self.version, self.plural)

    @property
    def storage_key(self) -> tuple[str, str]:
        """All versions of a resource share one storage, as in a real cluster."""
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _core(plural: str, kind: str, *, namespaced: bool = True, **kwargs: Any) -> ResourceSpec:
    return ResourceSpec(group="", version="v1", plural=plural, kind=kind, namespaced=namespaced, **kwargs)


# Namespaces cannot be deleted as a collection.
NAMESPACE_VERBS = tuple(verb for verb in STANDARD_VERBS if verb != "deletecollection")

BUILTIN_RESOURCES: tuple[ResourceSpec, ...] = (
    _core(
        "namespaces", "Namespace", namespaced=False, short_names=("ns",), subresources=("status",),
        verbs=NAMESPACE_VERBS,
    ),
    _core("secrets", "Secret"),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("events", "Event", short_names=("ev",)),
    _core("serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _core("services", "Service", short_names=("svc",), categories=("all",), subresources=("status",)),
    _core("pods", "Pod", short_names=("po",), categories=("all",), subresources=("status",), generation=True),
    ResourceSpec("events.k8s.io", "v1", "events", "Event", True, short_names=("ev",)),
    ResourceSpec(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=("status",),
        generation=True,
    ),
    ResourceSpec("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceSpec("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceSpec("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceSpec("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceSpec("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ResourceSpec(
        "apps", "v1", "deployments", "Deployment", True, short_names=("deploy",), categories=("all",),
        subresources=("status",), generation=True,
    ),
)  # fmt: skip

_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """A sort key putting versions in Kubernetes priority order: v2, v1, v1beta2, v1beta1, v1alpha1, foo."""
    match = _VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    stability = {None: 0, "beta": 1, "alpha": 2}[match[2]]
    return (stability, -int(match[1]), -int(match[3] or 0), version)


# --- CustomResourceDefinitions -------------------------------------------------------------------


def crd_problem(crd: dict[str, Any]) -> str | None:
    """Why this CRD would be rejected by the API server (a short field error), or None if it is fine."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return "spec: Required value"
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not group or not isinstance(group, str):
        return "spec.group: Required value"
    if not plural or not isinstance(plural, str):
        return "spec.names.plural: Required value"
    if not kind or not isinstance(kind, str):
        return "spec.names.kind: Required value"
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        return 'spec.scope: Unsupported value: must be "Namespaced" or "Cluster"'
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        return "spec.versions: Invalid value: must have exactly one version marked as storage version"
    if sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        return "spec.versions: Invalid value: must have exactly one version marked as storage version"
    name = (crd.get("metadata") or {}).get("name")
    if name != f"{plural}.{group}":
        return f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group'
    return None


def default_crd_spec(spec: dict[str, Any]) -> None:
    """What the server fills in a CRD's spec: the names derived from the kind, and no conversion."""
    names = spec["names"]
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", f"{names['kind']}List")
    spec.setdefault("conversion", {"strategy": "None"})


def crd_resources(crd: dict[str, Any]) -> list[ResourceSpec]:
    """The resources a (valid) CRD declares: one per served version."""
    spec = crd["spec"]
    names = spec["names"]
    result: list[ResourceSpec] = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        columns = version.get("additionalPrinterColumns")
        selectable = tuple(
            str(item.get("jsonPath", "")).lstrip(".") for item in version.get("selectableFields") or ()
        )
        result.append(
            ResourceSpec(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=("status",) if "status" in subresources else (),
                generation=True,
                printer_columns=tuple(columns) if columns else None,
                crd=crd["metadata"]["name"],
                selectable_fields=selectable,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            )
        )
    return result


def _stored_versions(crd: dict[str, Any]) -> list[str]:
    previous = (crd.get("status") or {}).get("storedVersions") or []
    storage = [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]
    return sorted(set(previous) | set(storage), key=version_priority)


def pending_crd_status(crd: dict[str, Any]) -> dict[str, Any]:
    """The status of a CRD as created: its controllers have not accepted its names yet (the create answer)."""
    return {
        "conditions": None,
        "acceptedNames": {"plural": "", "kind": ""},
        "storedVersions": _stored_versions(crd),
    }


def crd_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    """The status a real server reports for an accepted CRD: names accepted, established."""
    spec = crd["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", f"{names['kind']}List")
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "storedVersions": _stored_versions(crd),
    }


def terminating_condition(now: str, *, in_progress: bool) -> dict[str, Any]:
    """The condition of a CRD being deleted: its finalizer deletes the custom resources first."""
    if in_progress:
        reason, message = "InstanceDeletionInProgress", "CustomResource deletion is in progress"
    else:
        reason = "InstanceDeletionPending"
        message = "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"
    return {
        "type": "Terminating",
        "status": "True",
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


# --- the registry --------------------------------------------------------------------------------


class ResourceRegistry:
    def __init__(self, builtins: Iterable[ResourceSpec] = BUILTIN_RESOURCES) -> None:
        self._specs: dict[GVR, ResourceSpec] = {}
        self._by_crd: dict[str, list[GVR]] = {}
        for spec in builtins:
            self.register(spec)

    def register(self, spec: ResourceSpec) -> None:
        self._specs[spec.gvr] = spec

    def unregister(self, gvr: GVR) -> ResourceSpec | None:
        return self._specs.pop(gvr, None)

    def lookup(self, group: str, version: str, plural: str) -> ResourceSpec | None:
        return self._specs.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceSpec | None:
        group, _, version = api_version.rpartition("/")
        for spec in self._specs.values():
            if spec.group == group and spec.version == version and spec.kind == kind:
                return spec
        return None

    def versions_of(self, group: str, plural: str) -> list[ResourceSpec]:
        specs = [s for s in self._specs.values() if s.group == group and s.plural == plural]
        return sorted(specs, key=lambda s: version_priority(s.version))

    def all(self) -> list[ResourceSpec]:
        return list(self._specs.values())

    def apply_crd(self, crd: dict[str, Any]) -> tuple[list[ResourceSpec], list[ResourceSpec]]:
        """(Re-)register the resources of a CRD; returns (the current ones, the ones no longer served)."""
        name = crd["metadata"]["name"]
        current = crd_resources(crd)
        removed = [spec for gvr in self._by_crd.get(name, []) if (spec := self._specs.get(gvr)) is not None]
        removed = [spec for spec in removed if spec.gvr not in {s.gvr for s in current}]
        for spec in removed:
            self.unregister(spec.gvr)
        for spec in current:
            self.register(spec)
        self._by_crd[name] = [spec.gvr for spec in current]
        return current, removed

    def remove_crd(self, name: str) -> list[ResourceSpec]:
        removed = [spec for gvr in self._by_crd.pop(name, []) if (spec := self.unregister(gvr)) is not None]
        return removed


# --- discovery documents -------------------------------------------------------------------------


def _grouped(specs: Iterable[ResourceSpec]) -> dict[str, list[str]]:
    groups: dict[str, set[str]] = {}
    for spec in specs:
        groups.setdefault(spec.group, set()).add(spec.version)
    return {group: sorted(versions, key=version_priority) for group, versions in sorted(groups.items())}


def _group_doc(group: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": group,
        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
        "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def group_list(specs: Iterable[ResourceSpec]) -> dict[str, Any]:
    groups = _grouped(specs)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(group, versions) for group, versions in groups.items() if group],
    }


def group_doc(specs: Iterable[ResourceSpec], group: str) -> dict[str, Any] | None:
    versions = _grouped(specs).get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def resource_list(specs: Iterable[ResourceSpec], group: str, version: str) -> dict[str, Any] | None:
    selected = sorted((s for s in specs if s.group == group and s.version == version), key=lambda s: s.plural)
    if not selected and group:
        return None
    resources: list[dict[str, Any]] = []
    for spec in selected:
        entry: dict[str, Any] = {
            "name": spec.plural,
            "singularName": spec.singular_name,
            "namespaced": spec.namespaced,
            "kind": spec.kind,
            "verbs": list(spec.verbs),
        }
        if spec.short_names:
            entry["shortNames"] = list(spec.short_names)
        if spec.categories:
            entry["categories"] = list(spec.categories)
        resources.append(entry)
        for subresource in spec.subresources:
            resources.append(
                {
                    "name": f"{spec.plural}/{subresource}",
                    "singularName": "",
                    "namespaced": spec.namespaced,
                    "kind": spec.kind,
                    "verbs": list(STATUS_VERBS),
                }
            )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }
