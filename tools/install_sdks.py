"""Install the vendors' official Python SDKs, each into its own directory, for the SDK contract tests.

Two releases of `twilio` are needed (8.12.0 is the last with Autopilot, 9.10.9 the last with Assistants v1
Tools), and they cannot share one environment: each SDK goes with its dependencies into
`.tools/sdk/<package>-<version>/` with `pip install --target`, and the tests put that directory on the
PYTHONPATH of a driver subprocess. A stamp file per directory makes a second run a no-op.

Usage: python tools/install_sdks.py [REPO_ROOT | SDK_DIR]
  REPO_ROOT (a directory holding pyproject.toml, the default: the current directory) installs into
  REPO_ROOT/.tools/sdk; any other directory is taken as the SDK directory itself.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

# Exact pins: the contract tests hold the fakes to these very releases.
SDKS: tuple[tuple[str, str], ...] = (
    ("twilio", "8.12.0"),
    ("twilio", "9.10.9"),
    ("datarobot", "3.20.0"),
)
STAMP = ".installed"


def sdk_root(argument: str) -> Path:
    """The directory that holds one sub-directory per SDK."""
    path = Path(argument)
    if (path / "pyproject.toml").is_file():
        return path / ".tools" / "sdk"
    return path


def install(root: Path, package: str, version: str) -> bool:
    """Install ``package==version`` into ``root/<package>-<version>``; False when it was already there."""
    target = root / f"{package}-{version}"
    stamp = target / STAMP
    if stamp.is_file():
        return False
    # A directory without a stamp is a half-finished install (interrupted): start it afresh.
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",  # the drivers compile what they import; saves time and space here
        "--target",
        str(target),
        f"{package}=={version}",
    ]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"installing {package}=={version} into {target} failed")
    stamp.write_text(f"{package}=={version}\n")
    return True


def main(argument: str) -> None:
    root = sdk_root(argument)
    for package, version in SDKS:
        if install(root, package, version):
            print(f"installed {package}=={version} into {root / f'{package}-{version}'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
