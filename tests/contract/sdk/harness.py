"""Running the vendors' official SDKs against the fakes: where the SDKs are, and how a driver is run.

Each SDK lives in its own directory made by ``tools/install_sdks.py`` (two releases of ``twilio`` cannot share
an environment). A test starts a fake on its own event loop and runs a driver script from ``drivers/`` in a
subprocess: the venv's interpreter with ``-S`` (no site-packages), so that the SDK directory on PYTHONPATH is
the only code beyond the standard library the driver can import. The driver reads its input from the
``SDK_DRIVER_INPUT`` environment variable (JSON) and prints one JSON document on its last line of stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from modelops_sandbox.fakes import RecordedRequest

REPO = Path(__file__).resolve().parents[3]
DRIVERS = Path(__file__).resolve().parent / "drivers"
INPUT_ENV = "SDK_DRIVER_INPUT"
ROOT_ENV = "MODELOPS_SDK_ROOT"
"""Overrides where the SDK directories are (``tools/install_sdks.py DIR`` installs elsewhere)."""
SKIP_MESSAGE = "run `python tools/install_sdks.py` (make does it)"
STAMP = ".installed"  # written by tools/install_sdks.py once an SDK is completely installed

# The directory names tools/install_sdks.py gives the pinned releases.
TWILIO_AUTOPILOT_SDK = "twilio-8.12.0"  # the last release of twilio with Autopilot
TWILIO_ASSISTANTS_SDK = "twilio-9.10.9"  # the last release of twilio with Assistants v1 Tools
DATAROBOT_SDK = "datarobot-3.20.0"

DRIVER_TIMEOUT = 90.0
"""Seconds a driver may run: the DataRobot client sleeps 5 s between polls, imports take a few seconds."""


def sdk_dir(name: str) -> Path:
    """The directory of an installed SDK; skips the test when it is not installed."""
    root = Path(os.environ.get(ROOT_ENV) or REPO / ".tools" / "sdk")
    path = root / name
    if not (path / STAMP).is_file():
        pytest.skip(SKIP_MESSAGE)
    return path


def _driver_env(sdk: Path, params: Mapping[str, Any], home: str) -> dict[str, str]:
    # A minimal environment: no TWILIO_*/DATAROBOT_* settings or proxies of the caller leak into the SDK.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,  # the DataRobot client looks for a config file under $HOME
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(sdk),
        "PYTHONWARNINGS": "ignore",  # SDK deprecation warnings are noise on stderr
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        INPUT_ENV: json.dumps(dict(params)),
    }


async def run_driver(
    driver: str,
    scenario: str,
    sdk: Path,
    params: Mapping[str, Any],
    timeout: float = DRIVER_TIMEOUT,  # noqa: ASYNC109
) -> dict[str, Any]:
    """Run ``drivers/<driver>.py <scenario>`` with ``sdk`` importable and return the JSON it printed.

    The fakes answer on the caller's event loop, so the subprocess is awaited, never waited for blocking.
    """
    with tempfile.TemporaryDirectory(prefix="sdk-driver-home-") as home:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-S",
            str(DRIVERS / f"{driver}.py"),
            scenario,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_driver_env(sdk, params, home),
        )
        try:
            async with asyncio.timeout(timeout):
                out, err = await process.communicate()
        except TimeoutError:
            process.kill()
            out, err = await process.communicate()
            raise AssertionError(
                f"driver {driver} {scenario} did not finish within {timeout}s\n{err.decode(errors='replace')}"
            ) from None
    stderr = err.decode(errors="replace")
    if process.returncode != 0:
        raise AssertionError(f"driver {driver} {scenario} exited with {process.returncode}:\n{stderr}")
    lines = [line for line in out.decode().splitlines() if line.strip()]
    if not lines:
        raise AssertionError(f"driver {driver} {scenario} printed nothing:\n{stderr}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def url_of(fake_url: str, request: RecordedRequest) -> str:
    """The absolute URL a recorded request was sent to."""
    query = f"?{request.query_string}" if request.query_string else ""
    return f"{fake_url}{request.path}{query}"
