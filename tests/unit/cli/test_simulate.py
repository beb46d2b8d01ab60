"""``nudge triggers simulate`` without a broker: times, a bad file, the printed table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from schemas.settings import Settings
from streams.cli.main import main
from streams.cli.simulate import Request, moment, run, window_of
from streams.core.replay import simulate
from streams.core.replay.report import render
from tests.paths import CATALOGUE_FILE
from tests.unit.core.replay.history_fixture import (
    MODERATE,
    SETUP,
    WINDOW,
    history_messages,
    live_definitions,
    lowered_spike,
)

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", NOW - timedelta(days=7)),
    ("36h", NOW - timedelta(hours=36)),
    ("0s", NOW),
    ("2026-11-30T08:00:00+01:00", datetime(2026, 11, 30, 7, tzinfo=UTC)),
    ("2026-11-30T08:00:00", datetime(2026, 11, 30, 8, tzinfo=UTC)),  # naive: UTC
    ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
])  # fmt: skip
def test_a_moment_is_a_duration_before_now_or_a_time(text: str, expected: datetime) -> None:
    assert moment(text, NOW) == expected


@pytest.mark.parametrize(("since", "until", "warmup", "error"), [
    ("yesterday", None, "0s", "neither a duration"),
    ("7d", "8d", "0s", "is not after --since"),
    ("7d", None, "a week", "a duration is"),
])  # fmt: skip
def test_a_window_that_cannot_be_read_is_refused(
    since: str, until: str | None, warmup: str, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        window_of(Request([], since=since, until=until, warmup=warmup), NOW)


def test_the_window_and_its_warmup() -> None:
    window = window_of(Request([], since="7d", warmup="28d"), NOW)
    assert (window.start, window.end) == (NOW - timedelta(days=7), NOW)
    assert window.folded_from == NOW - timedelta(days=35)


def test_an_invalid_file_exits_2_before_any_broker_is_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = yaml.safe_load(CATALOGUE_FILE.read_text("utf-8"))
    spike = next(d for d in documents if d["id"] == "spending_spike")
    spike["thresholds"] = {"spike_percent": 5}  # min_week_spend and min_zscore gone
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump([spike]), "utf-8")
    # No broker at this address: reaching for one would fail otherwise than with 2.
    settings = Settings(kafka_bootstrap="127.0.0.1:9")
    assert run(settings, Request([path])) == 2
    assert "refers to unknown threshold $min_week_spend" in capsys.readouterr().out


def test_the_command_line_refuses_a_bad_time_with_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    path = tmp_path / "ok.yaml"
    documents = yaml.safe_load(CATALOGUE_FILE.read_text("utf-8"))
    path.write_text(yaml.safe_dump(documents[:1]), "utf-8")
    assert main(["triggers", "simulate", str(path), "--since", "last week"]) == 2
    assert "neither a duration" in capsys.readouterr().out


def test_the_table_shows_the_changed_trigger_with_its_gains_first() -> None:
    simulation = simulate(history_messages(), live_definitions(), lowered_spike(), SETUP, WINDOW)
    text = render(simulation, 2, {"events_per_second": 1234.0})
    lines = text.splitlines()
    assert lines[0].startswith(f"simulated {WINDOW.start:%Y-%m-%d %H:%M} to")
    assert "warm-up from" in lines[0]
    assert "1234 events/s" in lines[1]
    assert "state starts empty" in lines[2]
    assert lines[3] == "  changed: spending_spike"
    assert lines[5] == "* spending_spike (changed)"
    [spike] = [t for t in simulation.triggers if t.trigger_id == "spending_spike"]
    users = lines[6].split()
    assert users[:4] == ["users", str(len(spike.live.fired_users)), "->",
                         str(len(spike.candidate.fired_users))]  # fmt: skip
    assert spike.gained[:2] == list(MODERATE)  # sorted, and they sort first
    more = len(spike.gained) - 2
    assert f"gained {len(spike.gained)} (moderate-1, moderate-2, +{more} more)" in lines[6]
    assert lines[6].endswith("lost 0")
    assert lines[8].strip().startswith("sends       email ")
    assert lines[-1].startswith("the same under both (users fired): ")
