"""Drive the fake DataRobot GenAI build API with the official ``datarobot`` SDK (3.20.0).

Scenarios (input keys in brackets; every scenario also takes url and token):

* ``build`` [blueprint_id, test_configuration_ids]: ``LLMBlueprint.register_custom_model`` (POST
  genai/customModelVersions/, then the SDK's own wait on the status URL, then the version it names), then
  ``CustomInferenceModel.get`` of the custom model, its ``delete``, and a get and a delete after that.
* ``register`` [blueprint_id]: only ``register_custom_model``, reporting what it returned or raised.
* ``job_status`` [blueprint_ids]: start a build per blueprint with the SDK's REST client and read each
  status with ``datarobot.models.genai.JobStatus.get``.
* ``unauthorized`` [wrong_token]: connect (``datarobot.Client``) with a wrong token, then with the right one
  as a Bearer token.

The client is made with ``datarobot.Client(token=..., endpoint=<url>/api/v2)``: the endpoint argument is how
the SDK is pointed at a DataRobot installation; it asks ``GET version/`` before anything else.
"""

from __future__ import annotations

import time
from typing import Any

import datarobot as dr
from datarobot.enums import PromptType
from datarobot.models.genai import JobStatus, LLMBlueprint
from driver_io import failure, main, outcome

PLACEHOLDER_ID = "0" * 24
PLACEHOLDER_DATE = "2024-01-01T00:00:00.000000Z"


def connect(params: dict[str, Any], token: str | None = None, token_type: str | None = None) -> Any:
    return dr.Client(
        token=token or params["token"], endpoint=f"{params['url']}/api/v2", token_type=token_type
    )


def blueprint(blueprint_id: str) -> LLMBlueprint:
    """An LLMBlueprint object for a known id. The operator knows only the id, and reading a blueprint is not
    part of the contract the fake follows, so the SDK's public constructor is used with placeholder metadata
    (register_custom_model sends only the id)."""
    return LLMBlueprint(
        id=blueprint_id,
        name="contract-test blueprint",
        description="",
        is_saved=True,
        is_starred=False,
        playground_id=PLACEHOLDER_ID,
        creation_date=PLACEHOLDER_DATE,
        creation_user_id=PLACEHOLDER_ID,
        creation_user_name="contract-test",
        last_update_date=PLACEHOLDER_DATE,
        last_update_user_id=PLACEHOLDER_ID,
        prompt_type=PromptType.CHAT_HISTORY_AWARE,
    )


def version(instance: Any) -> dict[str, Any]:
    return {
        "id": instance.id,
        "custom_model_id": instance.custom_model_id,
        "version_major": instance.version_major,
        "version_minor": instance.version_minor,
        "is_frozen": instance.is_frozen,
        "items": len(instance.items),
    }


def register(params: dict[str, Any]) -> dict[str, Any]:
    connect(params)
    started = time.monotonic()
    try:
        built = blueprint(params["blueprint_id"]).register_custom_model(
            prompt_column_name="promptText",
            target_column_name="resultText",
            llm_test_configuration_ids=params.get("test_configuration_ids"),
        )
    except Exception as exc:
        return {"raised": failure(exc), "seconds": time.monotonic() - started}
    return {"version": version(built), "seconds": time.monotonic() - started}


def build(params: dict[str, Any]) -> dict[str, Any]:
    result = register(params)
    if "version" not in result:
        return result
    custom_model_id = result["version"]["custom_model_id"]
    model = dr.CustomInferenceModel.get(custom_model_id)
    result["model"] = {
        "id": model.id,
        "name": model.name,
        "target_type": model.target_type,
        "latest_version_id": model.latest_version.id if model.latest_version else None,
    }
    result["deleted"] = outcome(model.delete)
    result["get_after_delete"] = outcome(lambda: dr.CustomInferenceModel.get(custom_model_id))
    result["delete_after_delete"] = outcome(model.delete)
    return result


def read_status(status_id: str) -> dict[str, Any]:
    try:
        job = JobStatus.get(status_id)
    except Exception as exc:
        return {"raised": failure(exc)}
    return {
        "status_id": job.status_id,
        "status": job.status,
        "code": job.code,
        "message": job.message,
        "description": job.description,
        "status_type": job.status_type,
        "is_terminal": job.is_terminal_state,
    }


def job_status(params: dict[str, Any]) -> dict[str, Any]:
    client = connect(params)
    statuses = []
    for blueprint_id in params["blueprint_ids"]:
        answer = client.post("genai/customModelVersions/", data={"llm_blueprint_id": blueprint_id})
        status_id = answer.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        statuses.append(read_status(status_id))
    return {"statuses": statuses}


def unauthorized(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "wrong_token": outcome(lambda: connect(params, token=params["wrong_token"])),
        "bearer": outcome(lambda: connect(params, token_type="Bearer")),
    }


if __name__ == "__main__":
    main({"build": build, "register": register, "job_status": job_status, "unauthorized": unauthorized})
