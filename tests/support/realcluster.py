"""The real control plane as the tests use it: the chart installed with the real helm, admin access for the
tests' own calls, and the chart's ServiceAccount (never admin) for the operator.

`RealCluster` offers the same async calls as the emulated cluster (both go through the sandbox's
`ClusterClient`), so a test written against one runs against the other.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import yaml

from modelops_operator.api.common import GROUP, VERSION
from modelops_operator.api.kinds import ALL_KINDS
from modelops_sandbox.cluster.client import ClusterClient, NotFoundError
from tests.support.controlplane import ControlPlane, kubeconfig

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "modelops-operator"
TOOLS = REPO / ".tools" / "bin"
OPERATOR_NAMESPACE = "modelops-system"


def tool(name: str) -> str:
    local = TOOLS / name
    if local.is_file():
        return str(local)
    found = subprocess.run(["which", name], capture_output=True, text=True, check=False).stdout.strip()
    if not found:
        raise RuntimeError(f"{name} is not installed (make installs it into .tools/bin)")
    return found


def run(*argv: str, timeout: float = 120, stdin: str | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=stdin, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:3])} ... failed ({result.returncode}):\n{result.stderr}{result.stdout}"
        )
    return result.stdout


@dataclass(frozen=True)
class Identity:
    """Who the operator is: a ServiceAccount of a chart release, with a token from the TokenRequest API."""

    release: str
    namespace: str
    service_account: str
    token: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


@dataclass
class RealControlPlane:
    """The session's control plane with the chart's CRDs and RBAC installed (sync; built once per session)."""

    control_plane: ControlPlane
    home: Path

    @property
    def url(self) -> str:
        return self.control_plane.url

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        return run(
            tool("kubectl"),
            f"--kubeconfig={self.control_plane.admin_kubeconfig}",
            *args,
            stdin=stdin,
            timeout=timeout,
        )

    def helm(self, *args: str, timeout: float = 300) -> str:
        env_home = self.home / "helm"
        env_home.mkdir(parents=True, exist_ok=True)
        return run(
            "env", f"HOME={env_home}", f"XDG_CACHE_HOME={env_home}/cache", f"XDG_CONFIG_HOME={env_home}/config",
            f"XDG_DATA_HOME={env_home}/data",
            tool("helm"), f"--kubeconfig={self.control_plane.admin_kubeconfig}", *args, timeout=timeout,
        )  # fmt: skip

    def install_chart(self, release: str, namespace: str, *values: str) -> Identity:
        """`helm install` of the chart (OpenAPI validation on), and a token of its ServiceAccount."""
        self.helm(
            "install", release, str(CHART), "--namespace", namespace, "--create-namespace",
            # Nothing runs the chart's Deployment here (no kubelet): the operator runs in the test process.
            "--set", "replicaCount=0", *values,
        )  # fmt: skip
        manifest = yaml.safe_load_all(self.helm("get", "manifest", release, "--namespace", namespace))
        (account,) = [
            doc["metadata"]["name"] for doc in manifest if doc and doc.get("kind") == "ServiceAccount"
        ]
        token = self.kubectl("create", "token", account, "--namespace", namespace, "--duration=24h").strip()
        return Identity(release=release, namespace=namespace, service_account=account, token=token)

    def create_namespaces(self, names: Sequence[str]) -> None:
        documents = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in names]
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(documents))

    def install_for_namespaces(
        self, release: str, namespace: str, watched: Sequence[str], *values: str
    ) -> Identity:
        """The chart in its per-namespace scope: a Role in each watched namespace (which must exist first)."""
        self.create_namespaces(watched)
        return self.install_chart(
            release, namespace, "--set", "watch.allNamespaces=false",
            "--set", "watch.namespaces={" + ",".join(watched) + "}", *values,
        )  # fmt: skip

    def audit(self, username: str) -> list[dict[str, Any]]:
        """The audit log's entries of one user (level Metadata: verb, resource, namespace, response code)."""
        entries = []
        with open(self.control_plane.audit_log) as log:
            for line in log:
                if f'"{username}"' not in line:
                    continue
                entry = json.loads(line)
                if entry.get("user", {}).get("username") == username:
                    entries.append(entry)
        return entries


class RealCluster:
    """One test's view of the real API server: admin calls for the test, the operator's identity for kopf."""

    def __init__(self, plane: RealControlPlane, identity: Identity, client: ClusterClient) -> None:
        self.plane = plane
        self.identity = identity
        self.client = client

    @property
    def url(self) -> str:
        return self.plane.url

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, plane: RealControlPlane, identity: Identity) -> AsyncIterator[RealCluster]:
        context = plane.control_plane.admin_ssl_context()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
            yield cls(plane, identity, ClusterClient(session, plane.url))

    def operator_connection(self, namespace: str) -> kopf.ConnectionInfo:
        """As in a pod: the ServiceAccount's token, and its own namespace as the default one (where Events
        about cluster-scoped objects go), whatever namespace the operator watches."""
        del namespace
        return kopf.ConnectionInfo(
            server=self.plane.url,
            ca_path=str(self.plane.control_plane.ca_file),
            token=self.identity.token,
            scheme="Bearer",
            default_namespace=self.identity.namespace,
        )

    def write_kubeconfig(self, path: Path, *, namespace: str = "default", admin: bool = True) -> Path:
        control_plane = self.plane.control_plane
        cert, key = control_plane.admin_cert_files
        user = (
            {"client-certificate": str(cert), "client-key": str(key)}
            if admin
            else {"token": self.identity.token}
        )
        path.write_text(
            yaml.safe_dump(kubeconfig(self.url, control_plane.ca_file, user=user, namespace=namespace))
        )
        return path

    # -- the same calls as the emulated cluster ---------------------------------------------------------------

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return await self.client.create(manifest)

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return await self.client.apply(manifest)

    async def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        return await self.client.get(api_version, plural, namespace, name)

    async def get_or_none(
        self, api_version: str, plural: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        return await self.client.get_or_none(api_version, plural, namespace, name)

    async def list_objects(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        return await self.client.list_objects(
            api_version, plural, namespace, label_selector=label_selector, field_selector=field_selector
        )

    async def patch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return await self.client.patch(api_version, plural, namespace, name, body, subresource=subresource)

    async def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> None:
        await self.client.delete(api_version, plural, namespace, name)

    async def events_for(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return await self.client.events_for(namespace, name)

    # -- per-test namespaces ----------------------------------------------------------------------------------

    async def new_namespace(self, prefix: str = "t") -> str:
        """A namespace no release watches (e.g. to show that the operator cannot act there)."""
        name = f"{prefix}-{secrets.token_hex(4)}"
        await self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    async def discard_namespace(self, namespace: str) -> None:
        """Delete a test's namespace without waiting; first release what the stopped operator still holds."""
        for definition in ALL_KINDS:
            api = f"{GROUP}/{VERSION}"
            with contextlib.suppress(NotFoundError):
                for obj in await self.list_objects(api, definition.plural, namespace):
                    if obj["metadata"].get("finalizers"):
                        with contextlib.suppress(NotFoundError):
                            await self.patch(
                                api,
                                definition.plural,
                                namespace,
                                obj["metadata"]["name"],
                                {"metadata": {"finalizers": None}},
                            )
        with contextlib.suppress(NotFoundError):
            await self.delete("v1", "namespaces", None, namespace)


@dataclass
class NamespacePool:
    """Namespaces the session's chart release watches (its Role is in each): one fresh one per test."""

    names: list[str]

    def take(self) -> str:
        if not self.names:
            raise RuntimeError("the namespace pool is used up: raise POOL_SIZE in tests/conftest.py")
        return self.names.pop(0)
