"""Unit tests of the emulator's own modules (no API server involved)."""

from __future__ import annotations

import pytest

from modelops_sandbox.cluster import patching
from modelops_sandbox.cluster.tables import human_duration


def test_merge_patch_of_a_non_object_replaces_the_target() -> None:
    assert patching.merge_patch({"a": 1}, ["x"]) == ["x"]
    assert patching.merge_patch({"a": {"b": 1}}, {"a": {"b": None}}) == {"a": {}}


def test_json_patch_does_not_mutate_its_input() -> None:
    target = {"a": [1]}
    assert patching.json_patch(target, [{"op": "add", "path": "/a/0", "value": 0}]) == {"a": [0, 1]}
    assert target == {"a": [1]}
    with pytest.raises(patching.PatchFailed):
        patching.json_patch(target, [{"op": "test", "path": "/a", "value": [True]}])


def test_ages_are_rendered_like_kubectl() -> None:
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
