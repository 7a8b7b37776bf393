"""Drive the fake Twilio AI Assistants v1 Tools API with the official ``twilio`` SDK (9.10.9).

Scenarios (input keys in brackets; every scenario also takes url, account_sid, auth_token):

* ``lifecycle`` [assistant_id, tool, policy, update, more, page_size]: create a tool with a policy, fetch it
  (with its policies), update it, create ``more`` tools and list them all with a small page size, attach the
  tool to an assistant, list the assistant's tools (and the tools filtered by AssistantId), detach it, delete
  it, then fetch and delete again.
* ``errors`` [missing_id]: fetch and delete a tool that does not exist.
* ``unauthorized``: list and create with these (wrong) credentials.
"""

from __future__ import annotations

from typing import Any

from driver_io import main, outcome
from twilio.rest import Client
from twilio.rest.assistants.v1.assistant.assistants_tool import AssistantsToolList
from twilio.rest.assistants.v1.tool import ToolContext, ToolInstance, ToolList


def client_for(params: dict[str, Any]) -> Client:
    client = Client(params["account_sid"], params["auth_token"])
    # Every URL the SDK builds for a domain starts from the Domain's base_url (twilio/base/domain.py), so this
    # is the one place to point the SDK at the fake; next_page_url from the fake is followed verbatim.
    client.assistants.base_url = params["url"]
    return client


def tool(instance: ToolInstance) -> dict[str, Any]:
    """What the SDK made of a Tool payload (dates must have been parsed into datetimes)."""
    return {
        "id": instance.id,
        "account_sid": instance.account_sid,
        "name": instance.name,
        "description": instance.description,
        "type": instance.type,
        "enabled": instance.enabled,
        "requires_auth": instance.requires_auth,
        "meta": instance.meta,
        "url": instance.url,
        "policies": instance.policies,
        "date_created_type": type(instance.date_created).__name__,
        "date_updated_type": type(instance.date_updated).__name__,
    }


def create_request(fields: dict[str, Any], policy: dict[str, Any] | None) -> Any:
    """The SDK's create request object; a policy must be the SDK's policy request object, not a dict."""
    payload = dict(fields)
    if policy is not None:
        payload["policy"] = ToolList.AssistantsV1ServiceCreatePolicyRequest(policy)
    return ToolList.AssistantsV1ServiceCreateToolRequest(payload)


def walk_pages(tools: ToolList, page_size: int) -> list[dict[str, Any]]:
    """Every page, as the SDK's Page objects see them, following next_page() until it returns None."""
    pages: list[dict[str, Any]] = []
    page = tools.page(page_size=page_size)
    while page is not None:
        pages.append({"ids": [record.id for record in page], "next_page_url": page.next_page_url})
        page = page.next_page()
    return pages


def attached_ids(attached: AssistantsToolList, page_size: int) -> list[str | None]:
    return [record.id for record in attached.list(page_size=page_size)]


def lifecycle(params: dict[str, Any]) -> dict[str, Any]:
    tools = client_for(params).assistants.v1.tools
    created = tools.create(create_request(params["tool"], params["policy"]))
    tool_id = created.id
    assert tool_id is not None
    result: dict[str, Any] = {"created": tool(created), "fetched": tool(tools(tool_id).fetch())}
    update = ToolContext.AssistantsV1ServiceUpdateToolRequest(params["update"])
    result["updated"] = tool(tools(tool_id).update(update))
    result["fetched_after_update"] = tool(tools(tool_id).fetch())

    more = [
        tools.create(create_request({**params["tool"], "name": f"more-{i}"}, None))
        for i in range(params["more"])
    ]
    result["more_ids"] = [instance.id for instance in more]
    result["listed_ids"] = [record.id for record in tools.list(page_size=params["page_size"])]
    result["pages"] = walk_pages(tools, params["page_size"])

    assistant = client_for(params).assistants.v1.assistants(params["assistant_id"])
    result["attach"] = outcome(assistant.assistants_tools(tool_id).create)
    result["attached_ids"] = attached_ids(assistant.assistants_tools, params["page_size"])
    result["filtered_ids"] = [r.id for r in tools.list(assistant_id=params["assistant_id"])]
    result["detach"] = outcome(assistant.assistants_tools(tool_id).delete)
    result["attached_after_detach"] = attached_ids(assistant.assistants_tools, params["page_size"])

    result["deleted"] = outcome(tools(tool_id).delete)
    result["fetch_after_delete"] = outcome(tools(tool_id).fetch)
    result["delete_after_delete"] = outcome(tools(tool_id).delete)
    return result


def errors(params: dict[str, Any]) -> dict[str, Any]:
    tools = client_for(params).assistants.v1.tools
    return {
        "fetch": outcome(tools(params["missing_id"]).fetch),
        "delete": outcome(tools(params["missing_id"]).delete),
    }


def unauthorized(params: dict[str, Any]) -> dict[str, Any]:
    tools = client_for(params).assistants.v1.tools
    refused = {"name": "refused", "type": "WEBHOOK", "enabled": True}
    return {
        "list": outcome(lambda: tools.list(page_size=5)),
        "create": outcome(lambda: tools.create(create_request(refused, None))),
    }


if __name__ == "__main__":
    main({"lifecycle": lifecycle, "errors": errors, "unauthorized": unauthorized})
