"""A fuzz through the real worker: hostile messages among valid events (issue 8).

The poison corpus (``tests/data/poison.jsonl``), cycled, and seeded random mutations of
valid events, each broken so that any correct intake must refuse it, are published
interleaved with valid events of users built so every valid event is observable
(``nudge_events_total``) and a few spikers whose ``spending_spike`` commands must
arrive. Hostile trigger definitions go to ``triggers.definitions`` before and during
the stream. Then: every hostile message has exactly one dead letter (matched by topic,
partition and offset), no valid one has any, every valid event is processed, every
expected command arrives, the worker is alive with no crash in its log, and its group
has committed everything.

Size: ``NUDGE_FUZZ_HOSTILE`` hostile messages (default 2,000) and about as many valid
events (``NUDGE_FUZZ_VALID``); the issue's full size is ``NUDGE_FUZZ_HOSTILE=10000``.
``NUDGE_FUZZ_SEED`` (default 8) fixes the mutations and the interleaving;
``NUDGE_FUZZ_HEAVY`` (default 2) is how often each ~1 MB poison is sent;
``NUDGE_FUZZ_DEFINITIONS=0`` leaves the hostile definitions out (to see what the input
poisons alone do while a definition already stops everything).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas.settings import Settings
from schemas.topics import (
    BEHAVIOR_EVENTS,
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    RISK_SCORES,
    TRIGGERS_DEFINITIONS,
)
from tests.integration.harness import NudgeProcess, free_port, scrape
from tests.integration.runtime.poison_support import (
    DEAD_LETTER_TOPICS,
    INPUTS,
    Outgoing,
    command_pairs,
    crash_signs,
    dead_letter_places,
    page_views,
    publish_tracked,
    read_all,
    settle,
    total,
    valid,
)
from tests.integration.scenarios import spiker
from tests.poison import Poison, definition_poisons, input_poisons
from tests.unit.factories import event

pytestmark = pytest.mark.integration

HOSTILE = int(os.environ.get("NUDGE_FUZZ_HOSTILE", "2000"))
VALID = int(os.environ.get("NUDGE_FUZZ_VALID", str(HOSTILE)))
SEED = int(os.environ.get("NUDGE_FUZZ_SEED", "8"))
HEAVY = int(os.environ.get("NUDGE_FUZZ_HEAVY", "2"))
DEFINITIONS = os.environ.get("NUDGE_FUZZ_DEFINITIONS", "1") != "0"
SPIKERS = 5
#: Share of hostile messages taken from the corpus; the rest are mutations.
CORPUS_SHARE = 0.5
#: Control and format characters a user id must not hold.
BAD_ID_CHARACTERS = ("\x00", "\x07", "\x1b", "\u202e", "\u2028", "\u200b", "\n")
ZONE_FOLDERS = ("America", "Europe", "Asia", "Africa", "Etc", "Pacific", "Australia")


@dataclass
class Plan:
    """Every message of the run, as per-user sequences to interleave."""

    sequences: list[list[Outgoing]] = field(default_factory=list)
    spikers: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for sequence in self.sequences for m in sequence if m.kind == kind)


def _base(user: str, at: datetime, n: int, payload: dict) -> dict:
    return json.loads(event(user, at, payload, event_id=f"{user}-m{n}").model_dump_json())


def _mutations(rng: random.Random, user: str, now: datetime, n: int) -> list[Outgoing]:
    """One valid event of a fresh user, broken in one way every correct intake refuses."""
    at = now - timedelta(minutes=rng.randint(1, 600))
    key = user.encode()
    spend = {"type": "transaction", "amount": f"{rng.randint(1, 9999)}.00"}
    doc = _base(user, at, n, spend)
    kind = rng.randrange(12)
    setup: list[Outgoing] = []
    spec = BEHAVIOR_EVENTS
    label = f"mutation:{kind}"
    if kind == 0:  # a required field missing
        del doc[rng.choice(["event_id", "user_id", "occurred_at", "source", "payload"])]
    elif kind == 1:  # an unknown payload type
        doc["payload"]["type"] = "".join(rng.choices("abcdefghij_", k=rng.randint(1, 30)))
    elif kind == 2:  # a time that is not one
        doc["occurred_at"] = rng.choice(["yesterday", "2026-13-01T00:00:00Z", at.isoformat()[:19]])
    elif kind == 3:  # an amount of the wrong type or sign
        doc["payload"]["amount"] = rng.choice([[1], {"v": 1}, True, "-5.00", "12 USD", "1e400"])
    elif kind == 4:  # truncated JSON
        raw = orjson.dumps(doc)
        return [Outgoing(spec, key, raw[: rng.randint(1, len(raw) - 2)], "hostile", label)]
    elif kind == 5:  # a byte that is not UTF-8
        spliced = bytearray(orjson.dumps(doc))
        spliced.insert(rng.randint(1, len(spliced) - 1), 0xFF)
        return [Outgoing(spec, key, bytes(spliced), "hostile", label)]
    elif kind == 6:  # keyed by someone else
        key = f"{user}-not-me".encode()
    elif kind == 7:  # a control or format character in the user id
        bad = f"{user}{rng.choice(BAD_ID_CHARACTERS)}x"
        doc["user_id"], key = bad, bad.encode()
    elif kind == 8:  # nesting deep enough to exhaust the sanitiser's recursion
        depth = rng.randint(500, 1000)
        raw = orjson.dumps(doc)
        raw = b'{"extra":' + b"[" * depth + b"]" * depth + b"," + raw[1:]
        return [Outgoing(spec, key, raw, "hostile", label)]
    elif kind == 9:  # a time zone that is a folder, after a status the change is news to
        single = _base(user, at - timedelta(hours=1), n + 1_000_000, {"type": "profile_update"})
        single["payload"]["relationship_status"] = "single"
        setup = [Outgoing(spec, key, orjson.dumps(single), "valid")]
        doc["payload"] = {
            "type": "profile_update",
            "relationship_status": "married",
            "timezone": rng.choice(ZONE_FOLDERS),
        }
    elif kind == 10:  # a card balance past what Decimal arithmetic holds
        doc["payload"] = {
            "type": "balance_snapshot",
            "account_kind": "credit_card",
            "credit_limit": "1000.00",
            "balance": f"1E+{rng.randint(400, 999999)}",
        }
    elif rng.random() < 0.5:  # a risk score or outcome out of its range, on its own topic
        spec, doc["payload"] = (
            RISK_SCORES,
            {"type": "risk_score", "score": rng.uniform(1.01, 9)},
        )
    else:
        doc["payload"] = {"type": "comms_outcome", "command_id": "c", "outcome": "boom"}
        spec = COMMS_OUTCOMES
    return [*setup, Outgoing(spec, key, orjson.dumps(doc), "hostile", label)]


def _from_corpus(poison: Poison, user: str, now: datetime, seq: int) -> list[Outgoing]:
    item = poison.instance(user=user, now=now, seq=seq)
    spec = INPUTS[poison.topic]
    setup = [Outgoing(spec, k, v, "valid") for k, v in item.setup]
    kind = {"reject": "hostile", "accept": "valid", "either": "either"}[poison.expect]
    return [*setup, Outgoing(spec, item.key, item.value, kind, poison.name)]


def plan(now: datetime) -> Plan:
    """Every message of the run, by user, seeded."""
    rng = random.Random(SEED)
    result = Plan()
    corpus = input_poisons()
    # Lines whose judgement is open, and accepted ones, once each; the rest is hostile.
    for seq, poison in enumerate(p for p in corpus if p.expect != "reject"):
        result.sequences.append(_from_corpus(poison, f"e{seq}", now, seq))
    rejected = [p for p in corpus if p.expect == "reject"]
    heavy_sent: Counter[str] = Counter()
    hostile = 0
    seq = 0
    while hostile < HOSTILE:
        seq += 1
        user = f"h{seq}"
        if rng.random() < CORPUS_SHARE:
            poison = rejected[seq % len(rejected)]
            if poison.heavy:
                if heavy_sent[poison.name] >= HEAVY:
                    continue
                heavy_sent[poison.name] += 1
            sequence = _from_corpus(poison, user, now, seq)
        else:
            sequence = _mutations(rng, user, now, seq)
        hostile += sum(1 for m in sequence if m.kind == "hostile")
        result.sequences.append(sequence)
    for n in range(SPIKERS):
        user = f"spiker-{n}"
        result.spikers.append(user)
        result.sequences.append(valid(spiker(user, now)))
    users = 0
    while result.count("valid") < VALID:
        result.sequences.append(page_views(f"v{users}", now, 10))
        users += 1
    return result


def interleave(sequences: list[list[Outgoing]], rng: random.Random) -> list[Outgoing]:
    """Merge the sequences at random, each user's messages staying in order."""
    heads = [list(reversed(s)) for s in sequences if s]
    merged = []
    while heads:
        index = rng.randrange(len(heads))
        merged.append(heads[index].pop())
        if not heads[index]:
            heads[index] = heads[-1]
            heads.pop()
    return merged


def _definitions(now: datetime, first: int) -> list[Outgoing]:
    if not DEFINITIONS:
        return []
    hostile = [p for p in definition_poisons() if p.expect == "reject"]
    messages = []
    for seq, poison in enumerate(hostile, start=first):
        item = poison.instance(user="-", now=now, seq=seq)
        messages.append(Outgoing(TRIGGERS_DEFINITIONS, item.key, item.value, "definition"))
    return messages


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(metrics_port=free_port())


async def test_hostile_input_and_definitions_lose_nothing_and_crash_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    rng = random.Random(SEED + 1)
    messages = interleave(plan(now).sequences, rng)
    spikers = [f"spiker-{n}" for n in range(SPIKERS)]
    half = len(messages) // 2
    # A hostile definition is in force from the start, and more arrive mid-stream.
    await publish_tracked(settings, _definitions(now, 1)[:1])
    worker = NudgeProcess(settings, "worker", tmp_path / "worker.log").start()
    try:
        first = await publish_tracked(settings, messages[:half])
        await publish_tracked(settings, _definitions(now, 100))
        second = await publish_tracked(settings, messages[half:])
        places = {kind: first.of(kind) + second.of(kind) for kind in ("valid", "hostile", "either")}
        labels = {**first.labels, **second.labels}
        inputs = tuple(INPUTS.values())
        lag = await settle(settings, worker, inputs, 60 + len(messages) / 50)
        samples = scrape(settings.metrics_port)
        letters = await read_all(
            settings,
            DEAD_LETTER_TOPICS,
            lambda rs: len(rs) >= len(places["hostile"]),
            timeout=30,
        )
        expected = {(u, "spending_spike", ch) for u in spikers for ch in ("sms", "email")}
        commands = await read_all(
            settings, (COMMS_COMMANDS,), lambda rs: expected <= command_pairs(rs), timeout=20
        )
        alive = worker.running()
        signs = crash_signs(worker)
    finally:
        code = worker.stop()

    letters_by_place = Counter(dead_letter_places(letters))
    hostile, valid_places = places["hostile"], set(places["valid"])
    either = set(places["either"])
    missing = [p for p in hostile if p not in letters_by_place]
    doubled = sorted(p for p, n in letters_by_place.items() if n > 1)
    wrongly = [p for p in letters_by_place if p in valid_places]
    either_dead = sum(1 for p in either if p in letters_by_place)
    processed = total(samples, "nudge_events_total")
    should_process = len(valid_places) + len(either) - either_dead
    absent = sorted(expected - command_pairs(commands))
    summary = {
        "hostile": len(hostile),
        "valid": len(valid_places),
        "either": len(either),
        "dead_letters": sum(letters_by_place.values()),
        "hostile_without_dead_letter": len(missing),
        "missing_by_kind": Counter(labels.get(p, "?") for p in missing).most_common(12),
        "dead_letters_twice": len(doubled),
        "valid_dead_lettered": len(wrongly),
        "processed": processed,
        "should_process": should_process,
        "commands_missing": absent,
        "lag": lag,
        "worker_alive": alive,
        "exit_code": code,
        "crash_signs": signs,
    }
    (tmp_path / "fuzz-summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print("fuzz summary:", json.dumps(summary, default=str))  # noqa: T201 - the run's record
    assert (
        alive,
        missing,
        doubled,
        wrongly,
        processed == should_process,
        absent,
        lag,
        signs,
    ) == (True, [], [], [], True, [], 0, []), json.dumps(summary, default=str)
