from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from modelops_sandbox.cluster import EmulatedCluster
from tests.emulator.helpers import Cli, Http, find_binary, widget_crd


@pytest.fixture
async def cluster() -> AsyncIterator[EmulatedCluster]:
    async with EmulatedCluster() as emulated:
        yield emulated


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def http(cluster: EmulatedCluster, session: aiohttp.ClientSession) -> Http:
    return Http(session, cluster.url)


@pytest.fixture
async def crd(cluster: EmulatedCluster) -> None:
    """The Widget CRD (example.com/v1, namespaced, status subresource, printer columns) is installed."""
    await cluster.apply(widget_crd())


def _binary(name: str) -> str:
    binary = find_binary(name)
    if binary is None:
        pytest.skip(f"{name} is not installed (looked on PATH, next to the interpreter, and in .tools/bin)")
    return binary


@pytest.fixture
def kubectl(cluster: EmulatedCluster, tmp_path: Path) -> Cli:
    """The real kubectl, configured for the emulated cluster (own HOME and discovery cache per test)."""
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
    options = (f"--cache-dir={tmp_path / 'cache'}", "--request-timeout=20s")
    return Cli(_binary("kubectl"), tmp_path, kubeconfig, *options)


@pytest.fixture
def helm(cluster: EmulatedCluster, tmp_path: Path) -> Cli:
    """The real helm, configured for the emulated cluster (own HOME and XDG directories per test)."""
    return Cli(_binary("helm"), tmp_path, cluster.write_kubeconfig(tmp_path / "kubeconfig"))
