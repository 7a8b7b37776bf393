"""What the operator keeps per live resource between events (compact_body), and the log lines it keeps out
of the operator's log: pure logic, no cluster."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from modelops_operator.core.resource import compact_body
from modelops_operator.logging_setup import configure


def body(name: str, last_applied: bool = False) -> dict[str, Any]:
    annotations = {"modelops.dev/external-id": "UG" + "1" * 32}
    if last_applied:
        annotations["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps({"spec": {"x": 1}})
    # Decoded from JSON text, as from the watch: every object gets its own key strings.
    return json.loads(
        json.dumps(
            {
                "apiVersion": "modelops.dev/v1alpha1",
                "kind": "ModelBuild",
                "metadata": {
                    "name": name,
                    "namespace": "team-a",
                    "uid": f"uid-{name}",
                    "resourceVersion": "42",
                    "annotations": annotations,
                    "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
                },
                "spec": {"twilioAutopilot": {"assistantSid": "UA" + "2" * 32}},
                "status": {"conditions": [{"type": "Ready", "status": "True", "message": "m" * 300}]},
            }
        )
    )


def test_compact_body_keeps_what_the_operator_reads_and_drops_what_it_never_does() -> None:
    original = body("a", last_applied=True)
    kept = compact_body(original)
    assert "managedFields" not in kept["metadata"]
    assert kept["metadata"]["annotations"] == {"modelops.dev/external-id": "UG" + "1" * 32}
    expected = {
        **original,
        "metadata": {k: v for k, v in original["metadata"].items() if k != "managedFields"},
    }
    expected["metadata"]["annotations"] = kept["metadata"]["annotations"]
    assert kept == expected
    # The watch's body is not changed (kopf still holds it).
    assert "managedFields" in original["metadata"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in original["metadata"]["annotations"]


def test_compact_bodies_share_their_keys_and_short_strings_but_not_long_messages() -> None:
    first, second = compact_body(body("a")), compact_body(body("b"))
    first_keys = {id(k) for k in first["metadata"]} | {id(k) for k in first["status"]["conditions"][0]}
    second_keys = {id(k) for k in second["metadata"]} | {id(k) for k in second["status"]["conditions"][0]}
    assert first_keys == second_keys
    assert (
        first["spec"]["twilioAutopilot"]["assistantSid"] is second["spec"]["twilioAutopilot"]["assistantSid"]
    )
    long_a, long_b = first["status"]["conditions"][0]["message"], second["status"]["conditions"][0]["message"]
    assert long_a == long_b and long_a is not long_b  # never interned: unbounded text stays per object
    assert sys.getsizeof(long_a) > 300


def test_the_event_handlers_success_lines_stay_out_of_the_log_and_everything_else_stays_in(
    capsys: Any,
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure("INFO", "text")
        objects = logging.getLogger("kopf.objects")
        objects.info("Handler 'modelbuild-event' succeeded.")
        objects.info("Handler 'modelbuild-stop' succeeded.")
        objects.error("Handler 'modelbuild-event' failed with an exception. Will retry.")
        logging.getLogger("modelops_operator").info("ModelBuild team-a/a: phase Running → Succeeded")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "'modelbuild-event' succeeded" not in err
    assert "'modelbuild-stop' succeeded" in err
    assert "'modelbuild-event' failed" in err
    assert "phase Running → Succeeded" in err
