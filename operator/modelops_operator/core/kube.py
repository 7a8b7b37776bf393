"""A small async Kubernetes client for what kopf does not offer: reading Secrets and immediate patches.

kopf applies a handler's patch only after the handler returns; the pending-create marker must be stored
*before* the upstream POST, so those writes go through here. It uses the same credentials kopf logged in with.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import shutil
import ssl
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import kopf


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"Kubernetes API {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class SecretData:
    values: dict[str, str]
    resource_version: str


class SecretNotFound(Exception):
    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(f"Secret '{name}' not found in namespace '{namespace}'")
        self.namespace = namespace
        self.name = name


# -------------------------------------------------------------------------------------- client certificates

KEY_DIR_PREFIX = "modelops-kube-keys-"
# The key directories of this process: removed at exit, and never taken for a crashed process's leftovers.
_LIVE_KEY_DIRS: set[str] = set()


class ClientKeyFiles:
    """Puts the client certificate and key a kubeconfig embeds where `ssl` can load them, and nowhere else.

    Python's ssl loads a certificate chain only from a file. On Linux an anonymous memory file (memfd) serves,
    so the key never reaches a filesystem. Elsewhere (or where /proc is not mounted) a private directory
    (0700, one per client, named after the process) holds the file for the moment of loading only; the
    directory is removed on close and at exit, and one left behind by a process that crashed is removed when
    the next one starts (here, at construction).
    """

    def __init__(self, root: str | None = None, *, use_memfd: bool = True) -> None:
        self._root = root or tempfile.gettempdir()
        self._use_memfd = use_memfd and hasattr(os, "memfd_create")
        self._dir: str | None = None
        remove_stale_key_dirs(self._root)

    @contextlib.contextmanager
    def path_of(self, pem: bytes) -> Iterator[str]:
        """A path from which `pem` can be read while the block lasts; nothing of it remains afterwards."""
        fd = _memory_file(pem) if self._use_memfd else None
        if fd is not None:
            try:
                yield f"/proc/self/fd/{fd}"
            finally:
                os.close(fd)
            return
        path = self._private_file(pem)
        try:
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            _LIVE_KEY_DIRS.discard(self._dir)
            self._dir = None

    def _private_file(self, pem: bytes) -> str:
        if self._dir is None:
            # Created on first need only: most operators log in with a token, and /tmp may be read-only.
            # mkdtemp makes it 0700; the pid in its name tells the next process whether its owner is gone.
            self._dir = tempfile.mkdtemp(prefix=f"{KEY_DIR_PREFIX}{os.getpid()}-", dir=self._root)
            _LIVE_KEY_DIRS.add(self._dir)
        handle, path = tempfile.mkstemp(suffix=".pem", dir=self._dir)  # 0600, created exclusively
        with os.fdopen(handle, "wb") as file:
            file.write(pem)
        return path


def _memory_file(pem: bytes) -> int | None:
    """A memfd holding `pem`, readable through /proc/self/fd; None where that cannot be had."""
    try:
        fd = os.memfd_create("modelops-kube-client", os.MFD_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "wb", closefd=False) as file:
        file.write(pem)
    if not os.path.exists(f"/proc/self/fd/{fd}"):  # no /proc here: ssl could not open it
        os.close(fd)
        return None
    return fd


def remove_stale_key_dirs(root: str) -> None:
    """Remove the key directories of processes that are gone (crashed before they could clean up).

    A directory whose pid is this process's, but which it does not hold, is stale too: a restarted container
    gets the pid its predecessor had, and may share its /tmp (an emptyDir). Other users' entries, symlinks
    and directories of live processes are left alone.
    """
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        pid = _key_dir_pid(entry.name)
        if pid is None or entry.path in _LIVE_KEY_DIRS:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        if pid == os.getpid() or not _alive(pid):
            shutil.rmtree(entry.path, ignore_errors=True)


def _key_dir_pid(name: str) -> int | None:
    if not name.startswith(KEY_DIR_PREFIX):
        return None
    pid = name[len(KEY_DIR_PREFIX) :].partition("-")[0]
    return int(pid) if pid.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@atexit.register
def _remove_live_key_dirs() -> None:
    for path in list(_LIVE_KEY_DIRS):
        shutil.rmtree(path, ignore_errors=True)
    _LIVE_KEY_DIRS.clear()


def _pem(data: str | bytes) -> bytes:
    """Kubeconfig embeds PEM base64-encoded (kopf passes it on as it is); PEM itself is accepted too."""
    raw = data.encode() if isinstance(data, str) else data
    return raw if raw.lstrip().startswith(b"-----") else base64.b64decode(raw)


FilePath = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def _material(data: str | bytes | None, path: FilePath | None) -> bytes:
    """PEM from the embedded data, else from the file; empty when there is neither."""
    if data:
        return _pem(data)
    if path:
        with open(path, "rb") as file:
            return file.read()
    return b""


def _load_client_certificate(
    context: ssl.SSLContext, info: kopf.ConnectionInfo, keys: ClientKeyFiles
) -> None:
    cert_path, key_path = info.certificate_path, info.private_key_path
    if not (info.certificate_data or info.private_key_data):
        if cert_path:  # files already: ssl reads them where they are
            context.load_cert_chain(os.fsdecode(cert_path), os.fsdecode(key_path) if key_path else None)
        return
    cert = _material(info.certificate_data, cert_path)
    if not cert:
        return  # a key without a certificate authenticates nothing
    # One PEM with the chain and the key: ssl reads both from it when given no key file.
    key = _material(info.private_key_data, key_path)
    with keys.path_of(cert + b"\n" + key) as path:
        context.load_cert_chain(path)


def _ssl_context(info: kopf.ConnectionInfo, keys: ClientKeyFiles) -> ssl.SSLContext | bool:
    if info.insecure:
        return False
    context = ssl.create_default_context()
    if info.ca_path:
        context.load_verify_locations(cafile=os.fsdecode(info.ca_path))
    elif info.ca_data:
        context.load_verify_locations(cadata=_pem(info.ca_data).decode())
    _load_client_certificate(context, info, keys)
    return context


class KubeClient:
    """Talks to the API server kopf is connected to. `connection` is read on each (re)connect.

    On aiohttp, as kopf itself: under load (thousands of resources) httpx's connection pool spent most of the
    operator's CPU rescanning its connections for every request, measured with py-spy; aiohttp's connector
    does not. At most `concurrency` requests are in flight; the rest wait their turn here.
    """

    def __init__(
        self,
        connection: Callable[[], kopf.ConnectionInfo | None],
        timeout: float = 30.0,
        *,
        keys: ClientKeyFiles | None = None,
        concurrency: int = 32,
    ) -> None:
        self._connection = connection
        self._timeout = timeout
        self._keys = keys or ClientKeyFiles()
        self._concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None
        self._for: kopf.ConnectionInfo | None = None
        self._retired: list[aiohttp.ClientSession] = []

    def _http(self) -> aiohttp.ClientSession:
        info = self._connection()
        if info is None:
            raise RuntimeError("the operator has not logged in to Kubernetes yet")
        if self._session is None or info is not self._for:
            headers = {"User-Agent": "modelops-operator"}
            auth: aiohttp.BasicAuth | None = None
            if info.token:
                headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
            elif info.username and info.password:
                auth = aiohttp.BasicAuth(info.username, info.password)
            if self._session is not None:
                self._retired.append(self._session)  # closed in aclose(); requests may still be in flight
            self._session = aiohttp.ClientSession(
                base_url=info.server.rstrip("/") + "/",
                headers=headers,
                auth=auth,
                connector=aiohttp.TCPConnector(
                    ssl=_ssl_context(info, self._keys),
                    limit=self._concurrency,
                    limit_per_host=self._concurrency,
                ),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            )
            self._for = info
        return self._session

    async def aclose(self) -> None:
        for session in self._retired:
            await session.close()
        self._retired.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._keys.close()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        async with self._http().request(method, path.lstrip("/"), **kwargs) as response:
            text = await response.text()
            if response.status >= 400:
                try:
                    body = json.loads(text)
                    reason, message = str(body.get("reason", "")), str(body.get("message", text))
                except (ValueError, AttributeError):
                    reason, message = "", text[:300]
                raise KubeError(response.status, reason, message)
        result: dict[str, Any] = json.loads(text)
        return result

    async def read_secret(self, namespace: str, name: str) -> SecretData:
        try:
            secret = await self._call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except KubeError as error:
            if error.status == 404:
                raise SecretNotFound(namespace, name) from None
            raise
        data: dict[str, str] = {}
        for key, value in (secret.get("data") or {}).items():
            data[key] = base64.b64decode(value).decode("utf-8", errors="replace")
        for key, value in (secret.get("stringData") or {}).items():
            data[key] = str(value)
        return SecretData(
            values=data, resource_version=str((secret.get("metadata") or {}).get("resourceVersion"))
        )

    async def namespace_terminating(self, namespace: str) -> bool:
        """Whether the namespace is being deleted (or already gone): nothing can be created in it any more."""
        try:
            found = await self._call("GET", f"/api/v1/namespaces/{namespace}")
        except KubeError as error:
            if error.status == 404:
                return True
            raise
        return bool((found.get("metadata") or {}).get("deletionTimestamp")) or (
            (found.get("status") or {}).get("phase") == "Terminating"
        )

    async def merge_patch(
        self,
        path: str,
        patch: dict[str, Any],
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return await self._call(
            "PATCH",
            f"{path}/{subresource}" if subresource else path,
            data=json.dumps(patch),
            headers={"Content-Type": "application/merge-patch+json"},
        )
