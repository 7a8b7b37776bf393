"""Fixtures of the conformance suite: every test that talks to an API server runs against both backends,
``[emulated]`` (the sandbox's emulated cluster) and ``[real]`` (kube-apiserver + etcd), the real one being the
reference. Tests that look inside the emulator (its store, request log, kmock's DSL, its own knobs) are marked
``@pytest.mark.emulator_only("why")`` and get only the ``[emulated]`` backend. Tests of a real server's behaviour
that the emulator does not have are marked ``@pytest.mark.emulator_limitation("what")``: ``[emulated]`` is
skipped with that reason (the sandbox's known limitations), ``[real]`` asserts the behaviour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from modelops_sandbox.cluster import EmulatedCluster
from tests.conftest import REAL as REAL_TIER
from tests.conftest import mark_backend
from tests.emulator.backends import EMULATED, REAL, Backend, EmulatedBackend, emulated_backend, real_backend
from tests.emulator.helpers import Cli, Http, Scope, find_binary
from tests.support.realcluster import RealControlPlane

EMULATOR_ONLY = "emulator_only"
EMULATOR_LIMITATION = "emulator_limitation"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{EMULATOR_ONLY}(reason): the test looks inside the emulator (or is about an emulator-only feature), "
        "so it runs on the [emulated] backend only",
    )
    config.addinivalue_line(
        "markers",
        f"{EMULATOR_LIMITATION}(what): the test asserts a real API server's behaviour that the emulator does not "
        "have (a known limitation of the sandbox): [emulated] is skipped with that reason",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Both backends for every test using the cluster; only the emulated one for emulator-only tests."""
    if "cluster" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(EMULATOR_ONLY)
    if "emulator" in metafunc.fixturenames and marker is None:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} uses the emulator: mark it {EMULATOR_ONLY}")
    if marker is not None and not marker.args:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: {EMULATOR_ONLY} needs a reason")
    backends = [EMULATED] if marker is not None else [EMULATED, REAL]
    metafunc.parametrize("cluster", backends, indirect=True)


@pytest.fixture
def scope() -> Scope:
    return Scope.fresh()


@pytest.fixture
async def cluster(request: pytest.FixtureRequest, scope: Scope) -> AsyncIterator[Backend]:
    """The API server of the test: a fresh emulated cluster, or the session's real one (with a fresh namespace
    and CRD group, removed at teardown). The test's namespace exists on both."""
    if request.param == EMULATED:
        limitation = request.node.get_closest_marker(EMULATOR_LIMITATION)
        if limitation is not None:
            pytest.skip(f"known limitation of the emulated cluster: {limitation.args[0]}")
        async with emulated_backend(scope) as emulated:
            yield emulated
        return
    plane: RealControlPlane = request.getfixturevalue("real_control_plane")
    mark_backend(request, REAL_TIER)
    async with real_backend(plane, scope) as real:
        yield real


@pytest.fixture
def emulator(cluster: Backend) -> EmulatedCluster:
    """The emulated cluster itself (store, request log, kmock DSL): for emulator_only tests."""
    assert isinstance(cluster, EmulatedBackend)
    return cluster.emulated


@pytest.fixture
def session(cluster: Backend) -> aiohttp.ClientSession:
    """An HTTP session with the backend's credentials (the admin client certificate on the real server)."""
    return cluster.session


@pytest.fixture
def http(cluster: Backend) -> Http:
    return Http(cluster.session, cluster.url)


@pytest.fixture
async def crd(cluster: Backend, scope: Scope) -> None:
    """The test's Widget CRD (namespaced, status subresource, printer columns) is installed and served."""
    await cluster.install_crd(scope.crd())


def _binary(name: str) -> str:
    binary = find_binary(name)
    if binary is None:
        pytest.skip(f"{name} is not installed (looked in .tools/bin, next to the interpreter, and on PATH)")
    return binary


@pytest.fixture
def kubectl(cluster: Backend, tmp_path: Path) -> Cli:
    """The real kubectl, configured for the test's cluster and namespace (own HOME and discovery cache)."""
    kubeconfig = cluster.write_kubeconfig(tmp_path / "kubeconfig")
    options = (f"--cache-dir={tmp_path / 'cache'}", "--request-timeout=20s")
    return Cli(_binary("kubectl"), tmp_path, kubeconfig, *options)


@pytest.fixture
def helm(cluster: Backend, tmp_path: Path) -> Cli:
    """The real helm, configured for the test's cluster and namespace (own HOME and XDG directories)."""
    return Cli(_binary("helm"), tmp_path, cluster.write_kubeconfig(tmp_path / "kubeconfig"))
