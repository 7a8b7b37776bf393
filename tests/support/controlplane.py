"""A real Kubernetes control plane for the tests, run the way controller-runtime's envtest runs one.

etcd, kube-apiserver (RBAC on, throwaway CAs, an admin client certificate, ServiceAccount token signing, an
audit log) and kube-controller-manager (namespace and garbage-collector controllers only), built from Go
modules by ``tools/controlplane/build.py``, on free loopback ports.

Nothing outlives the test session: the processes are stopped (and their directory removed) at teardown, and
should the test process itself be killed, the kernel kills them too (``PR_SET_PDEATHSIG``); a directory left
behind by a killed session is removed by the next one.
"""

from __future__ import annotations

import ctypes
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tools" / "controlplane" / "build.py"
DIR_PREFIX = "modelops-controlplane-"
START_TIMEOUT = 60.0  # envtest allows 20 s; a loaded 2-core machine needs more for the first start

AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    # Who did what to which resource, and the answer: enough to prove which RBAC rules the operator uses.
    "rules": [{"level": "Metadata"}],
}


class ControlPlaneUnavailable(Exception):
    """The binaries are not there and cannot be built here (no Go, or the build failed)."""


def binaries(*, build: bool = True) -> Path:
    """The directory of the three binaries, building them first if needed (a no-op when cached)."""
    if shutil.which("go") is None:
        raise ControlPlaneUnavailable(
            "Go is not installed, so the real control plane cannot be built (see ../shared/CONTROLPLANE.md)"
        )
    command = [sys.executable, str(BUILD_SCRIPT)] + ([] if build else ["--check"])
    # The build prints its progress on stderr: let a person running pytest see why it takes minutes.
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=None, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneUnavailable(f"{BUILD_SCRIPT.name} exited with {result.returncode}")
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# ----------------------------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Issued:
    cert_pem: bytes
    key_pem: bytes


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class CertificateAuthority:
    """A throwaway CA that signs the serving certificate and the client certificates of one run."""

    def __init__(self, name: str) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                    key_encipherment=False, data_encipherment=False, key_agreement=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )  # fmt: skip
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        common_name: str,
        *,
        organizations: tuple[str, ...] = (),
        server_names: tuple[str, ...] = (),
        server_ips: tuple[str, ...] = (),
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
        now = datetime.datetime.now(datetime.UTC)
        server = bool(server_names or server_ips)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.ExtendedKeyUsage(
                    [
                        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
                        if server
                        else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
                    ]
                ),
                critical=False,
            )
        )
        if server:
            names: list[x509.GeneralName] = [x509.DNSName(name) for name in server_names]
            names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(cert_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem=_pem_key(key))


# ------------------------------------------------------------------------------------------------- processes


# Loaded in the parent: the child may only make the system call between fork and exec (no dlopen there).
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child, before exec: the kernel sends SIGKILL when the test process dies, however it dies."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def stop_gracefully(popen: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds if it is still running."""
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(10)


@dataclass
class Process:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                # Its own process group: Ctrl-C in the terminal reaches pytest, which stops these in order.
                process_group=0, preexec_fn=die_with_parent,
            )  # fmt: skip

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        if self.popen is None:
            return
        stop_gracefully(self.popen, grace)
        self.popen = None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class ControlPlane:
    """One etcd + kube-apiserver + kube-controller-manager. ``start()`` blocks until the API is ready."""

    bin_dir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-")))
    apiserver_flags: tuple[str, ...] = ()
    etcd_port: int = field(default_factory=free_port)
    apiserver_port: int = field(default_factory=free_port)
    controller_manager_port: int = field(default_factory=free_port)
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.log"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "admin.kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.root / "pki" / "ca.crt"

    @property
    def admin_cert_files(self) -> tuple[Path, Path]:
        return self.root / "pki" / "admin.crt", self.root / "pki" / "admin.key"

    # -- setup ------------------------------------------------------------------------------------------------

    def _write_pki(self) -> None:
        pki = self.root / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority("modelops-test-ca")
        serving = ca.issue(
            "kube-apiserver",
            server_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            server_ips=("127.0.0.1", "10.0.0.1"),
        )
        admin = ca.issue("modelops-test-admin", organizations=("system:masters",))
        # ServiceAccount tokens are signed with this key (RS256: what every client library verifies).
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        files = {
            "ca.crt": ca.cert_pem,
            "apiserver.crt": serving.cert_pem,
            "apiserver.key": serving.key_pem,
            "admin.crt": admin.cert_pem,
            "admin.key": admin.key_pem,
            "sa.key": _pem_key(sa_key),
            "sa.pub": sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        }
        for name, content in files.items():
            path = pki / name
            path.write_bytes(content)
            path.chmod(0o600)
        (self.root / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY))
        self.admin_kubeconfig.write_text(
            yaml.safe_dump(
                kubeconfig(
                    self.url,
                    self.ca_file,
                    user={"client-certificate": str(pki / "admin.crt"), "client-key": str(pki / "admin.key")},
                )
            )
        )

    def _etcd(self) -> Process:
        return Process(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                f"--data-dir={self.root / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                "--listen-peer-urls=http://localhost:0",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            self.root / "etcd.log",
        )

    def _apiserver(self) -> Process:
        pki = self.root / "pki"
        return Process(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={self.etcd_url}",
                f"--secure-port={self.apiserver_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                # Loopback cannot be a Service endpoint; nothing here needs the kubernetes Service to resolve.
                "--endpoint-reconciler-type=none",
                f"--cert-dir={self.root / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--authorization-mode=RBAC",
                "--disable-admission-plugins=ServiceAccount",
                f"--service-account-issuer=https://127.0.0.1:{self.apiserver_port}/",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--audit-policy-file={self.root / 'audit-policy.yaml'}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                "--profiling=false",
                *self.apiserver_flags,
            ],
            self.root / "kube-apiserver.log",
        )

    def _controller_manager(self) -> Process:
        return Process(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                f"--kubeconfig={self.admin_kubeconfig}",
                "--controllers=namespace-controller,garbage-collector-controller",
                "--leader-elect=false",
                "--use-service-account-credentials=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={self.controller_manager_port}",
                f"--cert-dir={self.root / 'kcm-certs'}",
            ],
            self.root / "kube-controller-manager.log",
        )

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        remove_stale_directories()
        self._write_pki()
        try:
            self._start("etcd", self._etcd(), self._etcd_ready)
            self._start("kube-apiserver", self._apiserver(), self._apiserver_ready)
            self._start("kube-controller-manager", self._controller_manager(), lambda: True)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, name: str, process: Process, ready: Callable[[], bool]) -> None:
        self.processes[name] = process
        process.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if not process.alive():
                raise RuntimeError(f"{name} exited during startup:\n{process.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} was not ready within {START_TIMEOUT:.0f}s:\n{process.tail()}")
            time.sleep(0.1)  # a blocking wait in a sync session fixture, polling with a deadline

    def _etcd_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as response:
                return bool(json.loads(response.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def admin_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        cert, key = self.admin_cert_files
        context.load_cert_chain(str(cert), str(key))
        return context

    def _apiserver_ready(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.url}/readyz", timeout=2, context=self.admin_ssl_context()
            ) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def restart_apiserver(self) -> None:
        """Stop kube-apiserver and start it again on the same port, state kept in etcd (an upgrade, a crash)."""
        self.processes["kube-apiserver"].stop()
        self._start("kube-apiserver", self._apiserver(), self._apiserver_ready)

    def stop_apiserver(self, *, crash: bool = False) -> None:
        """Stop kube-apiserver: gracefully, or (`crash`) with SIGKILL, as a node failure would."""
        process = self.processes["kube-apiserver"]
        if crash and process.popen is not None:
            process.popen.kill()
        process.stop()

    def start_apiserver(self) -> None:
        self._start("kube-apiserver", self._apiserver(), self._apiserver_ready)

    def etcd_call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """etcd's JSON gateway (``/v3/...``): e.g. ``kv/range``, ``kv/compaction``."""
        request = urllib.request.Request(
            f"{self.etcd_url}/v3/{method}", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def compact_etcd(self) -> int:
        """Compact etcd's history up to now: older resourceVersions are gone (watches from them get 410)."""
        revision = int(self.etcd_call("kv/range", {"key": "Lw=="})["header"]["revision"])  # key "/"
        self.etcd_call("kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    def stop(self) -> None:
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            process = self.processes.pop(name, None)
            if process is not None:
                process.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def kubeconfig(
    server: str, ca_file: Path, *, user: dict[str, str], namespace: str = "default"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "real", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "user", "user": user}],
        "contexts": [
            {"name": "real", "context": {"cluster": "real", "user": "user", "namespace": namespace}}
        ],
        "current-context": "real",
    }


def remove_stale_directories() -> None:
    """Directories of sessions that were killed (their pid is gone): the kernel killed their processes."""
    for path in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        try:
            pid = int(path.name[len(DIR_PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
