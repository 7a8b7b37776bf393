"""The real operator against the emulated cluster and the fake upstreams, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from modelops_sandbox.stack import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, Stack, local_stack
from tests.support.waiting import eventually

ASSISTANT = "UA" + "1" * 32
API = ("modelops.dev", "v1alpha1", "modelbuilds")
MB = "modelops.dev/v1alpha1"
PLURAL = "modelbuilds"


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    # Fast everything: a 0.2 s stage in the fake and sub-second operator ticks keep each test to seconds.
    async with local_stack(
        stage_seconds=0.3,
        poll_interval_seconds=0.2,
        drift_interval_seconds=0.5,
        backoff_base_seconds=0.05,
        backoff_max_seconds=1.0,
        http_timeout_seconds=2.0,
    ) as stack:
        stack.graceful_stop = False
        yield stack


async def create_secret(stack: Stack, name: str = "twilio", **data: str) -> None:
    values = data or {"accountSid": SANDBOX_ACCOUNT_SID, "authToken": SANDBOX_AUTH_TOKEN}
    await stack.cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": stack.namespace},
            "stringData": values,
        }
    )


def modelbuild(
    name: str, *, annotations: dict[str, str] | None = None, secret: str = "twilio", **twilio: Any
) -> dict[str, Any]:
    spec_polling = twilio.pop("polling", {"intervalSeconds": 1})
    policy = twilio.pop("deletionPolicy", "Delete")
    return {
        "apiVersion": "modelops.dev/v1alpha1",
        "kind": "ModelBuild",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
        "spec": {
            "twilioAutopilot": {"assistantSid": ASSISTANT, **twilio},
            "credentialsSecretRef": {"name": secret},
            "deletionPolicy": policy,
            "polling": spec_polling,
        },
    }


def get_mb(stack: Stack, name: str) -> dict[str, Any] | None:
    return stack.cluster.get_object(*API[:2], API[2], stack.namespace, name)


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item["type"] == kind:
            return dict(item)
    return {}


async def wait_phase(stack: Stack, name: str, phase: str, timeout: float = 20.0) -> dict[str, Any]:  # noqa: ASYNC109
    def probe() -> dict[str, Any] | None:
        obj = get_mb(stack, name)
        return obj if obj and (obj.get("status") or {}).get("phase") == phase else None

    return await eventually(probe, timeout=timeout, what=f"{name} phase {phase} (now {_phase(stack, name)})")


def _phase(stack: Stack, name: str) -> Any:
    obj = get_mb(stack, name)
    return ((obj or {}).get("status") or {}).get("phase")


async def wait_condition(
    stack: Stack,
    name: str,
    kind: str,
    status: str,
    reason: str | None = None,
    timeout: float = 20.0,  # noqa: ASYNC109
    plural: str = "modelbuilds",
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = stack.cluster.get_object(*API[:2], plural, stack.namespace, name)
        cond = condition(obj, kind)
        if cond.get("status") == status and (reason is None or cond.get("reason") == reason):
            return cond
        return None

    return await eventually(probe, timeout=timeout, what=f"{name} {kind}={status} ({reason})")


async def event_reasons(stack: Stack, name: str) -> list[str]:
    return [e.get("reason", "") for e in await stack.cluster.events_for(stack.namespace, name)]


async def wait_event(stack: Stack, name: str, reason: str, timeout: float = 20.0) -> dict[str, Any]:  # noqa: ASYNC109
    async def probe() -> dict[str, Any] | None:
        for event in await stack.cluster.events_for(stack.namespace, name):
            if event.get("reason") == reason:
                return event
        return None

    return await eventually(probe, timeout=timeout, what=f"event {reason} for {name}")
