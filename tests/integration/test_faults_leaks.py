"""No credential ever leaves the operator: every kind's whole life (the sandbox's examples: create, observe,
update, fail, delete), with wrong credentials (401s), transient errors and HTML error pages on the way, and
then everything the operator emitted is searched for every credential value, as is and encoded: its logs (every
logger at DEBUG), every Event (as posted, and as the API server keeps them), every status it wrote, every
object, and a scrape of its metrics.

The credentials are new ones, made in the fakes for this test (never the sandbox's well-known values), with
characters that base64 and URL encoding change.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from modelops_operator.api.common import GROUP, VERSION
from modelops_sandbox.fakes.base import FaultHandle
from modelops_sandbox.fakes.datarobot import STATUS_PATH
from modelops_sandbox.runner import EXPECT_ANNOTATION, load_examples, script_sandbox_world
from modelops_sandbox.stack import Stack
from tests.integration.conftest import MB, condition, create_secret, get_mb, wait_condition, wait_event
from tests.integration.faults import AUTOPILOT, DATAROBOT, MODELS_API, encodings, free_port
from tests.integration.test_rbac import PLURALS, REPO
from tests.support.realcluster import OPERATOR_NAMESPACE
from tests.support.waiting import eventually

StatusWrites = list[tuple[dict[str, Any], dict[str, Any]]]
LOGGERS = ["", "modelops_operator", "kopf", "httpx", "httpcore", "aiohttp", "asyncio"]
TOOL = "AssistantTool"
HTML_PAGE = "<html><body><h1>502 Bad Gateway</h1><p>upstream hiccup</p></body></html>"


def canary(label: str) -> str:
    """A credential nobody else uses, with characters that every encoding changes."""
    return f"leak+{label}/{secrets.token_hex(8)}=&%"


@dataclass(frozen=True)
class Credential:
    label: str
    value: str
    user: str | None = None  # sent as HTTP Basic with this user name


@dataclass
class World:
    """The credentials of the test, the resources that use them, and their expected ends."""

    credentials: list[Credential]
    resources: list[dict[str, Any]]
    denied: list[dict[str, Any]]


async def build_world(stack: Stack) -> World:
    """Accounts, keys and tokens new to the fakes; the examples (their Secrets replaced) and one resource per
    upstream whose Secret the upstream refuses."""
    account_sid, auth_token = "AC" + secrets.token_hex(16), canary("twilio-token")
    key_sid, key_secret = "SK" + secrets.token_hex(16), canary("twilio-key-secret")
    for fake in (stack.autopilot, stack.assistants):
        fake.add_account(account_sid, auth_token)
    stack.assistants.add_api_key(account_sid, key_sid, key_secret)
    models_key, datarobot_token = canary("models-key"), canary("datarobot-token")
    stack.models_api.add_api_key(models_key)
    stack.datarobot.add_token(datarobot_token)
    wrong = {name: canary(f"wrong-{name}") for name in ("twilio", "models", "datarobot")}

    await create_secret(stack, "twilio-sandbox", accountSid=account_sid, authToken=auth_token)
    await create_secret(
        stack, "twilio-keys", accountSid=account_sid, apiKeySid=key_sid, apiKeySecret=key_secret
    )
    await create_secret(stack, "models-sandbox", apiKey=models_key)
    await create_secret(stack, "datarobot-sandbox", token=datarobot_token)
    await create_secret(stack, "twilio-wrong", accountSid=account_sid, authToken=wrong["twilio"])
    await create_secret(stack, "models-wrong", bearerToken=wrong["models"])
    await create_secret(stack, "datarobot-wrong", token=wrong["datarobot"])

    resources = [m for m in load_examples(REPO / "examples") if m["kind"] in PLURALS]
    for manifest in resources:
        if manifest["kind"] == TOOL:  # the API key pair instead of the auth token
            manifest["spec"]["credentialsSecretRef"] = {"name": "twilio-keys"}
    denied = []
    for kind, secret in (
        (AUTOPILOT, "twilio-wrong"),
        (DATAROBOT, "datarobot-wrong"),
        (MODELS_API, "models-wrong"),
    ):
        manifest = kind.manifest(f"denied-{kind.id.lower()}")
        manifest["spec"]["credentialsSecretRef"] = {"name": secret}
        denied.append(manifest)
    credentials = [
        Credential("twilio auth token", auth_token, user=account_sid),
        Credential("twilio API key secret", key_secret, user=key_sid),
        Credential("models API key", models_key),
        Credential("datarobot token", datarobot_token),
        *(Credential(f"wrong {name} credential", value, user=account_sid) for name, value in wrong.items()),
    ]
    return World(credentials, resources, denied)


def troubles(stack: Stack) -> FaultHandle:
    """Errors on the way: a server error and a reset (retried within a request), and a gateway's HTML page on
    DataRobot's status URL until removed (so it reaches `.status` and a Warning)."""
    for fake in (stack.autopilot, stack.assistants, stack.models_api, stack.datarobot):
        fake.faults.server_error(500, times=1, method="GET")
        fake.faults.reset(times=1, method="GET")
    html = {"Content-Type": "text/html"}
    return stack.datarobot.faults.respond(
        502, HTML_PAGE, times=None, method="GET", path=STATUS_PATH, headers=html
    )


def plural(manifest: dict[str, Any]) -> str:
    return PLURALS[manifest["kind"]]


def name(manifest: dict[str, Any]) -> str:
    return str(manifest["metadata"]["name"])


async def api_server_events(stack: Stack) -> list[dict[str, Any]]:
    events = await stack.cluster.list_objects("v1", "events", stack.namespace)
    with contextlib.suppress(Exception):  # only a real control plane has the operator's own namespace
        events += await stack.cluster.list_objects("v1", "events", OPERATOR_NAMESPACE)
    return events


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every record: its message, its arguments, and any traceback (formatted as a handler would)."""
    formatter = logging.Formatter()
    lines = []
    for record in caplog.records:
        lines.append(f"{record.name}: {record.getMessage()} {record.args!r}")
        if record.exc_info:
            lines.append(formatter.formatException(record.exc_info))
    return "\n".join(lines)


def leaks(credentials: list[Credential], places: dict[str, str]) -> list[str]:
    found = []
    for credential in credentials:
        for form, encoded in encodings(credential.value, user=credential.user).items():
            found += [
                f"{credential.label} ({form}) in {place}" for place, text in places.items() if encoded in text
            ]
    return found


async def test_no_credential_in_logs_events_status_or_metrics(
    stack: Stack,
    caplog: pytest.LogCaptureFixture,
    emitted_events: list[dict[str, str]],
    status_writes: StatusWrites,
) -> None:
    for logger in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=logger)
    world = await build_world(stack)
    script_sandbox_world(stack)  # type: ignore[arg-type]  # a Stack on any cluster will do
    outage = troubles(stack)
    port = free_port()
    async with stack.operator(metrics_port=port), httpx.AsyncClient() as client:
        for manifest in [*world.resources, *world.denied]:
            await stack.apply(manifest)
        await eventually(
            lambda: any(e["reason"] == "UpstreamUnavailable" for e in emitted_events),
            what="the outage in a Warning",
        )
        stack.datarobot.faults.remove(outage)
        for manifest in world.resources:
            expected = manifest["metadata"]["annotations"][EXPECT_ANNOTATION]
            await wait_phase_of(stack, manifest, expected)
        for manifest in world.denied:
            await wait_condition(
                stack, name(manifest), "Stalled", "True", "CredentialsInvalid", plural=plural(manifest)
            )
        tool = next(m for m in world.resources if m["kind"] == TOOL)
        await stack.cluster.patch(
            MB, plural(tool), stack.namespace, name(tool), {"spec": {"description": "Edited."}}
        )
        await wait_event(stack, name(tool), "Updated")
        objects = [await get_mb(stack, name(m), plural(m)) for m in [*world.resources, *world.denied]]
        for manifest in [*world.resources, *world.denied]:
            # A resource whose Secret was always refused is let go as its Stalled message says (Orphan): an
            # Autopilot build's deletion is held up otherwise (test_faults_upstream, `*always_refused*`).
            if manifest in world.denied:
                await stack.cluster.patch(
                    MB,
                    plural(manifest),
                    stack.namespace,
                    name(manifest),
                    {"spec": {"deletionPolicy": "Orphan"}},
                )
            await stack.cluster.delete(
                f"{GROUP}/{VERSION}", plural(manifest), stack.namespace, name(manifest)
            )
        for manifest in [*world.resources, *world.denied]:
            await eventually(
                lambda m=manifest: gone(stack, m), timeout=30, what=f"{name(manifest)} to be deleted"
            )
        metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    assert "modelops_upstream_requests_total" in metrics
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # the search saw DEBUG records
    places = {
        "logs": log_text(caplog),
        "Events as posted": json.dumps(emitted_events),
        "Events in the API server": json.dumps(await api_server_events(stack)),
        "status writes": json.dumps(status_writes),
        "objects": json.dumps(objects),
        "metrics": metrics,
    }
    # The paths searched: refused credentials, upstream errors shown in status, failed remote objects.
    assert {"CredentialsInvalid", "UpstreamUnavailable", "RemoteFailed"} <= {
        e["reason"] for e in emitted_events
    }
    assert leaks(world.credentials, places) == []


async def wait_phase_of(stack: Stack, manifest: dict[str, Any], phase: str) -> None:
    async def reached() -> bool:
        obj = await get_mb(stack, name(manifest), plural(manifest))
        return ((obj or {}).get("status") or {}).get("phase") == phase and condition(obj, "Reconciling").get(
            "reason"
        ) != "Retrying"

    await eventually(reached, timeout=30, what=f"{name(manifest)} phase {phase}")


async def gone(stack: Stack, manifest: dict[str, Any]) -> bool:
    return await get_mb(stack, name(manifest), plural(manifest)) is None


def test_the_search_finds_each_form_of_a_credential() -> None:
    """The search itself: a credential in any of its forms is found (no false sense of safety)."""
    credential = Credential("token", canary("self-test"), user="AC0")
    forms = encodings(credential.value, user=credential.user)
    assert credential.value not in {forms["base64"], forms["url-encoded"], forms["basic-auth"]}
    for form, encoded in forms.items():
        assert f"token ({form}) in text" in leaks([credential], {"text": f"... {encoded} ..."})
    assert leaks([credential], {"text": "nothing here"}) == []
