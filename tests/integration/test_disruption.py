"""A real API server going away mid-run, and watches resumed from a resourceVersion it no longer has (410
Gone): survived without losing or repeating remote work."""

from __future__ import annotations

import asyncio
import logging

import pytest

from modelops_sandbox.stack import Stack
from tests.integration.conftest import ASSISTANT, create_secret, modelbuild, wait_phase
from tests.support.realcluster import RealCluster


async def test_an_api_server_restart_and_expired_watches_lose_and_repeat_nothing(
    cluster_wide_stack: Stack[RealCluster], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kopf")
    stack = cluster_wide_stack
    control_plane = stack.cluster.plane.control_plane
    await create_secret(stack)
    before = [f"before-{index}" for index in range(4)]
    after = [f"after-{index}" for index in range(3)]
    # Builds that take a while: they are in progress while the API server is away.
    stack.autopilot.stage_seconds = 3.0
    async with stack.operator(clusterwide=True):
        for name in before:
            await stack.apply(modelbuild(name))
        for name in before:
            await wait_phase(stack, name, "Running")
        # A write the operator does not watch moves the cluster's revision past what its watches have seen,
        # and compacting etcd there makes every older resourceVersion expire: the watches resume with 410.
        await stack.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bump"}, "data": {}})
        await asyncio.to_thread(control_plane.stop_apiserver, crash=True)
        await asyncio.to_thread(control_plane.compact_etcd)
        await asyncio.to_thread(control_plane.start_apiserver)
        for name in after:
            await stack.apply(modelbuild(name))
        for name in before + after:
            await wait_phase(stack, name, "Succeeded", timeout=90)
    # Exactly one remote build per resource: nothing lost, nothing created twice.
    creates = stack.autopilot.count_creates(ASSISTANT)
    assert creates == len(before) + len(after)
    assert len(stack.autopilot.builds) == creates
    restarted = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("Restarting the watch-stream")
    ]
    assert any("modelbuilds" in message for message in restarted), "no watch resumed with 410 Gone"
