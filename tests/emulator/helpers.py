"""Shared helpers of the conformance tests: per-test names and manifests, raw HTTP, watch streams, CLIs."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[2]
VERSION, PLURAL, KIND = "v1", "widgets", "Widget"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

# The Widget schema: structural (the real server requires it), with the fields the tests set declared and
# everything else preserved, so nothing a test writes is pruned unless a test is about pruning.
WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"size": {"type": "integer"}},
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


@dataclass(frozen=True)
class Scope:
    """The names one test uses: a namespace, and a CRD group of its own (so the CRD's name, short name and
    category are its own too). Unique per test, so tests sharing one real API server never collide; every
    cluster-scoped object a test creates carries the token in its name, which is how teardown finds it."""

    token: str

    @classmethod
    def fresh(cls) -> Scope:
        return cls(secrets.token_hex(4))

    @property
    def namespace(self) -> str:
        return f"ce-{self.token}"

    @property
    def group(self) -> str:
        return f"ce-{self.token}.example.com"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{VERSION}"

    @property
    def short_name(self) -> str:
        return f"wdg{self.token}"

    @property
    def category(self) -> str:
        return f"gadgets{self.token}"

    @property
    def crd_name(self) -> str:
        return f"{PLURAL}.{self.group}"

    @property
    def resource(self) -> str:
        """The fully qualified resource for kubectl: a bare ``widget`` could be another test's Widget kind."""
        return f"{PLURAL}.{self.group}"

    def name(self, suffix: str) -> str:
        """A name for another object of this test (a second namespace, a ClusterRole...)."""
        return f"{self.namespace}-{suffix}"

    def widgets(self, namespace: str | None = None, *, version: str = VERSION) -> str:
        """The URL path of the widgets of a namespace (this test's by default)."""
        return f"/apis/{self.group}/{version}/namespaces/{namespace or self.namespace}/{PLURAL}"

    @property
    def all_widgets(self) -> str:
        return f"/apis/{self.group}/{VERSION}/{PLURAL}"

    def widget(self, name: str, **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": KIND,
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": spec or {"size": 1},
        }

    def crd(
        self,
        *,
        status_subresource: bool = True,
        plural: str = PLURAL,
        kind: str = KIND,
        schema: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The Widget CRD (namespaced, status subresource, printer columns), or another kind of this group."""
        version: dict[str, Any] = {
            "name": VERSION,
            "served": True,
            "storage": True,
            "schema": {"openAPIV3Schema": schema or WIDGET_SCHEMA},
            "additionalPrinterColumns": [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                {
                    "name": "Ready",
                    "type": "string",
                    "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                },
                {"name": "Color", "type": "string", "jsonPath": ".spec.colors[0].name", "priority": 1},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            ],
        }
        if status_subresource:
            version["subresources"] = {"status": {}}
        names: dict[str, Any] = {"plural": plural, "singular": kind.lower(), "kind": kind}
        if plural == PLURAL:
            names |= {"shortNames": [self.short_name], "categories": [self.category]}
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{self.group}"},
            "spec": {"group": self.group, "scope": "Namespaced", "names": names, "versions": [version]},
        }


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class Http:
    """Raw HTTP against the cluster under test, returning status + parsed JSON (never raising on 4xx)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = dict(headers or {})
        data: bytes | None = None
        if body is not None:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            all_headers["Content-Type"] = content_type
        async with self.session.request(
            method, self.base + path, data=data, headers=all_headers, params=params
        ) as response:
            text = await response.text()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text
            return Reply(response.status, dict(response.headers), parsed)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return await self.call("POST", path, body, **kwargs)

    async def put(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return await self.call("PUT", path, body, **kwargs)

    async def patch(self, path: str, body: Any, *, kind: str = "merge", **kwargs: Any) -> Reply:
        content_type = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
            "apply": "application/apply-patch+yaml",
        }[kind]
        return await self.call("PATCH", path, body, content_type=content_type, **kwargs)

    async def delete(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.call("DELETE", path, body, **kwargs)


class WatchStream:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    @property
    def content_type(self) -> str:
        return self.response.headers.get("Content-Type", "")

    async def next(self, within: float = 5.0) -> dict[str, Any]:
        line = await asyncio.wait_for(self.response.content.readline(), within)
        if not line:
            raise EOFError("the watch stream ended")
        event: dict[str, Any] = json.loads(line)
        return event

    async def take(self, count: int, within: float = 5.0) -> list[dict[str, Any]]:
        return [await self.next(within) for _ in range(count)]

    async def rest(self, within: float = 5.0) -> list[dict[str, Any]]:
        """All remaining events until the server ends the stream."""
        events: list[dict[str, Any]] = []
        while True:
            try:
                events.append(await self.next(within))
            except EOFError:
                return events


@asynccontextmanager
async def watch(session: aiohttp.ClientSession, url: str, **params: str) -> AsyncIterator[WatchStream]:
    async with session.get(url, params={"watch": "true", **params}) as response:
        assert response.status == 200, await response.text()
        yield WatchStream(response)


def find_binary(name: str) -> str | None:
    """The repository's pinned binary (``.tools/bin``, the versions the project supports), else one next to
    this interpreter (the venv), else one on PATH."""
    search = os.pathsep.join(
        [str(REPO / ".tools/bin"), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    )
    return shutil.which(name, path=search)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class Cli:
    """A command-line client (kubectl, helm) run as a subprocess against the cluster under test."""

    def __init__(self, binary: str, home: Path, kubeconfig: Path, *options: str) -> None:
        self.binary = binary
        self.home = home
        self.kubeconfig = kubeconfig
        self.options = options

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_DATA_HOME": str(self.home / "data"),
        }

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        env = self.env()
        return await asyncio.create_subprocess_exec(
            self.binary,
            *self.options,
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def finish(self, process: asyncio.subprocess.Process, within: float = 30.0) -> Result:
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), within)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        assert process.returncode is not None
        return Result(process.returncode, stdout.decode(), stderr.decode())

    async def __call__(self, *args: str, check: bool = True) -> Result:
        result = await self.finish(await self.start(*args))
        if check:
            name = Path(self.binary).name
            assert result.returncode == 0, f"{name} {' '.join(args)} failed: {result.stderr}{result.stdout}"
        return result
