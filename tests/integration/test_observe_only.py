"""managementPolicy ObserveOnly, per provider: an existing remote object (made out of band) is mirrored into
.status, and the fake records not one mutating request from the operator — not for a spec that differs, not
on deletion (always orphaned)."""

from __future__ import annotations

from typing import Any

import httpx

from modelops_sandbox.fakes.base import FakeUpstream
from modelops_sandbox.stack import (
    SANDBOX_ACCOUNT_SID,
    SANDBOX_AUTH_TOKEN,
    SANDBOX_DATAROBOT_TOKEN,
    SANDBOX_MODELS_API_KEY,
    Stack,
)
from tests.integration.conftest import (
    ASSISTANT,
    MB,
    create_secret,
    gone,
    modelbuild,
    status_of,
    wait_condition,
    wait_event,
    wait_phase,
)
from tests.support.waiting import eventually

EXTERNAL_ID = "modelops.dev/external-id"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
TWILIO = httpx.BasicAuth(SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)


def mutations(fake: FakeUpstream) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if r.method in MUTATING]


def observe_only(manifest: dict[str, Any], external_id: str | None) -> dict[str, Any]:
    manifest["spec"]["managementPolicy"] = "ObserveOnly"
    if external_id is not None:
        manifest["metadata"].setdefault("annotations", {})[EXTERNAL_ID] = external_id
    return manifest


async def observe_then_delete(
    stack: Stack, fake: FakeUpstream, manifest: dict[str, Any], plural: str, phase: str
) -> dict[str, Any]:
    """Apply, wait for the mirror, delete; the fake must see no mutation from the operator."""
    name = manifest["metadata"]["name"]
    fake.clear_requests()
    async with stack.operator():
        await stack.apply(manifest)
        observed = await wait_phase(stack, name, phase, plural=plural)
        assert {c["type"]: c["status"] for c in observed["status"]["conditions"]}["Ready"] == "True"
        assert "modelops.dev/finalizer" not in (observed["metadata"].get("finalizers") or [])
        await stack.cluster.delete(MB, plural, stack.namespace, name)
        await eventually(lambda: gone(stack, name, plural), what="the resource to go")
        await wait_event(stack, name, "Orphaned")
    assert mutations(fake) == []
    return observed


async def test_an_autopilot_build_is_mirrored_and_never_touched(stack: Stack) -> None:
    await create_secret(stack)
    async with httpx.AsyncClient(auth=TWILIO) as client:
        made = await client.post(
            f"{stack.autopilot.url}/v1/Assistants/{ASSISTANT}/ModelBuilds",
            data={"UniqueName": "made-elsewhere"},
        )
    sid = made.json()["sid"]
    # The spec asks for another unique name: ObserveOnly does not push it.
    manifest = observe_only(modelbuild("imported", uniqueName="another-name"), sid)
    observed = await observe_then_delete(stack, stack.autopilot, manifest, "modelbuilds", "Succeeded")
    assert observed["status"]["externalId"] == sid
    assert observed["status"]["twilioAutopilot"]["uniqueName"] == "made-elsewhere"
    assert stack.autopilot.build(ASSISTANT, sid) is not None  # orphaned


async def test_a_datarobot_build_is_mirrored_and_never_touched(stack: Stack) -> None:
    await create_secret(stack, "datarobot", token=SANDBOX_DATAROBOT_TOKEN)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {SANDBOX_DATAROBOT_TOKEN}"}) as client:
        made = await client.post(
            f"{stack.datarobot.url}/api/v2/genai/customModelVersions/",
            json={"llmBlueprintId": "bp-elsewhere"},
        )
    model = made.json()["customModelId"]
    manifest = {
        "apiVersion": MB,
        "kind": "ModelBuild",
        "metadata": {"name": "imported-llm"},
        "spec": {
            "datarobot": {"llmBlueprintId": "bp-elsewhere"},
            "credentialsSecretRef": {"name": "datarobot"},
        },
    }
    observed = await observe_then_delete(
        stack, stack.datarobot, observe_only(manifest, model), "modelbuilds", "Succeeded"
    )
    assert observed["status"]["externalId"] == model
    assert stack.datarobot.custom_model(model) is not None


async def test_a_model_run_is_mirrored_and_never_cancelled(stack: Stack) -> None:
    await create_secret(stack, "models", apiKey=SANDBOX_MODELS_API_KEY)
    stack.models_api.script("^elsewhere$", models={"a": []})
    async with httpx.AsyncClient(headers={"X-API-Key": SANDBOX_MODELS_API_KEY}) as client:
        made = await client.post(f"{stack.models_api.url}/v1/model-runs", json={"project_name": "elsewhere"})
    run = made.json()["id"]
    manifest = {
        "apiVersion": MB,
        "kind": "ModelRun",
        "metadata": {"name": "imported-run"},
        "spec": {"modelsApi": {"projectName": "elsewhere"}, "credentialsSecretRef": {"name": "models"}},
    }
    observed = await observe_then_delete(
        stack, stack.models_api, observe_only(manifest, run), "modelruns", "Succeeded"
    )
    assert observed["status"]["runId"] == run and observed["status"]["steps"]


async def test_an_assistant_tool_is_mirrored_and_its_drift_is_not_corrected(stack: Stack) -> None:
    await create_secret(stack)
    async with httpx.AsyncClient(auth=TWILIO) as client:
        made = await client.post(
            f"{stack.assistants.url}/v1/Tools",
            json={"name": "lookup", "type": "WEBHOOK", "enabled": True, "description": "made elsewhere"},
        )
    tool = made.json()["id"]
    manifest = {
        "apiVersion": MB,
        "kind": "AssistantTool",
        "metadata": {"name": "imported-tool"},
        "spec": {
            "name": "lookup",
            "description": "what the spec says",
            "credentialsSecretRef": {"name": "twilio"},
        },
    }
    observed = await observe_then_delete(
        stack, stack.assistants, observe_only(manifest, tool), "assistanttools", "Ready"
    )
    assert observed["status"]["id"] == tool
    assert "differs from the spec in description, which is not pushed" in observed["status"]["message"]
    assert (stack.assistants.tool(tool) or {}).get("description") == "made elsewhere"


async def test_without_the_annotation_nothing_is_created(stack: Stack) -> None:
    await create_secret(stack)
    stack.autopilot.clear_requests()
    async with stack.operator():
        await stack.apply(observe_only(modelbuild("nothing"), None))
        stalled = await wait_condition(stack, "nothing", "Stalled", "True", "ExternalIdRequired")
    assert "set the modelops.dev/external-id annotation" in stalled["message"]
    assert (await status_of(stack, "nothing"))["phase"] == "Pending"
    assert stack.autopilot.requests == []


async def test_switching_back_to_full_takes_the_object_over(stack: Stack) -> None:
    await create_secret(stack)
    async with httpx.AsyncClient(auth=TWILIO) as client:
        made = await client.post(
            f"{stack.autopilot.url}/v1/Assistants/{ASSISTANT}/ModelBuilds", data={"UniqueName": "first"}
        )
    sid = made.json()["sid"]
    async with stack.operator():
        await stack.apply(observe_only(modelbuild("takeover", uniqueName="second"), sid))
        await wait_phase(stack, "takeover", "Succeeded")
        assert (stack.autopilot.build(ASSISTANT, sid) or {}).get("unique_name") == "first"
        await stack.cluster.patch(
            MB, "modelbuilds", stack.namespace, "takeover", {"spec": {"managementPolicy": "Full"}}
        )

        async def renamed() -> bool:
            return (stack.autopilot.build(ASSISTANT, sid) or {}).get("unique_name") == "second"

        await eventually(renamed, what="the spec to be pushed once managed")
        await wait_event(stack, "takeover", "Updated")
        managed = await stack.cluster.get(MB, "modelbuilds", stack.namespace, "takeover")
    # Managed from now on: its deletion goes through spec.deletionPolicy.
    assert "modelops.dev/finalizer" in managed["metadata"]["finalizers"]
    assert managed["status"]["externalId"] == sid
