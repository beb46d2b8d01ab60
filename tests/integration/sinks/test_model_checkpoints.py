"""Global models' checkpoints in the registry: every one a row, and ``nudge models list``.

``models.checkpoints`` is compacted (each partition's newest); the sink keeps every
checkpoint in ``model_checkpoints``, once (a replay is not a second row), and what is not
a checkpoint becomes a dead letter. ``nudge models list`` adds each model's newest per
partition up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from schemas.learning import SEND_TIME_PRIOR, ModelCheckpoint, checkpoint_key
from schemas.settings import Settings
from schemas.topics import MODELS_CHECKPOINTS
from sinks.migrate import upgrade
from streams.cli.main import build_parser
from tests.integration.harness import wait_until
from tests.integration.sink_harness import offsets_caught_up, publish_raw, query, running_sink

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 3, 9, tzinfo=UTC)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    migrated = make_settings()
    upgrade(migrated)
    return migrated


def checkpoint(partition: int, sequence: int, events: int, sends_at_19: int) -> tuple[bytes, bytes]:
    sends = [0] * 24
    sends[19] = sends_at_19
    message = ModelCheckpoint(
        model=SEND_TIME_PRIOR, partition=partition, sequence=sequence,
        taken_at=AT + timedelta(minutes=5 * sequence), events=events,
        state={"sends": sends, "opens": [0] * 24},
    )  # fmt: skip
    return checkpoint_key(SEND_TIME_PRIOR, partition).encode(), message.model_dump_json().encode()


def stored(settings: Settings) -> tuple[int, int]:
    """Return the rows of ``model_checkpoints`` and of ``dead_letters``."""
    (row,) = query(
        settings,
        "SELECT (SELECT count(*) FROM model_checkpoints) AS checkpoints,"
        " (SELECT count(*) FROM dead_letters) AS letters",
    )
    return row["checkpoints"], row["letters"]


async def test_every_checkpoint_is_a_row_once_and_models_list_adds_the_newest_up(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    history = [checkpoint(0, 1, 10, 4), checkpoint(1, 1, 7, 2), checkpoint(0, 2, 25, 9)]
    messages = [*history, history[0], (b"send_time_prior/0", b"{not a checkpoint")]
    async with running_sink(settings):
        await publish_raw(settings, MODELS_CHECKPOINTS, messages)
        await wait_until(lambda: stored(settings) == (3, 1), "three checkpoints, a dead letter")
        await wait_until(lambda: offsets_caught_up(settings), "offsets committed to the end")

    rows = query(
        settings,
        "SELECT model, partition, sequence, events, taken_at, state FROM model_checkpoints"
        " ORDER BY partition, sequence",
    )
    assert [(r["partition"], r["sequence"], r["events"]) for r in rows] == [
        (0, 1, 10), (0, 2, 25), (1, 1, 7),
    ]  # fmt: skip
    assert rows[1]["state"]["sends"][19] == 9 and rows[1]["taken_at"] == AT + timedelta(minutes=10)
    (letter,) = query(settings, "SELECT topic, kind FROM dead_letters")
    assert letter == {
        "topic": MODELS_CHECKPOINTS.full_name(settings.topic_prefix),
        "kind": "not_json",
    }

    args = build_parser().parse_args(["models", "list"])
    assert args.run(settings, args) == 0
    out = capsys.readouterr().out
    versions, models = out.split("\n\n")
    assert versions.startswith("alert_recommender: no version yet")
    # Partition 0's newest (25 events) and partition 1's (7); the newest taken at 09:10.
    assert models.splitlines()[2].split() == [SEND_TIME_PRIOR, "2", "32", "2026-12-03", "09:10"]
