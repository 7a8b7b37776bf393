"""What an operator's operator sees: Prometheus metrics and the liveness endpoint."""

from __future__ import annotations

import socket

import httpx

from modelops_sandbox.stack import Stack
from tests.integration.conftest import create_secret, modelbuild, wait_phase


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_metrics_and_liveness(stack: Stack) -> None:
    await create_secret(stack)
    metrics_port, health_port = free_port(), free_port()
    async with stack.operator(metrics_port=metrics_port, health_port=health_port):
        await stack.apply(modelbuild("observed"))
        await wait_phase(stack, "observed", "Succeeded")
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            health = await client.get(f"http://127.0.0.1:{health_port}/healthz")
    assert 'modelops_remote_creates_total{kind="ModelBuild",provider="twilioAutopilot"} 1.0' in metrics
    assert (
        'modelops_upstream_requests_total{method="POST",outcome="201",upstream="twilio-autopilot"} 1.0'
        in metrics
    )
    assert 'modelops_reconciles_total{kind="ModelBuild",result="ok"}' in metrics
    assert health.status_code == 200
    assert "upstreams" in health.text
