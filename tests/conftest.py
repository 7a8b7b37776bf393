"""Session-wide test infrastructure: the real control plane tier, and the report of whether it ran.

Tests that need a real kube-apiserver use the `real_control_plane` fixture (one per test session, that is per
xdist worker). Without Go the tier is skipped, loudly, and the integration tests run on the emulated cluster
instead; with MODELOPS_REQUIRE_CONTROLPLANE=1 (CI) a missing tier fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.controlplane import ControlPlane, ControlPlaneUnavailable, binaries
from tests.support.realcluster import OPERATOR_NAMESPACE, Identity, NamespacePool, RealControlPlane

REQUIRE_ENV = "MODELOPS_REQUIRE_CONTROLPLANE"
UNAVAILABLE = "real control plane unavailable"
REAL, FALLBACK = "real-control-plane", "emulated-fallback"


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


@pytest.fixture(scope="session")
def real_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealControlPlane]:
    """etcd + kube-apiserver + kube-controller-manager, with the chart (CRDs, RBAC) installed by helm."""
    try:
        bin_dir = binaries()
    except ControlPlaneUnavailable as error:
        if required():
            pytest.fail(f"{UNAVAILABLE} and {REQUIRE_ENV}=1: {error}", pytrace=False)
        pytest.skip(f"{UNAVAILABLE}: {error}")
    control_plane = ControlPlane(bin_dir).start()
    try:
        yield RealControlPlane(control_plane, home=tmp_path_factory.mktemp("real-cluster-home"))
    finally:
        control_plane.stop()


# Namespaces watched by the session's release (one control plane per xdist worker); each real-cluster test
# takes a fresh one. About 200 tests need one; a worker gets its share, with room (each costs a Role at setup).
POOL_SIZE = max(60, 260 // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))


@pytest.fixture(scope="session")
def session_release(real_control_plane: RealControlPlane) -> tuple[Identity, NamespacePool]:
    """The chart (CRDs and RBAC) installed by helm in its per-namespace scope over a pool of namespaces; the
    operator runs as the release's ServiceAccount, never as admin, one namespace per test."""
    names = [f"it-{index:03d}" for index in range(POOL_SIZE)]
    identity = real_control_plane.install_for_namespaces("modelops", OPERATOR_NAMESPACE, names)
    return identity, NamespacePool(names)


@pytest.fixture(scope="module")
def isolated_control_plane(
    real_control_plane: RealControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealControlPlane]:
    """A second control plane of its own, for tests that disturb the whole cluster (an operator watching every
    namespace, an API server restart) and must not meet the other tests' namespaces."""
    control_plane = ControlPlane(real_control_plane.control_plane.bin_dir).start()
    try:
        yield RealControlPlane(control_plane, home=tmp_path_factory.mktemp("isolated-cluster-home"))
    finally:
        control_plane.stop()


def mark_backend(request: pytest.FixtureRequest, backend: str) -> None:
    request.node.user_properties.append(("backend", backend))


# ------------------------------------------------------------------------------------ the tier's own report


class TierReport:
    """Counts, on the xdist controller (or the only process), what ran against the real control plane."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.passed_real = 0
        self.fallback = 0
        self.skipped_reasons: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        backends = {value for key, value in report.user_properties if key == "backend"}
        if report.when == "call" and report.passed:
            self.passed_real += REAL in backends
            self.fallback += FALLBACK in backends
        if report.skipped and UNAVAILABLE in str(report.longrepr):
            longrepr = report.longrepr
            self.skipped_reasons.add(str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        write = terminalreporter.write_line
        if self.passed_real:
            write(
                f"real control plane: {self.passed_real} tests passed against kube-apiserver + etcd",
                green=True,
            )
        if self.skipped_reasons or self.fallback:
            terminalreporter.write_sep("!", "REAL CONTROL PLANE TIER SKIPPED", red=True, bold=True)
            for reason in sorted(self.skipped_reasons):
                write(f"  {reason}", red=True)
            if self.fallback:
                write(
                    f"  {self.fallback} integration tests ran on the emulated cluster instead.", yellow=True
                )
        if self.failed_requirement():
            write(
                f"{REQUIRE_ENV}=1 but no test passed against the real control plane: failing the run.",
                red=True,
            )

    def failed_requirement(self) -> bool:
        return required() and self.passed_real == 0

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.failed_requirement() and session.testscollected:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller sees every worker's reports
        config.pluginmanager.register(TierReport(config), "modelops-tier-report")
