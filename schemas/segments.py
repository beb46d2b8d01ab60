"""Live segments: who belongs to which group of users now, as data (like trigger definitions).

A segment is an id, a name and a criteria tree (``when``) of ``all`` / ``any`` / ``not``
over leaves of five kinds, each judged on the user's record at the evaluation's time:

- a **feature** comparison, in the trigger definitions' language
  (``{feature: pattern, eq: high_intent}``): any feature, score, pattern or profile field;
- **time-based**: ``{seen: page_view, within: 7d}``, at least one event of the type (or
  ``any`` type) in the last N;
- **frequency**: ``{count: page_view, at_least: 5, within: 7d}``, at least N events of a
  type in the window (exact: the record keeps the newest ``at_least`` times of the types
  segments count, and only while a segment counts them);
- **sequence**: ``{sequence: [quote_request, application_started], within: 2d, in_last:
  30d}``, an event of the second type no later than ``within`` after one of the first,
  the last time that happened being in the last ``in_last``;
- **aggregation**: ``{aggregate: sum, of: spend, within: 30d, gte: 1000}``, the sum,
  average (per day), maximum (of a day) or count (of days with any) of a daily figure the
  record keeps (``MEASURES``) over the last N days, compared like a feature.

Membership is kept in the user's record and judged again on each event and by the timer
(``streams.core.segments``); each join and leave is a ``SegmentChange`` on
``segments.changes``. Definitions travel on the definitions topic under the key
``segment:<id>`` (``nudge segments apply``); ``streams/catalogue/segments.yaml`` ships some.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from schemas.events import EVENT_TYPES, SegmentId
from schemas.triggers import Comparison, Duration, condition_problem

#: Daily figures an aggregation reads -> (what they are, the longest window the record
#: keeps them for, in days).
MEASURES: dict[str, tuple[str, int]] = {
    "spend": ("debits, in currency units (daily_spend)", 31),
    "sessions": ("app sessions ended (daily_sessions)", 31),
    "visits": ("visits begun: web, app or email (visit_days)", 31),
    "pages": ("pages viewed in the visits begun (visit_days)", 8),
    "visit_minutes": ("minutes spent in the visits begun (visit_days)", 8),
}
#: Most events a frequency criterion counts: the record keeps that many times per type.
MAX_AT_LEAST = 50
#: Longest window a frequency, sequence or time-based criterion looks back over.
MAX_WINDOW_SECONDS = 366 * 86_400
#: Most segments in force: each is judged for every user on every evaluation.
MAX_SEGMENTS_IN_FORCE = 64

#: ``seen: any``: an event of any type.
ANY_EVENT = "any"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _window(seconds: float, longest: float = MAX_WINDOW_SECONDS) -> float:
    if not 0 < seconds <= longest:
        msg = f"a window lies between 1s and {longest / 86_400:.0f} days"
        raise ValueError(msg)
    return seconds


def _event_type(value: str, *, any_allowed: bool = False) -> str:
    if value == ANY_EVENT and any_allowed:
        return value
    if value not in EVENT_TYPES:
        msg = f"unknown event type {value!r}"
        raise ValueError(msg)
    return value


class Seen(_Strict):
    """``{seen: TYPE, within: 7d}``: an event of ``TYPE`` (or ``any``) in the last ``within``."""

    seen: str
    within: Duration

    @model_validator(mode="after")
    def _valid(self) -> Seen:
        _event_type(self.seen, any_allowed=True)
        _window(self.within)
        return self


class Count(_Strict):
    """``{count: TYPE, at_least: N, within: 7d}``: N or more events of ``TYPE`` in the window."""

    count: str
    at_least: Annotated[int, Field(ge=1, le=MAX_AT_LEAST)]
    within: Duration

    @model_validator(mode="after")
    def _valid(self) -> Count:
        _event_type(self.count)
        _window(self.within)
        return self


class Sequence(_Strict):
    """``{sequence: [A, B], within: 2d, in_last: 30d}``: B no later than ``within`` after A.

    The last time it happened must lie in the last ``in_last`` (30 days when not given).
    """

    sequence: Annotated[list[str], Field(min_length=2, max_length=2)]
    within: Duration
    in_last: Duration = 30 * 86_400.0

    @model_validator(mode="after")
    def _valid(self) -> Sequence:
        first, then = self.sequence
        _event_type(first)
        _event_type(then)
        if first == then:
            msg = "a sequence names two different event types"
            raise ValueError(msg)
        _window(self.within)
        _window(self.in_last)
        return self

    @property
    def key(self) -> str:
        """What the record keeps the sequence's last completion under."""
        return f"{self.sequence[0]}>{self.sequence[1]}/{int(self.within)}"


_AGGREGATE_OPS = ("gt", "gte", "lt", "lte", "between")


class Aggregate(_Strict):
    """``{aggregate: sum, of: spend, within: 30d, gte: 1000}``: a daily figure over a window.

    ``within`` is counted in whole UTC days back from the evaluation's day (that day
    included): ``7d`` is today and the six days before.
    """

    aggregate: Literal["sum", "average", "max", "count"]
    of: str
    within: Duration
    op: Literal["gt", "gte", "lt", "lte", "between"]
    value: float | list[float]

    @model_validator(mode="before")
    @classmethod
    def _compact_form(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "op" in data:
            return data
        ops = [key for key in data if key in _AGGREGATE_OPS]
        if len(ops) != 1:
            msg = f"give exactly one comparison ({', '.join(_AGGREGATE_OPS)}), got {len(ops)}"
            raise ValueError(msg)
        rest = {k: v for k, v in data.items() if k != ops[0]}
        return {**rest, "op": ops[0], "value": data[ops[0]]}

    @model_validator(mode="after")
    def _valid(self) -> Aggregate:
        if self.of not in MEASURES:
            msg = f"of: unknown measure {self.of!r} (one of {', '.join(MEASURES)})"
            raise ValueError(msg)
        _window(self.within, MEASURES[self.of][1] * 86_400.0)
        if self.within % 86_400:
            msg = "within: an aggregation's window is whole days (7d, 30d)"
            raise ValueError(msg)
        pair = isinstance(self.value, list)
        if (self.op == "between") != pair or (pair and len(self.value) != 2):  # type: ignore[arg-type]
            msg = "between needs [low, high]; the other comparisons one number"
            raise ValueError(msg)
        return self

    @property
    def days(self) -> int:
        """The window in UTC days."""
        return int(self.within // 86_400)


class SegmentAll(_Strict):
    """``{all: [...]}``: every child holds."""

    all: Annotated[list[Criterion], Field(min_length=1)]


class SegmentAny(_Strict):
    """``{any: [...]}``: at least one child holds."""

    any: Annotated[list[Criterion], Field(min_length=1)]


class SegmentNot(_Strict):
    """``{not: ...}``: the child does not hold."""

    not_: Criterion = Field(alias="not")


#: A criterion's tag is its first key among these (a leaf's tag is its own key).
_TAG_KEYS = ("all", "any", "not", "feature", "seen", "count", "sequence", "aggregate")


def _criterion_kind(data: Any) -> str | None:
    models: dict[type[BaseModel], str] = {
        SegmentAll: "all", SegmentAny: "any", SegmentNot: "not", Comparison: "feature",
        Seen: "seen", Count: "count", Sequence: "sequence", Aggregate: "aggregate",
    }  # fmt: skip
    if isinstance(data, BaseModel):
        return models.get(type(data))
    if isinstance(data, dict):
        return next((key for key in _TAG_KEYS if key in data), None)
    return None


Criterion = Annotated[
    Annotated[SegmentAll, Tag("all")]
    | Annotated[SegmentAny, Tag("any")]
    | Annotated[SegmentNot, Tag("not")]
    | Annotated[Comparison, Tag("feature")]
    | Annotated[Seen, Tag("seen")]
    | Annotated[Count, Tag("count")]
    | Annotated[Sequence, Tag("sequence")]
    | Annotated[Aggregate, Tag("aggregate")],
    Discriminator(
        _criterion_kind,
        custom_error_type="criterion",
        custom_error_message=(
            "a criterion is {all: [...]}, {any: [...]}, {not: ...}, {feature: ...}, "
            "{seen: ...}, {count: ...}, {sequence: ...} or {aggregate: ...}"
        ),
    ),
]
SegmentAll.model_rebuild()
SegmentAny.model_rebuild()
SegmentNot.model_rebuild()


class SegmentDefinition(_Strict):
    """One segment: who is in it, judged on each event and by the timer."""

    id: SegmentId
    name: Annotated[str, Field(min_length=1, max_length=120)]
    description: Annotated[str, Field(max_length=500)] = ""
    status: Literal["active", "paused"] = "active"
    """``paused``: nobody joins, and members leave at their next evaluation."""
    when: Criterion

    @model_validator(mode="after")
    def _no_thresholds(self) -> SegmentDefinition:
        for path, leaf in leaves(self.when, "when"):
            if isinstance(leaf, Comparison):
                values = leaf.value if isinstance(leaf.value, list) else [leaf.value]
                if any(isinstance(v, str) and v.startswith("$") for v in values):
                    msg = f"{path}: a segment has no thresholds; write the number"
                    raise ValueError(msg)
        return self


def leaves(node: Criterion, path: str = "when") -> list[tuple[str, Any]]:
    """Return every leaf of a criteria tree with its path (``when.all.1``), depth first."""
    if isinstance(node, SegmentNot):
        return leaves(node.not_, f"{path}.not")
    if isinstance(node, SegmentAll | SegmentAny):
        key, children = ("all", node.all) if isinstance(node, SegmentAll) else ("any", node.any)
        return [found for i, c in enumerate(children) for found in leaves(c, f"{path}.{key}.{i}")]
    return [(path, node)]


def validate_segment(document: Any) -> SegmentDefinition | list[str]:
    """Validate one segment definition; return it, or its problems as ``path: reason``."""
    if isinstance(document, dict):
        problem = condition_problem(document.get("when"), "when")
        if problem is not None:
            return [problem]
    try:
        return SegmentDefinition.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            message = error["msg"].removeprefix("Value error, ")
            own_path = not error["loc"] and message.startswith("when")  # checks across fields
            problems.append(message if own_path else f"{_path(error['loc'])}: {message}")
        return problems


def validate_segments(document: Any) -> tuple[SegmentDefinition, ...] | list[str]:
    """Validate a file's ``segments:`` list; return the definitions, or every problem."""
    if not isinstance(document, dict) or not isinstance(document.get("segments"), list):
        return ["(top): a segments file is {segments: [...]}"]
    found: list[SegmentDefinition] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(document["segments"]):
        result = validate_segment(item)
        if isinstance(result, list):
            problems.extend(f"segments.{index}.{p}" for p in result)
            continue
        if result.id in seen:
            problems.append(f"segments.{index}.id: {result.id!r} is defined twice")
        seen.add(result.id)
        found.append(result)
    if len(found) > MAX_SEGMENTS_IN_FORCE:
        problems.append(f"segments: at most {MAX_SEGMENTS_IN_FORCE} segments")
    return problems or tuple(found)


_TAGS = frozenset(_TAG_KEYS)


def _path(loc: tuple[int | str, ...]) -> str:
    """Join an error location, leaving out the union tags pydantic puts in it.

    A criterion's tag follows the field holding it (``when``, ``not``) or a list index.
    """
    steps: list[str] = []
    tag_next = False
    for step in loc:
        if tag_next and step in _TAGS:
            tag_next = False
            continue
        steps.append(str(step))
        tag_next = step in ("when", "not") or isinstance(step, int)
    return ".".join(steps) or "(definition)"


class SegmentChangeKind(StrEnum):
    """Whether a user joined or left a segment."""

    JOINED = "joined"
    LEFT = "left"


class SegmentChange(BaseModel):
    """A user joined or left a segment (``segments.changes``, keyed by user id).

    ``change_id`` is deterministic (the user, segment, change and what caused it), so a
    change repeated after a crash keeps its id and the sink stores it once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    change_id: str
    user_id: str
    segment_id: SegmentId
    change: SegmentChangeKind
    reason: Annotated[str, Field(max_length=500)]
    """Why: the criteria that now hold (joined) or the first that no longer holds (left),
    or that the segment was paused or removed."""
    occurred_at: AwareDatetime
    """The event's time, or the timer's clock when no event caused it."""
    source_event_id: str | None = None
    """The event that caused it; ``None`` when the timer did."""
    member_since: AwareDatetime | None = None
    """On ``left``: when the membership that ended began."""
