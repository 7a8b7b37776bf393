"""The operator's own Kubernetes client and a kubeconfig that embeds a client certificate and key: the key is
loaded (a real mutual-TLS handshake proves it) and no key material outlives the client, nor the process, nor
a process that crashed."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import ssl
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from modelops_operator.core import kube
from modelops_operator.core.kube import KubeClient

# The name the key directories carry (what a later process looks for).
PREFIX = "modelops-kube-keys-"
CLIENT_NAME = "modelops-operator"


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    server_cert_pem: bytes
    server_key_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes

    def connection_info(self) -> kopf.ConnectionInfo:
        """As kopf reads a kubeconfig with certificate-authority-data, client-certificate-data and
        client-key-data: base64 of the PEM."""
        return kopf.ConnectionInfo(
            server="https://127.0.0.1:6443",
            ca_data=base64.b64encode(self.ca_pem),
            certificate_data=base64.b64encode(self.client_cert_pem),
            private_key_data=base64.b64encode(self.client_key_pem),
        )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca_key, server_key, client_key = _key(), _key(), _key()
    ca = _certificate(
        "test-ca", ca_key, None, ca_key, [(x509.BasicConstraints(ca=True, path_length=None), True)]
    )
    server = _certificate(
        "apiserver",
        server_key,
        ca,
        ca_key,
        [(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)],
    )
    client = _certificate(CLIENT_NAME, client_key, ca, ca_key, [])
    pem = serialization.Encoding.PEM
    return Pki(
        ca_pem=ca.public_bytes(pem),
        server_cert_pem=server.public_bytes(pem),
        server_key_pem=_pem_key(server_key),
        client_cert_pem=client.public_bytes(pem),
        client_key_pem=_pem_key(client_key),
    )


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory every temporary file of the process goes to during the test."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.fixture(params=["memfd", "private-directory"])
def storage(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the key can reach ssl: a memory file (Linux), or the private directory (elsewhere)."""
    if request.param == "memfd":
        if not hasattr(os, "memfd_create"):
            pytest.skip("no memfd_create on this platform")
    else:
        monkeypatch.delattr(os, "memfd_create", raising=False)
    return str(request.param)


@pytest.fixture
def verify_contexts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The `ssl` each connector of the operator's Kubernetes client is built with."""
    seen: list[Any] = []
    real = aiohttp.TCPConnector

    def recording(*args: Any, **kwargs: Any) -> aiohttp.TCPConnector:
        seen.append(kwargs.get("ssl"))
        return real(*args, **kwargs)

    monkeypatch.setattr(kube.aiohttp, "TCPConnector", recording)
    return seen


def files_holding(root: Path, secret: bytes) -> list[Path]:
    """Every file under `root` that holds `secret` (the key's PEM)."""
    return [path for path in root.rglob("*") if path.is_file() and secret.strip() in path.read_bytes()]


def key_dirs(root: Path) -> list[Path]:
    return sorted(path for path in root.iterdir() if path.name.startswith(PREFIX))


def mutual_tls_handshake(client_context: ssl.SSLContext, pki: Pki, tmp_path: Path) -> dict[str, Any]:
    """A TLS handshake in memory against a server that requires a client certificate from the CA; returns
    the client certificate the server saw."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_files = tmp_path / "server-pki"  # the test's own server, not the client's key
    server_files.mkdir()
    (server_files / "server.pem").write_bytes(pki.server_cert_pem + pki.server_key_pem)
    server_context.load_cert_chain(server_files / "server.pem")
    server_context.load_verify_locations(cadata=pki.ca_pem.decode())
    server_context.verify_mode = ssl.CERT_REQUIRED
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    client = client_context.wrap_bio(pipes[0], pipes[1], server_hostname="127.0.0.1")
    server = server_context.wrap_bio(pipes[1], pipes[0], server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, endpoint in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    endpoint.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        if all(done.values()):
            break
    assert all(done.values()), "the handshake did not complete"
    peer = server.getpeercert()
    assert peer is not None
    return peer


def subject_names(peer: dict[str, Any]) -> list[str]:
    return [value for rdn in peer["subject"] for key, value in rdn if key == "commonName"]


async def test_embedded_key_is_loaded_and_leaves_nothing_on_disk(
    pki: Pki, tmp: Path, storage: str, verify_contexts: list[Any]
) -> None:
    info = pki.connection_info()
    client = KubeClient(lambda: info)
    client._http()  # builds the SSL context, as the first request does
    context = verify_contexts[-1]
    assert isinstance(context, ssl.SSLContext)
    # The key really is in the context: the server accepts it as the client's identity.
    assert subject_names(mutual_tls_handshake(context, pki, tmp)) == [CLIENT_NAME]
    # Loaded: nothing holds the key any more, not even while the client lives.
    assert files_holding(tmp, pki.client_key_pem) == []
    await client.aclose()
    assert files_holding(tmp, pki.client_key_pem) == []
    assert key_dirs(tmp) == []


async def test_the_private_directory_is_private_and_removed_on_close(pki: Pki, tmp: Path) -> None:
    keys = kube.ClientKeyFiles(str(tmp), use_memfd=False)
    info = pki.connection_info()
    client = KubeClient(lambda: info, keys=keys)
    client._http()
    [directory] = key_dirs(tmp)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert list(directory.iterdir()) == []  # the file lived only while ssl read it
    await client.aclose()
    assert key_dirs(tmp) == []


def test_a_crashed_process_directory_is_removed_at_the_next_start(pki: Pki, tmp: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    crashed = tmp / f"{PREFIX}{int(gone.stdout)}-a1b2c3"  # its process is gone
    same_pid = tmp / f"{PREFIX}{os.getpid()}-d4e5f6"  # a restarted container's predecessor had our pid
    running = tmp / f"{PREFIX}{os.getppid()}-g7h8i9"  # a process still running (our parent)
    unrelated = tmp / "someone-elses-dir"
    for directory in (crashed, same_pid, running, unrelated):
        directory.mkdir(mode=0o700)
        (directory / "client.pem").write_bytes(pki.client_cert_pem + pki.client_key_pem)

    KubeClient(pki.connection_info)  # the next start

    assert not crashed.exists() and not same_pid.exists()
    assert running.exists() and unrelated.exists()
    assert kube.KEY_DIR_PREFIX == PREFIX


def test_nothing_is_left_when_the_process_exits_without_closing(pki: Pki, tmp_path: Path) -> None:
    """The private directory is removed at exit (atexit) even when the client is never closed."""
    script = """
import asyncio, base64, os, sys, kopf
os.__dict__.pop("memfd_create", None)  # the private directory, as on platforms without memfd
from modelops_operator.core.kube import KubeClient
info = kopf.ConnectionInfo(
    server="https://127.0.0.1:6443",
    certificate_data=os.environ["CERT"],
    private_key_data=os.environ["KEY"],
)
async def start() -> None:
    KubeClient(lambda: info)._http()  # never closed
asyncio.run(start())
print(sorted(os.listdir(sys.argv[1])))
"""
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "CERT": base64.b64encode(pki.client_cert_pem).decode(),
        "KEY": base64.b64encode(pki.client_key_pem).decode(),
    }
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert files_holding(tmp_path, pki.client_key_pem) == []
    assert key_dirs(tmp_path) == []
    assert PREFIX in run.stdout  # the directory did exist while the process ran
