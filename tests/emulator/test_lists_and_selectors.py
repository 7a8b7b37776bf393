"""Lists: typed, with a real resourceVersion, and filtered by label and field selectors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.helpers import WIDGETS, Http, widget

pytestmark = pytest.mark.usefixtures("crd")


def labelled(name: str, **labels: str) -> dict[str, Any]:
    body = widget(name)
    body["metadata"]["labels"] = labels
    return body


async def test_list_has_kind_api_version_and_resource_version(http: Http) -> None:
    last = (await http.post(WIDGETS, widget("w1"))).body["metadata"]["resourceVersion"]
    reply = await http.get(WIDGETS)
    assert reply.body["kind"] == "WidgetList"
    assert reply.body["apiVersion"] == "example.com/v1"
    assert reply.body["metadata"]["resourceVersion"] == last
    assert [item["kind"] for item in reply.body["items"]] == ["Widget"]
    core = await http.get("/api/v1/namespaces/default/configmaps")
    assert (core.body["kind"], core.body["apiVersion"]) == ("ConfigMapList", "v1")


async def test_list_is_sorted_and_scoped_to_the_namespace(http: Http) -> None:
    await http.post(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}
    )
    for name in ("b", "a", "c"):
        await http.post(WIDGETS, widget(name))
    await http.post("/apis/example.com/v1/namespaces/other/widgets", widget("z"))
    names = [item["metadata"]["name"] for item in (await http.get(WIDGETS)).body["items"]]
    assert names == ["a", "b", "c"]
    everywhere = (await http.get("/apis/example.com/v1/widgets")).body["items"]
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere] == [
        ("default", "a"),
        ("default", "b"),
        ("default", "c"),
        ("other", "z"),
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
async def test_label_selector_filters_lists(http: Http, selector: str, expected: list[str]) -> None:
    await http.post(WIDGETS, labelled("w1", app="web", tier="front", rank="1"))
    await http.post(WIDGETS, labelled("w2", app="web", tier="db", rank="2"))
    await http.post(WIDGETS, labelled("w3", app="batch", tier="cache", rank="3"))
    await http.post(WIDGETS, labelled("w4"))
    reply = await http.get(WIDGETS, params={"labelSelector": selector})
    assert [item["metadata"]["name"] for item in reply.body["items"]] == expected


async def test_malformed_label_selector_is_a_400(http: Http) -> None:
    reply = await http.get(WIDGETS, params={"labelSelector": "app in (a"})
    assert reply.status == 400 and reply.body["reason"] == "BadRequest"


async def test_field_selector_filters_lists_by_name_and_namespace(http: Http) -> None:
    await http.post(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}
    )
    await http.post(WIDGETS, widget("w1"))
    await http.post(WIDGETS, widget("w2"))
    await http.post("/apis/example.com/v1/namespaces/other/widgets", widget("w1"))
    by_name = await http.get("/apis/example.com/v1/widgets", params={"fieldSelector": "metadata.name=w1"})
    assert [i["metadata"]["namespace"] for i in by_name.body["items"]] == ["default", "other"]
    both = "metadata.name=w1,metadata.namespace=other"
    assert (
        len((await http.get("/apis/example.com/v1/widgets", params={"fieldSelector": both})).body["items"])
        == 1
    )
    negated = await http.get(WIDGETS, params={"fieldSelector": "metadata.name!=w1"})
    assert [i["metadata"]["name"] for i in negated.body["items"]] == ["w2"]
