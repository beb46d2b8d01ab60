"""The Quix Streams peer: Nudge's pure core in a Quix Streams app (``quix_core`` mode).

Run by the bench with the interpreter of its own virtualenv (``streams.bench.quix_venv``):
``python -m streams.bench.quix_core --events N --launched-at T``, settings from
``NUDGE_*`` as every mode. Per message it does what the worker's ingest stage does
(``streams.bench.core_pass``): decode with ``schemas.intake.decode_event``, load the
user's ``UserState`` bytes from Quix's state store, ``process``, store the record's bytes
again, and produce the decisions, commands, interventions (and dead letters) as the
worker serialises them to the run's Nudge output topics. What Quix does around that is
its own default: RocksDB state with a changelog topic, a checkpoint (flush and commit)
every 5 s, at-least-once, one message at a time through the dataframe.

Prometheus counters are not kept (the worker's are a few per event); the result line
counts the outputs instead, so they can be checked against the pipeline's.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.models.serializers import Serializer
from quixstreams.state.rocksdb import RocksDBOptions

from schemas.intake import Rejection, dead_letter, decode_event
from schemas.settings import Settings
from schemas.topics import (
    BEHAVIOR_EVENTS,
    BEHAVIOR_EVENTS_DLQ,
    COMMS_COMMANDS,
    INTERVENTIONS_COMMANDS,
    TRIGGER_DECISIONS,
)
from streams.bench.core_pass import (
    COMMANDS,
    DECISIONS,
    INTERVENTIONS,
    CorePass,
    serialised_outputs,
)
from streams.bench.meter import Meter, result_line
from streams.core.state.record import UserState

#: The one state key per message key: the user's whole record, as the worker keeps it.
RECORD = "record"
#: Output kind of a dead letter (the others are ``core_pass``'s).
DEAD_LETTERS = "dead_letters"


class OutputBytes(Serializer):  # type: ignore[misc] # quixstreams is untyped here
    """Serialise an output ``(kind, bytes)`` as its bytes (the kind picks the topic)."""

    def __call__(self, value: tuple[str, bytes], ctx: Any) -> bytes:
        """Return the message bytes."""
        return value[1]


def state_dumps(value: Any) -> bytes:
    """Store bytes as they are (the record's own codec); anything else Quix keeps as JSON."""
    if isinstance(value, bytes):
        return value
    import orjson  # noqa: PLC0415 - only for Quix's own non-record values

    return orjson.dumps(value)


def state_loads(value: bytes) -> bytes:
    """Return stored bytes as they are: the caller decodes the record."""
    return value


class QuixCore:
    """The per-message handler and what it counts."""

    def __init__(self, app: Any, settings: Settings, meter: Meter) -> None:
        self.app = app
        self.core = CorePass.from_settings(settings)
        self.meter = meter
        self.outputs: Counter[str] = Counter()
        self.input_topic = BEHAVIOR_EVENTS.full_name(settings.topic_prefix)

    def handle(
        self, value: bytes, key: bytes | None, timestamp: int, headers: Any, state: Any
    ) -> list[tuple[str, bytes]]:
        """Process one message; return its outputs as ``(kind, bytes)``."""
        self.meter.begin()
        now = datetime.now(UTC)
        event, _ = decode_event(key, value, now=now)
        if isinstance(event, Rejection):
            outputs = [(DEAD_LETTERS, self._letter(event, key, value, now))]
        else:
            stored = state.get(RECORD)
            record = UserState() if stored is None else UserState.from_bytes(stored)
            result = self.core.step(record, event, now)
            outputs = []
            if result.applied:
                state.set(RECORD, record.to_bytes())
                outputs = serialised_outputs(result)
        for kind, _ in outputs:
            self.outputs[kind] += 1
        self.meter.add(1)
        if self.meter.done.is_set():
            self.app.stop()
        return outputs

    def _letter(self, rejection: Rejection, key: bytes | None, value: bytes, now: Any) -> bytes:
        # Offsets are not at hand in a dataframe function; the letter says the topic.
        letter = dead_letter(
            rejection, topic=self.input_topic, partition=-1, offset=-1, key=key,
            value=value, failed_at=now,
        )  # fmt: skip
        return letter.model_dump_json().encode()


def build(settings: Settings, meter: Meter) -> tuple[Any, QuixCore]:
    """Return the Quix application and its handler, reading the run's events topic."""
    app = Application(
        broker_address=settings.kafka_bootstrap,
        consumer_group=settings.app_id,
        auto_offset_reset="earliest",
        state_dir=Path(settings.data_dir) / "quix-state",
        rocksdb_options=RocksDBOptions(dumps=state_dumps, loads=state_loads),
        loglevel="WARNING",
    )
    handler = QuixCore(app, settings, meter)
    prefix = settings.topic_prefix
    source = app.topic(handler.input_topic, key_deserializer="bytes", value_deserializer="bytes")
    targets = {
        kind: app.topic(spec.full_name(prefix), key_serializer="bytes",
                        value_serializer=OutputBytes())
        for kind, spec in (
            (DECISIONS, TRIGGER_DECISIONS), (COMMANDS, COMMS_COMMANDS),
            (INTERVENTIONS, INTERVENTIONS_COMMANDS), (DEAD_LETTERS, BEHAVIOR_EVENTS_DLQ),
        )
    }  # fmt: skip

    def target(value: tuple[str, bytes], key: Any, timestamp: int, headers: Any) -> Any:
        return targets[value[0]]

    frame = app.dataframe(source)
    frame = frame.apply(handler.handle, stateful=True, expand=True, metadata=True)
    frame.to_topic(target)
    return app, handler


def main(argv: Sequence[str] | None = None) -> int:
    """Process ``--events`` events with the Quix app; print the result line."""
    parser = argparse.ArgumentParser(prog="python -m streams.bench.quix_core")
    parser.add_argument("--events", type=int, required=True, help="stop after this many")
    parser.add_argument("--launched-at", type=float, required=True, help="parent's time.time()")
    parsed = parser.parse_args(argv)
    meter = Meter(parsed.events)
    app, handler = build(Settings(), meter)
    app.run()  # returns once ``handle`` stopped it, after the final checkpoint
    meter.finish()
    counts = handler.outputs
    result = meter.result(
        "quix_core",
        parsed.launched_at,
        decisions=counts[DECISIONS],
        commands=counts[COMMANDS],
        interventions=counts[INTERVENTIONS],
        dead_letters=counts[DEAD_LETTERS],
    )
    print("\n" + result_line(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
