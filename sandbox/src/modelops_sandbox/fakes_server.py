"""`modelops-sandbox fakes`: the four fake upstreams served standalone, until SIGTERM or SIGINT.

For clusters that run the real operator against the fakes (the kind e2e test, `deploy/e2e/fakes.yaml`): each
fake listens on its own port, accepts the sandbox credentials of :mod:`modelops_sandbox.stack` (the
examples' Secrets carry the same) and follows the sandbox's scripted world (Autopilot builds whose unique name
contains "broken" fail with error 23001). Also runnable as ``python -m modelops_sandbox.fakes_server``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import TextIO

from modelops_sandbox.fakes.base import FakeUpstream
from modelops_sandbox.stack import sandbox_fakes

log = logging.getLogger(__name__)

# (name, the operator setting that points at it, the argparse destination of its port, default port)
FAKES: tuple[tuple[str, str, str, int], ...] = (
    ("twilio-autopilot", "MODELOPS_TWILIO_AUTOPILOT_URL", "twilio_autopilot_port", 8001),
    ("twilio-assistants", "MODELOPS_TWILIO_ASSISTANTS_URL", "twilio_assistants_port", 8002),
    ("models-api", "MODELOPS_MODELS_API_URL", "models_api_port", 8003),
    ("datarobot", "MODELOPS_DATAROBOT_URL", "datarobot_port", 8004),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `modelops-sandbox fakes`."""
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")
    for name, _, dest, port in FAKES:
        option = "--" + dest.replace("_", "-")
        parser.add_argument(
            option, dest=dest, type=int, default=port, help=f"port of the {name} fake (0: any)"
        )
    parser.add_argument(
        "--public-host",
        default=None,
        help="host name clients reach the fakes by, for absolute URLs in responses (default: --host)",
    )
    parser.add_argument(
        "--stage-seconds", type=float, default=2.0, help="seconds each remote lifecycle stage takes"
    )


def build_fakes(stage_seconds: float) -> dict[str, FakeUpstream]:
    """The four fakes with the sandbox account, as `local_stack()` builds them, plus the sandbox's script."""
    fakes = sandbox_fakes(stage_seconds)
    fakes.autopilot.script("broken", outcome="failed", error_code=23001)
    return {
        "twilio-autopilot": fakes.autopilot,
        "twilio-assistants": fakes.assistants,
        "models-api": fakes.models_api,
        "datarobot": fakes.datarobot,
    }


async def serve(
    args: argparse.Namespace, *, stop: asyncio.Event | None = None, out: TextIO = sys.stdout
) -> int:
    """Start the fakes, print `SETTING=url` per fake, and serve until `stop` is set (or a signal arrives)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    fakes = build_fakes(args.stage_seconds)
    started: list[FakeUpstream] = []
    try:
        for name, setting, dest, _ in FAKES:
            fake = fakes[name]
            url = await fake.start(host=args.host, port=getattr(args, dest))
            started.append(fake)
            if args.public_host:
                fake.public_url = f"http://{args.public_host}:{url.rsplit(':', 1)[1]}"
            print(f"{setting}={fake.base_url}", file=out, flush=True)
        print("fakes ready", file=out, flush=True)
        await stop.wait()
    finally:
        for fake in reversed(started):
            await fake.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
    return 0


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(serve(args))


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(prog="modelops-sandbox fakes", description=__doc__)
    add_arguments(result)
    return result


if __name__ == "__main__":
    sys.exit(main(parser().parse_args()))
