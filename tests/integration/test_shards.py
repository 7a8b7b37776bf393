"""Two shards (two operators, each with its own label selector) against one cluster: each resource is handled
by exactly one of them, and a resource moved from one shard to the other is taken over without repeating any
remote work."""

from __future__ import annotations

import asyncio
import socket

import httpx
from prometheus_client.parser import text_string_to_metric_families

from modelops_sandbox.stack import Stack
from tests.integration.conftest import ASSISTANT, MB, PLURAL, create_secret, modelbuild, status_of, wait_phase
from tests.support.waiting import eventually

SHARD = "modelops.dev/shard"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def creates_by(port: int) -> float:
    """The remote creates one operator made, from its own /metrics."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "modelops_remote_creates_total"
    )


def labelled(name: str, shard: str) -> dict[str, object]:
    manifest = modelbuild(name, polling={"intervalSeconds": 1})
    manifest["metadata"]["labels"] = {SHARD: shard}  # type: ignore[index]
    return manifest


async def test_each_resource_is_handled_by_exactly_one_shard(stack: Stack) -> None:
    await create_secret(stack)
    port_a, port_b = free_port(), free_port()
    names = {"a": [f"a-{i}" for i in range(3)], "b": [f"b-{i}" for i in range(2)]}
    # Both shards in this one event loop. kopf takes every task started after an operator for that operator's
    # own and cancels them when it goes down, so one shard stopping alone would cancel the other's work and
    # wait for it: both are stopped together (bounded, so a shard that does not stop fails the test).
    shard_a = await stack.start_operator(selector=f"{SHARD}=a", metrics_port=port_a)
    shard_b = await stack.start_operator(selector=f"{SHARD}=b", metrics_port=port_b)
    try:
        for shard, members in names.items():
            for name in members:
                await stack.apply(labelled(name, shard))
        await stack.apply(labelled("nobody", "c"))  # selected by no shard
        for name in names["a"] + names["b"]:
            await wait_phase(stack, name, "Succeeded")
        assert await creates_by(port_a) == len(names["a"])
        assert await creates_by(port_b) == len(names["b"])
        assert stack.autopilot.count_creates(ASSISTANT) == len(names["a"]) + len(names["b"])

        # Moved from shard a to shard b (a relabel): b takes it over; a lets it go; nothing is created again.
        moved = names["a"][0]
        await stack.cluster.patch(MB, PLURAL, stack.namespace, moved, {"metadata": {"labels": {SHARD: "b"}}})
        sid = (await status_of(stack, moved))["externalId"]
        await stack.cluster.patch(
            MB, PLURAL, stack.namespace, moved, {"spec": {"twilioAutopilot": {"uniqueName": "moved-to-b"}}}
        )

        async def renamed() -> bool:
            return (stack.autopilot.build(ASSISTANT, sid) or {}).get("unique_name") == "moved-to-b"

        await eventually(renamed, what="shard b to rename the moved build")
    finally:
        async with asyncio.timeout(60):
            await asyncio.gather(shard_a.kill(), shard_b.kill())
    renames = stack.autopilot.requests_matching("POST", rf"/ModelBuilds/{sid}$")
    assert len(renames) == 1  # one owner pushed the change, once
    assert stack.autopilot.count_creates(ASSISTANT) == len(names["a"]) + len(names["b"])
    nobody = await stack.cluster.get(MB, PLURAL, stack.namespace, "nobody")
    assert "status" not in nobody and not nobody["metadata"].get("finalizers")  # left alone by both
