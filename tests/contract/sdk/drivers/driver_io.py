"""What every SDK driver shares: its input, its output, and how an exception is reported.

Drivers run with ``python -S`` and the SDK's directory on PYTHONPATH, so this module uses the standard library
only. Input is a JSON object in the ``SDK_DRIVER_INPUT`` environment variable; output is one JSON document
printed as the last line of stdout. Anything a scenario could not do is reported in that document (the test
decides what is expected), so a driver exits non-zero only when it is itself broken.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

INPUT_ENV = "SDK_DRIVER_INPUT"

Scenario = Callable[[dict[str, Any]], dict[str, Any]]


def failure(exc: BaseException) -> dict[str, Any]:
    """An exception as data: its class, and the HTTP status and vendor error code when the SDK carries them."""
    status = getattr(exc, "status", None)
    if status is None:
        status = getattr(exc, "status_code", None)
    code = getattr(exc, "code", None)
    return {
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "status": status if isinstance(status, int) else None,
        "code": code if isinstance(code, int) else None,
        "message": str(exc)[:1000],
        "response": _response_in(exc.args),
    }


def _response_in(args: tuple[Any, ...]) -> dict[str, Any] | None:
    """An HTTP response some SDKs pass as an exception argument instead of parsing it (status and body)."""
    for arg in args:
        status, text = getattr(arg, "status_code", None), getattr(arg, "text", None)
        if isinstance(status, int) and isinstance(text, str):
            return {"status_code": status, "text": text[:1000]}
    return None


def outcome(action: Callable[[], Any]) -> dict[str, Any]:
    """Run ``action``: ``{"returned": repr}`` when it returns, ``{"raised": failure}`` when it raises."""
    try:
        value = action()
    except Exception as exc:
        return {"raised": failure(exc)}
    return {"returned": repr(value)}


def main(scenarios: Mapping[str, Scenario]) -> None:
    """Run the scenario named by the first argument with the JSON input, and print its result."""
    if len(sys.argv) != 2 or sys.argv[1] not in scenarios:
        raise SystemExit(f"usage: {sys.argv[0]} {{{','.join(scenarios)}}}")
    params = json.loads(os.environ[INPUT_ENV])
    result = scenarios[sys.argv[1]](params)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
