"""What an operator's operator sees: Prometheus metrics and the liveness endpoint, from a real scrape."""

from __future__ import annotations

import socket

import httpx
from prometheus_client.parser import text_string_to_metric_families

from modelops_sandbox.stack import Stack
from tests.integration.conftest import MB, PLURAL, create_secret, gone, modelbuild, wait_phase
from tests.support.waiting import eventually


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_and_liveness(stack: Stack) -> None:
    await create_secret(stack)
    metrics_port, health_port = free_port(), free_port()
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    async with (
        stack.operator(metrics_port=metrics_port, health_port=health_port),
        httpx.AsyncClient() as client,
    ):
        await stack.apply(modelbuild("observed"))
        sid = (await wait_phase(stack, "observed", "Succeeded"))["status"]["externalId"]

        async def scrape_with(name: str, expected: float, **labels: str) -> dict:
            scraped = samples((await client.get(url)).text)
            return scraped if value(scraped, name, **labels) == expected else {}

        live = await eventually(
            lambda: scrape_with("modelops_resources", 1.0, kind="ModelBuild", phase="Succeeded"),
            what="the gauge to count the Succeeded build",
        )
        health = await client.get(f"http://127.0.0.1:{health_port}/healthz")
        await stack.cluster.delete(MB, PLURAL, stack.namespace, "observed")
        await eventually(lambda: gone(stack, "observed"), what="the resource to go")
        after = await eventually(
            lambda: scrape_with("modelops_resources", 0.0, kind="ModelBuild", phase="Succeeded"),
            what="the gauge to forget the deleted build",
        )
    assert health.status_code == 200 and "upstreams" in health.text
    assert value(live, "modelops_remote_creates_total", kind="ModelBuild", provider="twilioAutopilot") == 1.0
    create = {
        "upstream": "twilio-autopilot",
        "route": "POST /v1/Assistants/{AssistantSid}/ModelBuilds",
        "outcome": "201",
    }
    assert value(live, "modelops_upstream_requests_total", **create) == 1.0
    assert value(live, "modelops_resource_conditions", kind="ModelBuild", type="Ready", status="True") == 1.0
    assert value(live, "modelops_reconcile_duration_seconds_count", kind="ModelBuild", outcome="ok") >= 1.0
    assert (
        value(live, "modelops_poll_batch_size_count", kind="ModelBuild", upstream="twilio-autopilot") >= 1.0
    )
    assert value(live, "modelops_secret_cache_requests_total", result="miss") >= 1.0
    assert value(after, "modelops_resource_conditions", kind="ModelBuild", type="Ready", status="True") == 0.0
    # Bounded cardinality: no resource name, namespace or remote id in any label.
    label_values = {v for (_, labels) in after for _, v in labels}
    assert not {sid, "observed", stack.namespace} & label_values
    assert not any(sid in v for v in label_values)
