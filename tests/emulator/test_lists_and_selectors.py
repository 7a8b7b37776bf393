"""Lists: typed, with a real resourceVersion, and filtered by label and field selectors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.helpers import Http, Reply, Scope

pytestmark = pytest.mark.usefixtures("crd")


def in_namespace(body: dict[str, Any], namespace: str) -> dict[str, Any]:
    body["metadata"]["namespace"] = namespace
    return body


def labelled(scope: Scope, name: str, **labels: str) -> dict[str, Any]:
    body = scope.widget(name)
    body["metadata"]["labels"] = labels
    return body


async def test_list_has_kind_api_version_and_resource_version(http: Http, scope: Scope) -> None:
    last = (await http.post(scope.widgets(), scope.widget("w1"))).body["metadata"]["resourceVersion"]
    reply = await http.get(scope.widgets())
    assert reply.body["kind"] == "WidgetList"
    assert reply.body["apiVersion"] == scope.api_version
    assert reply.body["metadata"]["continue"] == ""  # kept in unstructured lists (built-ins omit it)
    # The resourceVersion of a list is the server's latest (writes to other resources count too).
    assert int(reply.body["metadata"]["resourceVersion"]) >= int(last)
    assert [item["kind"] for item in reply.body["items"]] == ["Widget"]
    core = await http.get(f"/api/v1/namespaces/{scope.namespace}/configmaps")
    assert (core.body["kind"], core.body["apiVersion"]) == ("ConfigMapList", "v1")


async def test_list_is_sorted_and_scoped_to_the_namespace(http: Http, scope: Scope) -> None:
    other = scope.name("other")
    await http.post(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}}
    )
    for name in ("b", "a", "c"):
        await http.post(scope.widgets(), scope.widget(name))
    await http.post(scope.widgets(other), in_namespace(scope.widget("z"), other))
    names = [item["metadata"]["name"] for item in (await http.get(scope.widgets())).body["items"]]
    assert names == ["a", "b", "c"]
    everywhere = (await http.get(scope.all_widgets)).body["items"]
    # In the order of the storage keys, "<namespace>/<name>" as strings: "ce-x-other/z" < "ce-x/a".
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere] == [
        (other, "z"),
        (scope.namespace, "a"),
        (scope.namespace, "b"),
        (scope.namespace, "c"),
    ]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["w1", "w2"]),
        ("app==web", ["w1", "w2"]),
        ("app=web,tier!=db", ["w1"]),
        ("app!=web", ["w3", "w4"]),
        ("tier in (db, cache)", ["w2", "w3"]),
        ("tier notin (db)", ["w1", "w3", "w4"]),
        ("tier", ["w1", "w2", "w3"]),
        ("!tier", ["w4"]),
        ("app=web,tier", ["w1", "w2"]),
        ("rank>2", ["w3"]),
    ],
)
async def test_label_selector_filters_lists(
    http: Http, scope: Scope, selector: str, expected: list[str]
) -> None:
    await http.post(scope.widgets(), labelled(scope, "w1", app="web", tier="front", rank="1"))
    await http.post(scope.widgets(), labelled(scope, "w2", app="web", tier="db", rank="2"))
    await http.post(scope.widgets(), labelled(scope, "w3", app="batch", tier="cache", rank="3"))
    await http.post(scope.widgets(), labelled(scope, "w4"))
    reply = await http.get(scope.widgets(), params={"labelSelector": selector})
    assert [item["metadata"]["name"] for item in reply.body["items"]] == expected


async def test_malformed_label_selector_is_a_400(http: Http, scope: Scope) -> None:
    reply = await http.get(scope.widgets(), params={"labelSelector": "app in (a"})
    assert reply.status == 400 and reply.body["reason"] == "BadRequest"


async def test_field_selector_filters_lists_by_name_and_namespace(http: Http, scope: Scope) -> None:
    other = scope.name("other")
    await http.post(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}}
    )
    await http.post(scope.widgets(), scope.widget("w1"))
    await http.post(scope.widgets(), scope.widget("w2"))
    await http.post(scope.widgets(other), in_namespace(scope.widget("w1"), other))
    by_name = await http.get(scope.all_widgets, params={"fieldSelector": "metadata.name=w1"})
    assert [i["metadata"]["namespace"] for i in by_name.body["items"]] == [other, scope.namespace]
    both = f"metadata.name=w1,metadata.namespace={other}"
    assert len((await http.get(scope.all_widgets, params={"fieldSelector": both})).body["items"]) == 1
    negated = await http.get(scope.widgets(), params={"fieldSelector": "metadata.name!=w1"})
    assert [i["metadata"]["name"] for i in negated.body["items"]] == ["w2"]


async def test_field_selector_on_an_unindexed_field_of_a_custom_resource_is_a_400(
    http: Http, scope: Scope
) -> None:
    reply = await http.get(scope.widgets(), params={"fieldSelector": "spec.size=1"})
    assert reply.status == 400 and reply.body["reason"] == "BadRequest"
    assert "field label not supported: spec.size" in reply.body["message"]


def names(reply: Reply) -> list[str]:
    return [item["metadata"]["name"] for item in reply.body["items"]]


async def test_lists_are_paginated_with_limit_and_continue(http: Http, scope: Scope) -> None:
    for name in "abcde":
        await http.post(scope.widgets(), scope.widget(name))
    first = await http.get(scope.widgets(), params={"limit": "2"})
    assert names(first) == ["a", "b"] and first.body["metadata"]["remainingItemCount"] == 3
    token = first.body["metadata"]["continue"]
    await http.post(scope.widgets(), scope.widget("f"))  # a later write does not change the listing's version
    second = await http.get(scope.widgets(), params={"limit": "2", "continue": token})
    assert names(second)[:2] == ["c", "d"]
    assert second.body["metadata"]["resourceVersion"] == first.body["metadata"]["resourceVersion"]
    rest = await http.get(
        scope.widgets(), params={"limit": "10", "continue": second.body["metadata"]["continue"]}
    )
    assert names(rest)[0] == "e" and not rest.body["metadata"].get("continue")
    assert "remainingItemCount" not in rest.body["metadata"]
    assert (await http.get(scope.widgets(), params={"limit": "2", "continue": "garbage"})).status == 400


@pytest.mark.emulator_limitation(
    "the pages after the first show the objects as they are now, not as they were at the first page's "
    "resourceVersion"
)
async def test_continued_pages_are_a_snapshot_of_the_first_pages_version(http: Http, scope: Scope) -> None:
    for name in "abc":
        await http.post(scope.widgets(), scope.widget(name))
    first = await http.get(scope.widgets(), params={"limit": "1"})
    await http.post(scope.widgets(), scope.widget("d"))
    await http.delete(f"{scope.widgets()}/c")
    rest = await http.get(scope.widgets(), params={"continue": first.body["metadata"]["continue"]})
    assert names(rest) == ["b", "c"]
