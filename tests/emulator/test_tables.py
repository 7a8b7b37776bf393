"""Server-side printing: meta.k8s.io/v1 Tables as kubectl asks for them."""

from __future__ import annotations

import pytest

from tests.emulator.helpers import Http, Scope

TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)
pytestmark = pytest.mark.usefixtures("crd")


async def test_table_for_a_list_uses_the_printer_columns(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1", size=3, colors=[{"name": "red"}]))
    await http.patch(
        f"{scope.widgets()}/w1/status", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    )
    await http.post(scope.widgets(), scope.widget("w2", size=5))
    reply = await http.get(scope.widgets(), headers={"Accept": TABLE})
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


async def test_table_for_a_single_object_with_the_full_object(http: Http, scope: Scope) -> None:
    await http.post(scope.widgets(), scope.widget("w1", size=3))
    reply = await http.get(
        f"{scope.widgets()}/w1", headers={"Accept": TABLE}, params={"includeObject": "Object"}
    )
    (row,) = reply.body["rows"]
    assert row["cells"][:2] == ["w1", 3]
    assert row["object"]["kind"] == "Widget" and row["object"]["spec"] == {"size": 3}


async def test_builtin_tables_have_name_and_age(http: Http, scope: Scope) -> None:
    secret = {"metadata": {"name": "s"}, "type": "Opaque", "stringData": {"a": "1", "b": "2"}}
    path = f"/api/v1/namespaces/{scope.namespace}/secrets"
    await http.post(path, secret)
    secrets = (await http.get(path, headers={"Accept": TABLE})).body
    # Built-in printers declare every column a string, whatever the cells hold.
    assert [(c["name"], c["type"]) for c in secrets["columnDefinitions"]] == [
        ("Name", "string"),
        ("Type", "string"),
        ("Data", "string"),
        ("Age", "string"),
    ]
    assert secrets["rows"][0]["cells"][:3] == ["s", "Opaque", 2]
    namespaces = (await http.get("/api/v1/namespaces", headers={"Accept": TABLE})).body
    assert [c["name"] for c in namespaces["columnDefinitions"]] == ["Name", "Status", "Age"]
    assert ["default", "Active"] in [row["cells"][:2] for row in namespaces["rows"]]


async def test_event_tables_have_the_wide_columns_and_unknown_times(http: Http, scope: Scope) -> None:
    involved = {"kind": "ConfigMap", "name": "c", "namespace": scope.namespace, "fieldPath": "data"}
    event = {
        "metadata": {"name": "e1"},
        "involvedObject": involved,
        "reason": "Changed",
        "message": " changed ",
        "type": "Normal",
        "source": {"component": "tester", "host": "node-1"},
    }
    path = f"/api/v1/namespaces/{scope.namespace}/events"
    await http.post(path, event)
    table = (await http.get(path, headers={"Accept": TABLE})).body
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
    (row,) = table["rows"]
    assert row["cells"] == [
        "<unknown>",  # no lastTimestamp, firstTimestamp nor eventTime
        "Normal",
        "Changed",
        "configmap/c",
        "data",
        "tester, node-1",
        "changed",
        "<unknown>",
        1,
        "e1",
    ]
