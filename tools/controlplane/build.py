"""Build the real control plane (kube-apiserver, kube-controller-manager, etcd) once, into a per-user cache.

    python tools/controlplane/build.py            # build if missing, print the bin directory
    python tools/controlplane/build.py --check    # exit 1 if not built yet (no build)

The versions come from this directory's go.mod (`k8s.io/kubernetes`, `go.etcd.io/etcd/server/v3`) and the Go
toolchain; the cache directory is keyed by all three, so a version bump builds anew and nothing else does.
A cold build takes many minutes on 2 cores: progress is printed while it runs. Concurrent invocations (test
workers) wait for each other on a lock instead of building twice. Binaries never enter the repository.

Exit codes: 0 built (or already there), 1 not built (--check), 3 no Go toolchain, 4 the build failed.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parent
BINARIES = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "etcd": "go.etcd.io/etcd/server/v3",
}
STAMP = "versions.json"


@dataclass(frozen=True)
class Versions:
    kubernetes: str
    etcd: str
    go: str

    @property
    def key(self) -> str:
        return f"controlplane-{self.kubernetes}-etcd{self.etcd.lstrip('v')}-{self.go}"


def required_version(module: str) -> str:
    text = (MODULE_DIR / "go.mod").read_text()
    match = re.search(rf"^\s*{re.escape(module)}\s+(v\S+)", text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"{module} is not required in {MODULE_DIR / 'go.mod'}")
    return match.group(1)


def go_binary() -> str | None:
    return shutil.which("go")


def go_version(go: str) -> str:
    return subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, check=True, env=_go_env()
    ).stdout.strip()


def versions(go: str) -> Versions:
    return Versions(
        kubernetes=required_version("k8s.io/kubernetes"),
        etcd=required_version("go.etcd.io/etcd/server/v3"),
        go=go_version(go),
    )


def cache_root() -> Path:
    explicit = os.environ.get("MODELOPS_CONTROLPLANE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelops-operator"


def bin_dir(found: Versions) -> Path:
    return cache_root() / found.key / "bin"


def is_built(target: Path) -> bool:
    return (target / STAMP).is_file() and all(os.access(target / name, os.X_OK) for name in BINARIES)


def _go_env() -> dict[str, str]:
    # GOTOOLCHAIN=local: never download another toolchain behind the user's back; GOFLAGS clean so a user's
    # -mod=vendor or similar cannot change what is built.
    return {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"}


def _ldflags(found: Versions, binary: str) -> str:
    if binary == "etcd":
        return "-s -w"
    major, minor = found.kubernetes.lstrip("v").split(".")[:2]
    # Without these /version says v0.0.0-master+$Format:%H$, which Helm's kubeVersion checks and kubectl's
    # version-skew warnings read.
    return (
        "-s -w"
        f" -X k8s.io/component-base/version.gitVersion={found.kubernetes}"
        f" -X k8s.io/component-base/version.gitMajor={major}"
        f" -X k8s.io/component-base/version.gitMinor={minor}"
        " -X k8s.io/component-base/version.gitTreeState=clean"
    )


def _build_one(go: str, found: Versions, binary: str, into: Path, say: TextSink) -> None:
    package = BINARIES[binary]
    started = time.monotonic()
    compiled: list[str] = []
    command = [
        go,
        "build",
        "-v",
        "-trimpath",
        "-ldflags",
        _ldflags(found, binary),
        "-o",
        str(into / binary),
        package,
    ]
    process = subprocess.Popen(
        command, cwd=MODULE_DIR, env=_go_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    errors: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            line = line.rstrip()
            # `go build -v` names each package as it compiles it; anything else is a diagnostic.
            if re.fullmatch(r"[\w.\-/]+", line):
                compiled.append(line)
            else:
                errors.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while process.poll() is None:
        reader.join(timeout=15)
        if process.poll() is None:
            latest = compiled[-1] if compiled else "(resolving)"
            say(
                f"  {binary}: {len(compiled)} packages compiled, {time.monotonic() - started:.0f}s ({latest})"
            )
    reader.join()
    if process.returncode != 0:
        say("\n".join(errors[-40:]))
        raise BuildFailed(f"go build {package} failed with exit code {process.returncode}")
    say(f"  {binary}: done in {time.monotonic() - started:.0f}s ({len(compiled)} packages compiled)")


class BuildFailed(Exception):
    pass


class TextSink:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr, flush=True)


def ensure(go: str, *, say: TextSink) -> Path:
    found = versions(go)
    target = bin_dir(found)
    if is_built(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same versions right now
        if is_built(target):
            return target
        say(
            f"Building the control plane ({found.kubernetes}, etcd {found.etcd}, {found.go}) into {target}."
            " A cold build takes 15-30 minutes on 2 cores; later runs reuse it."
        )
        staging = target.parent / f"staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        started = time.monotonic()
        try:
            for binary in BINARIES:
                _build_one(go, found, binary, staging, say)
            (staging / STAMP).write_text(json.dumps(found.__dict__, indent=2) + "\n")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        sizes = ", ".join(f"{name} {(target / name).stat().st_size / 1e6:.0f} MB" for name in BINARIES)
        say(f"Control plane built in {time.monotonic() - started:.0f}s: {sizes}.")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report whether the binaries are built")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    go = go_binary()
    if go is None:
        print(
            "Go is not installed: the real control plane cannot be built (https://go.dev/dl/, 1.26 or later).",
            file=sys.stderr,
        )
        return 3
    say = TextSink(args.quiet)
    if args.check:
        target = bin_dir(versions(go))
        if not is_built(target):
            print(f"not built: {target}", file=sys.stderr)
            return 1
        print(target)
        return 0
    try:
        target = ensure(go, say=say)
    except (BuildFailed, subprocess.CalledProcessError) as error:
        print(f"the control plane build failed: {error}", file=sys.stderr)
        return 4
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
