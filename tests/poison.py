"""The poison corpus (``tests/data/poison.jsonl``): hostile messages kept as data.

One JSON object a line:

``name``
    Unique; the test id.
``topic``
    ``behavior.events``, ``risk.scores``, ``comms.outcomes`` or ``triggers.definitions``
    (without the deployment's prefix).
``key``
    Text, or ``null`` for no key; ``key_gen`` instead builds one (``{"bytes": N, "fill": s}``).
``value``
    Text (UTF-8), or ``null`` for a tombstone; ``value_b64`` instead for bytes that are not
    text; ``value_gen`` builds what is too large or too deep to write literally (below).
``setup``
    Optional: valid values sent before, with the same user key, that put the user in the
    state the poison needs (a known relationship status, so a change fires and the time
    zone is read for quiet hours).
``expect``
    ``reject`` (must become exactly one dead letter), ``accept`` (must be processed), or
    ``either`` (a judgement call: either is fine, but nothing may raise and whatever is
    accepted must be storable and readable downstream).
``heavy``
    About a megabyte: the worker fuzz sends these a few times only.
``why``
    What it breaks, or is meant to prove.

Placeholders in keys and values: ``$USER`` (this instance's user), ``$OTHER`` (another
user), ``$EVENT`` (a fresh event id), ``$NOW`` (five minutes before the clock, UTC),
``$NOW_AT_PLUS_14`` / ``$NOW_AT_PLUS_23_59`` (the same instant at those offsets),
``$BEFORE`` (an hour before), ``$FUTURE`` (two hours after the clock), ``$LONE`` (an
escaped lone surrogate), ``$TRIGGER`` / ``$OTHER_TRIGGER`` (trigger ids).

``value_gen`` makes one JSON fragment and puts it in the value, at a new top-level
``field`` or in place of a quoted ``placeholder``: ``{"nested_arrays": N}``,
``{"nested_objects": N}``, ``{"nested_not": N}`` and ``{"nested_all": N}`` (conditions),
``{"text": [unit, times]}`` (a JSON string), ``{"list": [item, times]}`` (a JSON list).
Or it replaces the value: ``{"bytes": N, "fill": s}``, ``{"encoding": "utf-16"}``,
``{"prefix_b64": b}`` (bytes before the value).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parent / "data" / "poison.jsonl"

#: The input topics (a poison on ``triggers.definitions`` is a definition, not an event).
INPUT_TOPICS = ("behavior.events", "risk.scores", "comms.outcomes")
DEFINITIONS_TOPIC = "triggers.definitions"
EXPECTATIONS = ("reject", "accept", "either")

Message = tuple[bytes | None, bytes | None]

_PLACEHOLDER = re.compile(r"\$([A-Z][A-Z0-9_]*)")
_COMPARISON = '{"feature":"event_amount","gt":1}'


@dataclass(frozen=True)
class Instance:
    """One poison made concrete for a user: the setup messages, then the poison itself."""

    setup: list[Message]
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Poison:
    """One line of the corpus."""

    name: str
    topic: str
    expect: str
    why: str
    heavy: bool
    line: dict[str, Any]

    @property
    def is_definition(self) -> bool:
        """Whether this poison goes to ``triggers.definitions``."""
        return self.topic == DEFINITIONS_TOPIC

    def instance(self, *, user: str, now: datetime, seq: int = 0) -> Instance:
        """Make this poison concrete.

        Args:
            user: The user the message is about (``$USER``).
            now: The processing clock; ``$NOW`` is five minutes before it.
            seq: Makes event ids and trigger ids unique across instances.
        """
        names = _placeholders(user=user, now=now, seq=seq)
        line = self.line
        if "key_gen" in line:
            spec = line["key_gen"]
            key: bytes | None = _filled(spec["fill"], spec["bytes"])
        elif line["key"] is None:
            key = None
        else:
            key = _substitute(line["key"], names).encode()
        setup_key = user.encode()
        setup: list[tuple[bytes | None, bytes | None]] = [
            (setup_key, _substitute(text, names).encode()) for text in line.get("setup", [])
        ]
        return Instance(setup, key, self._value(names))

    def _value(self, names: dict[str, str]) -> bytes | None:
        line = self.line
        if "value_b64" in line:
            return base64.b64decode(line["value_b64"])
        gen = line.get("value_gen", {})
        if "bytes" in gen:
            return _filled(gen["fill"], gen["bytes"])
        if line.get("value") is None:
            return None
        text = _substitute(line["value"], names)
        fragment = _fragment(gen)
        if fragment is not None:
            if "field" in gen:
                if not text.startswith("{"):
                    msg = f"{self.name}: value_gen field needs a JSON object value"
                    raise ValueError(msg)
                text = '{"' + gen["field"] + '":' + fragment + "," + text[1:]
            else:
                quoted = '"' + gen["placeholder"] + '"'
                if quoted not in text:
                    msg = f"{self.name}: placeholder {quoted} not in the value"
                    raise ValueError(msg)
                text = text.replace(quoted, fragment)
        if gen.get("encoding"):
            return text.encode(gen["encoding"])
        raw = text.encode()
        if "prefix_b64" in gen:
            raw = base64.b64decode(gen["prefix_b64"]) + raw
        return raw


def _fragment(gen: dict[str, Any]) -> str | None:
    if "nested_arrays" in gen:
        depth = gen["nested_arrays"]
        return "[" * depth + "]" * depth
    if "nested_objects" in gen:
        depth = gen["nested_objects"]
        return '{"a":' * depth + "1" + "}" * depth
    if "nested_not" in gen:
        depth = gen["nested_not"]
        return '{"not":' * depth + _COMPARISON + "}" * depth
    if "nested_all" in gen:
        depth = gen["nested_all"]
        return '{"all":[' * depth + _COMPARISON + "]}" * depth
    if "text" in gen:
        unit, times = gen["text"]
        return json.dumps(unit * times)
    if "list" in gen:
        item, times = gen["list"]
        return "[" + ",".join([item] * times) + "]"
    return None


def _filled(fill: str, size: int) -> bytes:
    unit = fill.encode()
    return (unit * (size // len(unit) + 1))[:size]


def _placeholders(*, user: str, now: datetime, seq: int) -> dict[str, str]:
    at = now - timedelta(minutes=5)
    return {
        "USER": user,
        "OTHER": f"{user}-other",
        "EVENT": f"poison-{seq}-{user}",
        "NOW": at.isoformat(),
        "NOW_AT_PLUS_14": at.astimezone(timezone(timedelta(hours=14))).isoformat(),
        "NOW_AT_PLUS_23_59": at.astimezone(timezone(timedelta(hours=23, minutes=59))).isoformat(),
        "BEFORE": (now - timedelta(hours=1)).isoformat(),
        "FUTURE": (now + timedelta(hours=2)).isoformat(),
        "LONE": "\\ud800",
        "TRIGGER": f"fuzz_{seq}",
        "OTHER_TRIGGER": f"fuzz_{seq}_other",
    }


def _substitute(text: str, names: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), text)


@cache
def load_corpus(path: Path = CORPUS) -> tuple[Poison, ...]:
    """Read and check the corpus (names unique, known topics and expectations)."""
    poisons = []
    for number, text in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        line = json.loads(text)
        poison = Poison(
            name=line["name"],
            topic=line["topic"],
            expect=line["expect"],
            why=line["why"],
            heavy=bool(line.get("heavy")),
            line=line,
        )
        if poison.topic not in (*INPUT_TOPICS, DEFINITIONS_TOPIC):
            msg = f"{path}:{number}: unknown topic {poison.topic}"
            raise ValueError(msg)
        if poison.expect not in EXPECTATIONS:
            msg = f"{path}:{number}: expect is one of {EXPECTATIONS}"
            raise ValueError(msg)
        poisons.append(poison)
    names = [p.name for p in poisons]
    if len(set(names)) != len(names):
        msg = f"{path}: duplicate names"
        raise ValueError(msg)
    return tuple(poisons)


def input_poisons() -> list[Poison]:
    """The poisons of the input topics."""
    return [p for p in load_corpus() if not p.is_definition]


def definition_poisons() -> list[Poison]:
    """The poisons of ``triggers.definitions``."""
    return [p for p in load_corpus() if p.is_definition]
