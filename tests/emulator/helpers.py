"""Shared helpers of the emulator conformance tests: manifests, polling, raw HTTP, watch streams, kubectl."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")

GROUP, VERSION, PLURAL = "example.com", "v1", "widgets"
API_VERSION = f"{GROUP}/{VERSION}"
WIDGETS = f"/apis/{GROUP}/{VERSION}/namespaces/default/widgets"
REPO = Path(__file__).resolve().parents[2]


def widget_crd(*, status_subresource: bool = True) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "additionalPrinterColumns": [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            {"name": "Color", "type": "string", "jsonPath": ".spec.colors[0].name", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    }
    if status_subresource:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": PLURAL,
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wdg"],
                "categories": ["gadgets"],
            },
            "versions": [version],
        },
    }


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec or {"size": 1},
    }


async def eventually(
    probe: Callable[[], T | Awaitable[T | None] | None], *, within: float = 10.0, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy (never a blind sleep)."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}; last value: {result!r}")
        await asyncio.sleep(0.02)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class Http:
    """Raw HTTP against the emulated cluster, returning status + parsed JSON (never raising on 4xx)."""

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
    """A binary on PATH, or next to this interpreter (the venv), or in the repo's ``.tools/bin``."""
    search = os.pathsep.join(
        [os.environ.get("PATH", ""), str(Path(sys.executable).parent), str(REPO / ".tools/bin")]
    )
    return shutil.which(name, path=search)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class Cli:
    """A command-line client (kubectl, helm) run as a subprocess against the emulated cluster."""

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
