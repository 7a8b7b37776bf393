"""Drive the fake Twilio Autopilot v1 ModelBuilds API with the official ``twilio`` SDK (8.12.0).

Scenarios (input keys in brackets):

* ``lifecycle`` [url, account_sid, auth_token, assistant_sid, unique_name, renamed, status_callback, more,
  page_size]: create with UniqueName and StatusCallback, fetch by sid and by unique name, update the unique
  name, create ``more`` builds, list them all with a small page size, delete, then fetch and delete again.
* ``create`` [url, account_sid, auth_token, assistant_sid, unique_name, status_callback]: one create.
* ``fetch`` [url, account_sid, auth_token, assistant_sid, sids]: fetch each build.
* ``unauthorized`` [url, account_sid, auth_token, assistant_sid]: list and create with these (wrong)
  credentials.
* ``validate_signatures`` [auth_token, deliveries: [{url, params, signature}]]: check status callbacks with
  the SDK's own ``RequestValidator``, as received and with one parameter tampered with.
"""

from __future__ import annotations

from typing import Any

from driver_io import main, outcome
from twilio.base import values
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.autopilot.v1.assistant.model_build import ModelBuildInstance, ModelBuildList


def model_builds(params: dict[str, Any]) -> ModelBuildList:
    client = Client(params["account_sid"], params["auth_token"])
    # Every URL the SDK builds for a domain starts from the Domain's base_url (twilio/base/domain.py), so this
    # is the one place to point the SDK at the fake; next_page_url from the fake is followed verbatim.
    client.autopilot.base_url = params["url"]
    return client.autopilot.v1.assistants(params["assistant_sid"]).model_builds


def build(instance: ModelBuildInstance) -> dict[str, Any]:
    """What the SDK made of a ModelBuild payload (dates must have been parsed into datetimes)."""
    return {
        "sid": instance.sid,
        "account_sid": instance.account_sid,
        "assistant_sid": instance.assistant_sid,
        "unique_name": instance.unique_name,
        "status": instance.status,
        "url": instance.url,
        "build_duration": instance.build_duration,
        "error_code": instance.error_code,
        "date_created_type": type(instance.date_created).__name__,
        "date_updated_type": type(instance.date_updated).__name__,
    }


def walk_pages(builds: ModelBuildList, page_size: int) -> list[dict[str, Any]]:
    """Every page, as the SDK's Page objects see them, following next_page() until it returns None."""
    pages: list[dict[str, Any]] = []
    page = builds.page(page_size=page_size)
    while page is not None:
        pages.append({"sids": [record.sid for record in page], "next_page_url": page.next_page_url})
        page = page.next_page()
    return pages


def lifecycle(params: dict[str, Any]) -> dict[str, Any]:
    builds = model_builds(params)
    created = builds.create(unique_name=params["unique_name"], status_callback=params["status_callback"])
    sid = created.sid
    assert sid is not None
    result: dict[str, Any] = {
        "created": build(created),
        "fetched_by_sid": build(builds(sid).fetch()),
        "fetched_by_unique_name": build(builds(params["unique_name"]).fetch()),
        "updated": build(builds(sid).update(unique_name=params["renamed"])),
        "fetched_by_new_name": build(builds(params["renamed"]).fetch()),
    }
    more = [builds.create(unique_name=f"more-{index}").sid for index in range(params["more"])]
    result["more_sids"] = more
    result["listed_sids"] = [record.sid for record in builds.list(page_size=params["page_size"])]
    result["pages"] = walk_pages(builds, params["page_size"])
    result["deleted"] = outcome(builds(sid).delete)
    result["fetch_after_delete"] = outcome(builds(sid).fetch)
    result["delete_after_delete"] = outcome(builds(sid).delete)
    return result


def create(params: dict[str, Any]) -> dict[str, Any]:
    # values.unset is how the SDK leaves a parameter out of the form entirely
    callback = params["status_callback"] if params["status_callback"] is not None else values.unset
    created = model_builds(params).create(unique_name=params["unique_name"], status_callback=callback)
    return {"created": build(created)}


def fetch(params: dict[str, Any]) -> dict[str, Any]:
    builds = model_builds(params)
    return {"builds": [build(builds(sid).fetch()) for sid in params["sids"]]}


def unauthorized(params: dict[str, Any]) -> dict[str, Any]:
    builds = model_builds(params)
    return {
        "list": outcome(lambda: builds.list(page_size=5)),
        "create": outcome(lambda: builds.create(unique_name="refused")),
    }


def validate_signatures(params: dict[str, Any]) -> dict[str, Any]:
    validator = RequestValidator(params["auth_token"])
    results = []
    for delivery in params["deliveries"]:
        url, received, signature = delivery["url"], delivery["params"], delivery["signature"]
        tampered = {**received, "Status": "tampered"}
        results.append(
            {
                "valid": validator.validate(url, received, signature),
                "tampered_valid": validator.validate(url, tampered, signature),
            }
        )
    return {"results": results}


if __name__ == "__main__":
    main(
        {
            "lifecycle": lifecycle,
            "create": create,
            "fetch": fetch,
            "unauthorized": unauthorized,
            "validate_signatures": validate_signatures,
        }
    )
