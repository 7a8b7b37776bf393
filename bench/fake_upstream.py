"""The fake Twilio Autopilot in a process of its own, so its CPU is neither the operator's nor the cluster's.

Child (``python -m bench.fake_upstream --stage-seconds S``): serves `TwilioAutopilotFake` with the sandbox
account, prints ``{"url": ...}`` on its first stdout line, and keeps every request as (monotonic time, kind,
status): three numbers instead of the fake's full records (headers, bodies), so a 10,000-build naive run
costs megabytes, not gigabytes. It answers ``dump PATH`` on stdin (writes them as JSON, then ``done``) and
stops at ``stop`` or end of input.

Parent: `FakeUpstream`, an async context manager around that process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------- the child


async def serve(stage_seconds: float) -> None:
    from bench.measure import upstream_kind
    from modelops_sandbox.fakes import TwilioAutopilotFake
    from modelops_sandbox.fakes.base import RecordedRequest
    from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN

    # No status callbacks are asked for: no background delivery loop. The fake's own log stays small: the
    # compact list below is what is kept.
    fake = TwilioAutopilotFake(stage_seconds=stage_seconds, callback_poll_interval=None, max_recorded=100)
    fake.add_account(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
    seen: list[tuple[float, str, int]] = []

    async def record(request: RecordedRequest) -> None:
        seen.append((request.at, upstream_kind(request.method, request.path), request.status))

    fake.on_request.append(record)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with fake:
        print(json.dumps({"url": fake.url}), flush=True)
        while line := (await reader.readline()).decode().strip():
            command, _, argument = line.partition(" ")
            if command == "dump":
                await asyncio.to_thread(Path(argument).write_text, json.dumps(seen))
                print("done", flush=True)
            elif command == "stop":
                break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage-seconds", type=float, default=1.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.stage_seconds))


# ---------------------------------------------------------------------------------------------- the parent


class FakeUpstream:
    def __init__(self, stage_seconds: float, workdir: Path) -> None:
        self.stage_seconds = stage_seconds
        self.workdir = workdir
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def __aenter__(self) -> FakeUpstream:
        from tests.support.controlplane import die_with_parent

        log = os.open(self.workdir / "fake.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.fake_upstream", "--stage-seconds", str(self.stage_seconds),
                cwd=REPO, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                preexec_fn=die_with_parent,
            )  # fmt: skip
        finally:
            os.close(log)  # the child has its own copy
        first = await self._line(within=30)
        self.url = json.loads(first)["url"]
        return self

    async def _line(self, within: float) -> str:
        assert self._process is not None and self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), within)
        if not line:
            log = (self.workdir / "fake.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the fake upstream exited:\n{log}")
        return line.decode()

    async def requests(self) -> list[tuple[float, str, int]]:
        """Every request the fake has answered so far: (monotonic time, kind, status)."""
        assert self._process is not None and self._process.stdin is not None
        target = self.workdir / "fake-requests.json"
        self._process.stdin.write(f"dump {target}\n".encode())
        await self._process.stdin.drain()
        await self._line(within=120)
        return [(float(at), str(kind), int(status)) for at, kind, status in json.loads(target.read_text())]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            assert process.stdin is not None
            process.stdin.write(b"stop\n")
            await process.stdin.drain()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


if __name__ == "__main__":
    main()
