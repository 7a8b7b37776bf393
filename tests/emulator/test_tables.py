"""Server-side printing: meta.k8s.io/v1 Tables as kubectl asks for them."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import WIDGETS, Http, widget

TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)
pytestmark = pytest.mark.usefixtures("crd")


async def test_table_for_a_list_uses_the_printer_columns(http: Http) -> None:
    await http.post(WIDGETS, widget("w1", size=3, colors=[{"name": "red"}]))
    await http.patch(
        f"{WIDGETS}/w1/status", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    )
    await http.post(WIDGETS, widget("w2", size=5))
    reply = await http.get(WIDGETS, headers={"Accept": TABLE})
    assert reply.status == 200
    table = reply.body
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", "string", 0),
        ("Size", "integer", 0),
        ("Ready", "string", 0),
        ("Color", "string", 1),
        ("Age", "date", 0),
    ]
    assert table["columnDefinitions"][0]["format"] == "name"
    cells = [row["cells"] for row in table["rows"]]
    assert [c[:4] for c in cells] == [["w1", 3, "True", "red"], ["w2", 5, None, None]]
    assert all(c[4].endswith("s") for c in cells)  # an age like "0s", not a timestamp
    obj = table["rows"][0]["object"]
    assert obj["kind"] == "PartialObjectMetadata" and obj["metadata"]["name"] == "w1"
    assert "spec" not in obj


async def test_table_for_a_single_object_with_the_full_object(http: Http) -> None:
    await http.post(WIDGETS, widget("w1", size=3))
    reply = await http.get(f"{WIDGETS}/w1", headers={"Accept": TABLE}, params={"includeObject": "Object"})
    (row,) = reply.body["rows"]
    assert row["cells"][:2] == ["w1", 3]
    assert row["object"]["kind"] == "Widget" and row["object"]["spec"] == {"size": 3}


async def test_builtin_tables_have_name_and_age(http: Http) -> None:
    secret = {"metadata": {"name": "s"}, "type": "Opaque", "stringData": {"a": "1", "b": "2"}}
    await http.post("/api/v1/namespaces/default/secrets", secret)
    secrets = (await http.get("/api/v1/namespaces/default/secrets", headers={"Accept": TABLE})).body
    assert [c["name"] for c in secrets["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert secrets["rows"][0]["cells"][:3] == ["s", "Opaque", 2]
    namespaces = (await http.get("/api/v1/namespaces", headers={"Accept": TABLE})).body
    assert namespaces["rows"][0]["cells"][:2] == ["default", "Active"]


def test_ages_are_rendered_like_kubectl() -> None:
    from modelops_sandbox.cluster.tables import human_duration

    assert [human_duration(s) for s in (0, 59, 119, 120, 185, 600, 3 * 3600, 5 * 3600 + 60, 30 * 3600)] == [
        "0s",
        "59s",
        "119s",
        "2m",
        "3m5s",
        "10m",
        "3h",
        "5h1m",
        "30h",
    ]
    assert human_duration(3 * 86400) == "3d" and human_duration(400 * 86400) == "400d"
