"""The benchmark's arithmetic (bench/table.py, bench/measure.py): targets, ratios, verdicts, per-interval
buckets and the printed cells. The benchmark itself takes minutes and is not in the suite; this keeps its
numbers from silently going wrong."""

from __future__ import annotations

from bench.measure import KubeCounts, KubeRequest, per_interval, upstream_kind, verb_of
from bench.table import MISSING, Row, Target, polling_target, ratio, render, saturation, time_target


def test_targets_ratios_and_verdicts() -> None:
    assert ratio(5.0, 20.0) == 0.25
    assert ratio(None, 20.0) is None and ratio(5.0, None) is None
    assert ratio(0.0, 0.0) is None and ratio(3.0, 0.0) is None  # no ratio against a zero baseline

    assert Target(4).met(4.0) is True and Target(4).met(4.01) is False
    assert Target(10, at_most=False).met(12) is True
    assert Target(4).met(None) is None

    assert time_target(1_000).limit == 20 and time_target(1_000).note == ""
    assert time_target(10_000).limit == 200
    assert time_target(200).limit == 20 and time_target(200).note == "scaled"
    # 1.5 x (one parent + ceil(1000 / 50) pages); ceil, not floor, for a partial last page.
    assert polling_target(1, 1_000, 50).limit == 31.5
    assert polling_target(1, 1_001, 50).limit == 33.0
    assert polling_target(1, 200, 50).label(0) == "≤ 7.5"  # never rounded up to a laxer "≤ 8"

    assert Row("emulated", 10, "m", 5.0, 4.0, Target(4)).verdict == "MISS"
    assert Row("emulated", 10, "m", 4.0, 8.0, Target(4)).verdict == "ok"
    assert Row("emulated", 10, "m", None, 8.0, Target(4)).verdict == "n/a"
    assert Row("emulated", 10, "m", 4.0, 8.0).verdict == ""
    assert Row("emulated", 10, "m", 0.1, 8.0, Target(4), incomplete=True).verdict == "incomplete"


def test_rendered_cells_line_up_with_their_numbers() -> None:
    rows = [
        Row("emulated", 1_000, "time to all Ready (s)", 12.34, 24.68, time_target(1_000)),
        Row("emulated", 1_000, "k8s writes/resource", 5.0, 5.0, Target(4), precision=2),
        Row("real", 1_000, "time to all Ready (s)", None, 30.0, time_target(1_000), remark="timeout 9/10"),
    ]
    lines = render(rows).splitlines()
    assert lines[0].startswith("cluster") and lines[0].endswith("naive baseline  ratio  ok?")
    assert lines[2].split()[-6:] == ["12.3", "≤", "20.0", "24.7", "0.50x", "ok"]
    assert lines[3].split()[-6:] == ["5.00", "≤", "4.00", "5.00", "1.00x", "MISS"]
    assert lines[4] == ""  # a blank line between (cluster, N) groups
    assert "timeout 9/10" in lines[5] and lines[5].split()[-3:] == ["30.0", MISSING, "n/a"]
    assert "1,000" in lines[2]


def test_requests_are_classified_counted_and_bucketed() -> None:
    sid = "UG" + "0" * 32
    assert upstream_kind("GET", "/v1/Assistants/UA1/ModelBuilds") == "list"
    assert upstream_kind("POST", "/v1/Assistants/UA1/ModelBuilds") == "create"
    assert upstream_kind("GET", f"/v1/Assistants/UA1/ModelBuilds/{sid}") == "fetch"
    assert upstream_kind("GET", "/v1/Assistants/UA1/ModelBuilds/bench-build-00001-abc") == "find"

    assert verb_of("GET", None, {"watch": "true"}) == "watch"
    assert verb_of("GET", None, {}) == "list" and verb_of("GET", "x", {}) == "get"
    assert verb_of("PATCH", "x", {}) == "patch" and verb_of("POST", None, {}) == "create"

    # [0, 3) in 1 s buckets; the end is exclusive and a partial last bucket still counts.
    assert per_interval([0.0, 0.5, 1.0, 2.99, 3.0, -1.0], 0.0, 3.0, 1.0) == [2, 1, 1]
    assert per_interval([0.1, 2.4], 0.0, 2.5, 1.0) == [1, 0, 1]

    requests = [
        KubeRequest(1.0, "patch", "modelbuilds", "", "a"),
        KubeRequest(1.1, "patch", "modelbuilds", "status", "a"),
        KubeRequest(1.2, "patch", "modelbuilds", "status", "b"),
        KubeRequest(1.3, "create", "events", "", ""),
        KubeRequest(1.4, "get", "secrets", "", "twilio"),
        KubeRequest(1.5, "watch", "modelbuilds", "", ""),
        KubeRequest(9.0, "patch", "modelbuilds", "status", "a"),  # outside the window
    ]
    counts = KubeCounts.of(requests, 0.0, 5.0, "modelbuilds")
    assert (counts.writes, counts.events, counts.reads, counts.max_writes_one_object) == (3, 1, 2, 2)
    assert counts.by_route["patch modelbuilds/status"] == 2 and counts.by_route["create events"] == 1


def test_the_saturated_side_is_named() -> None:
    go = {"kube-apiserver": 200.0}
    line = saturation({"operator": 97.0, "emulator": 20.0}, {}, go, 60.0, 2)
    assert line.startswith("operator saturates. operator 97%, emulator 20%, machine 60% of 2 cores busy")
    # Running 80% and waiting 15% for a CPU: it wants its whole core.
    assert saturation({"operator": 80.0}, {"operator": 15.0}, go, 70.0, 2).startswith("operator saturates")
    # 150% + 20% waiting of kube-apiserver is 85% of its two cores: not saturated, but the busiest.
    line = saturation({"operator": 40.0, "kube-apiserver": 150.0}, {"kube-apiserver": 20.0}, go, 80.0, 2)
    assert line.startswith("nothing saturates (busiest: kube-apiserver)")
    assert "kube-apiserver 150% + 20% waiting for a CPU (85% of 2 cores)" in line
    line = saturation({"operator": 50.0}, {}, go, 95.0, 2)
    assert line.startswith("the machine saturates.") and line.endswith("other processes 140%")
