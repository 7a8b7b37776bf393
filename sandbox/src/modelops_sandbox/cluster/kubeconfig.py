"""A kubeconfig pointing at the emulated cluster: plain HTTP, a fake bearer token, one context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONTEXT_NAME = "emulated"
FAKE_TOKEN = "emulated-cluster-token"  # the emulator accepts any credentials; clients like to send some


def kubeconfig(server: str, *, namespace: str = "default", name: str = CONTEXT_NAME) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": {"token": FAKE_TOKEN}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
    }


def write_kubeconfig(path: str | Path, server: str, *, namespace: str = "default") -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(kubeconfig(server, namespace=namespace), sort_keys=False))
    target.chmod(0o600)
    return target
