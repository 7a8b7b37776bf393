"""`modelops-operator fakes` (modelops_sandbox.fakes_server): the four fakes served standalone, with
the sandbox credentials, until SIGTERM. Runs everywhere (not only with Docker): the e2e test depends on it."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import httpx

from modelops_sandbox.stack import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    SANDBOX_DATAROBOT_TOKEN,
    SANDBOX_MODELS_API_KEY,
)

ASSISTANT = "UA" + "1" * 32


async def read_urls(process: asyncio.subprocess.Process, timeout: float = 20.0) -> dict[str, str]:  # noqa: ASYNC109
    """`SETTING=url` lines until "fakes ready", with a deadline."""
    assert process.stdout is not None
    urls: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the fakes did not get ready within {timeout}s (so far: {urls})"
        line = (await asyncio.wait_for(process.stdout.readline(), remaining)).decode().strip()
        assert line or process.returncode is None, "the fakes server exited"
        if line == "fakes ready":
            return urls
        if "=" in line:
            key, _, value = line.partition("=")
            urls[key] = value


async def test_fakes_serve_the_sandbox_account_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "modelops_sandbox.fakes_server", "--host", "127.0.0.1",
        "--twilio-autopilot-port", "0", "--twilio-assistants-port", "0",
        "--models-api-port", "0", "--datarobot-port", "0", "--stage-seconds", "0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        urls = await read_urls(process)
        assert set(urls) == {
            "MODELOPS_TWILIO_AUTOPILOT_URL",
            "MODELOPS_TWILIO_ASSISTANTS_URL",
            "MODELOPS_MODELS_API_URL",
            "MODELOPS_DATAROBOT_URL",
        }
        twilio = (SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
        async with httpx.AsyncClient(timeout=10) as client:
            builds = f"{urls['MODELOPS_TWILIO_AUTOPILOT_URL']}/v1/Assistants/{ASSISTANT}/ModelBuilds"
            assert (await client.get(builds, auth=twilio)).status_code == 200
            assert (await client.get(builds, auth=(SANDBOX_ACCOUNT_SID, "wrong"))).status_code == 401
            tools = f"{urls['MODELOPS_TWILIO_ASSISTANTS_URL']}/v1/Tools"
            assert (await client.get(tools, auth=twilio)).status_code == 200
            runs = f"{urls['MODELOPS_MODELS_API_URL']}/v1/model-runs"
            assert (await client.get(runs, headers={"X-API-Key": SANDBOX_MODELS_API_KEY})).status_code == 200
            assert (await client.get(runs)).status_code == 401
            model = f"{urls['MODELOPS_DATAROBOT_URL']}/api/v2/customModels/000000000000000000000000/"
            bearer = {"Authorization": f"Bearer {SANDBOX_DATAROBOT_TOKEN}"}
            assert (await client.get(model, headers=bearer)).status_code == 404
            assert (await client.get(model)).status_code == 401
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    assert code == 0, (await process.stderr.read()).decode() if process.stderr else code


async def test_public_host_is_used_in_the_printed_urls() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "modelops_sandbox.fakes_server", "--host", "127.0.0.1",
        "--twilio-autopilot-port", "0", "--twilio-assistants-port", "0",
        "--models-api-port", "0", "--datarobot-port", "0", "--public-host", "modelops-fakes.e2e.svc",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        urls = await read_urls(process)
        assert all(url.startswith("http://modelops-fakes.e2e.svc:") for url in urls.values()), urls
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
