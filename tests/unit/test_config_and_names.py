"""Configuration from the environment and the derived unique name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelops_operator.config import Settings, settings_table
from modelops_operator.providers.base import ResourceRef
from modelops_operator.providers.twilio_autopilot.provider import derived_unique_name


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "MODELOPS_POLL_INTERVAL_SECONDS": "2",
            "MODELOPS_LOG_FORMAT": "json",
            "MODELOPS_TWILIO_AUTOPILOT_URL": "http://127.0.0.1:1",
        }
    )
    assert settings.poll_interval_seconds == 2.0
    assert settings.log_format == "json"
    assert settings.twilio_autopilot_url == "http://127.0.0.1:1"


def test_bad_setting_is_rejected_with_its_name() -> None:
    with pytest.raises(ValidationError, match="poll_interval_seconds"):
        Settings.from_env({"MODELOPS_POLL_INTERVAL_SECONDS": "-1"})


def test_every_setting_is_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [name for name, _, _ in settings_table() if name not in readme]
    assert missing == []


def test_derived_unique_name_is_deterministic_bounded_and_uid_specific() -> None:
    ref = ResourceRef(namespace="team-a", name="x" * 80, uid="uid-1")
    name = derived_unique_name(ref)
    assert name == derived_unique_name(ref)
    assert len(name) <= 64
    assert name.startswith("team-a-xxx")
    assert name != derived_unique_name(ResourceRef(namespace="team-a", name="x" * 80, uid="uid-2"))


def test_every_metric_is_in_the_readme() -> None:
    """The README's metrics table names every metric with its type and exact labels (`.labels()` refuses any
    other label names)."""
    from pathlib import Path

    from prometheus_client import Counter, Gauge, Histogram

    from modelops_operator.metrics import Metrics

    table = (
        (Path(__file__).resolve().parents[2] / "README.md").read_text().split("<!-- metrics-table -->", 2)[1]
    )
    rows = {}
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        labels = {label.strip().strip("`") for label in cells[2].split(",")}
        rows[cells[0].strip("`")] = (cells[1], labels)
    documented = {}
    for collector in vars(Metrics()).values():
        if not isinstance(collector, Counter | Gauge | Histogram):
            continue
        (family,) = collector.describe()
        name = family.name + ("_total" if family.type == "counter" else "")
        assert name in rows, f"{name} is not in the README's metrics table"
        type_, labels = rows[name]
        assert type_ == family.type, name
        collector.labels(**{label: "x" for label in labels})
        documented[name] = type_
    assert set(documented) == set(rows)
