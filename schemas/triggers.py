"""Trigger definitions: what to watch for, when, and whom to tell, as validated data.

Definitions live as YAML (a default catalogue ships with the package) and travel on the
compacted ``triggers.definitions`` topic. A condition is a tree of ``all`` / ``any`` /
``not`` over named features (``schemas.features``) with comparison operators: no code,
no ``eval``. A definition that names an unknown feature, compares a feature with a value
of the wrong kind, or refers to an unknown threshold is rejected with the field path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.commands import Priority
from schemas.events import EVENT_TYPES, Channel, SegmentId, TriggerCategory
from schemas.features import FEATURES, FeatureKind
from schemas.records import (
    BEHAVIOR_CHANGE_TRIGGER_ID,
    PATTERN_CHANGE_TRIGGER_ID,
    RISK_INTERVENTION_TRIGGER_ID,
)

_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}

#: Trigger ids Nudge records its own decisions under, and whose.
_RESERVED_IDS = {
    RISK_INTERVENTION_TRIGGER_ID: "risk interventions",
    BEHAVIOR_CHANGE_TRIGGER_ID: "behaviour changes",
    PATTERN_CHANGE_TRIGGER_ID: "pattern changes",
}


#: Longest duration accepted (ten years): anything longer is a typo, and would overflow
#: date arithmetic when added to an event time.
MAX_DURATION_SECONDS = 10 * 365 * 86_400

#: Shortest schedule: every evaluation scans each of a worker's users.
MIN_SCHEDULE_SECONDS = 60.0


def parse_duration(value: Any) -> float:
    """Turn ``"7d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"2w"`` or plain seconds into seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip())
        if match is None:
            msg = "a duration is a number of seconds or like 30s, 15m, 12h, 7d, 2w"
            raise ValueError(msg)
        seconds = float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if not 0 <= seconds <= MAX_DURATION_SECONDS:  # also rejects NaN and infinity
        msg = f"a duration lies between 0 and {MAX_DURATION_SECONDS // 86_400} days"
        raise ValueError(msg)
    return seconds


#: Seconds, written as ``7d``, ``12h``... in YAML.
Duration = Annotated[float, BeforeValidator(parse_duration)]
Scalar = float | str | bool

_NUMERIC_OPS = ("gt", "gte", "lt", "lte")
_ALL_OPS = (*_NUMERIC_OPS, "eq", "ne", "in", "between", "changed_to", "within")
_OPS_BY_KIND: dict[FeatureKind, frozenset[str]] = {
    FeatureKind.NUMBER: frozenset({*_NUMERIC_OPS, "eq", "ne", "in", "between"}),
    FeatureKind.TEXT: frozenset({"eq", "ne", "in", "changed_to"}),
    FeatureKind.BOOLEAN: frozenset({"eq", "ne", "changed_to"}),
    FeatureKind.MOMENT: frozenset({"within"}),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Comparison(_Strict):
    """``{feature: NAME, OP: VALUE}``: one feature against one value.

    Values may name a threshold of the definition as ``"$name"``.
    """

    feature: str
    op: Literal["gt", "gte", "lt", "lte", "eq", "ne", "in", "between", "changed_to", "within"]
    value: Scalar | list[Scalar]

    @model_validator(mode="before")
    @classmethod
    def _compact_form(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "op" in data:
            return data
        ops = [key for key in data if key in _ALL_OPS]
        unknown = sorted(set(data) - {"feature", *_ALL_OPS})
        if unknown:
            msg = f"unknown key(s) {', '.join(unknown)}; operators are {', '.join(_ALL_OPS)}"
            raise ValueError(msg)
        if len(ops) != 1:
            msg = f"give exactly one operator ({', '.join(_ALL_OPS)}), got {len(ops)}"
            raise ValueError(msg)
        return {"feature": data.get("feature"), "op": ops[0], "value": data[ops[0]]}

    @model_validator(mode="after")
    def _fits_the_feature(self) -> Comparison:
        known = FEATURES.get(self.feature)
        if known is None:
            msg = f"unknown feature {self.feature!r} (see schemas/features.py)"
            raise ValueError(msg)
        if self.op not in _OPS_BY_KIND[known.kind]:
            allowed = ", ".join(sorted(_OPS_BY_KIND[known.kind]))
            msg = f"{self.op} does not apply to {known.kind} feature {self.feature!r} ({allowed})"
            raise ValueError(msg)
        if self.op == "changed_to" and not known.tracks_changes:
            msg = f"changed_to needs a feature whose previous value is kept, not {self.feature!r}"
            raise ValueError(msg)
        _check_value(self.op, self.value, known.kind)
        return self


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")


def _check_value(op: str, value: Any, kind: FeatureKind) -> None:
    # Thresholds are numbers: a "$name" stands for one number, also inside a list.
    def fits(item: Any) -> bool:
        return kind is FeatureKind.NUMBER if _is_reference(item) else _fits(item, kind)

    if op == "between":
        ok = isinstance(value, list) and len(value) == 2 and all(fits(v) for v in value)
        expected = f"a list [low, high] of {kind} values"
    elif op == "in":
        ok = isinstance(value, list) and bool(value) and all(fits(v) for v in value)
        expected = f"a non-empty list of {kind} values"
    elif op == "within":
        try:
            ok = _is_reference(value) or parse_duration(value) >= 0
        except ValueError:
            ok = False
        expected = "a duration such as 7d"
    else:
        ok, expected = fits(value), f"a {kind} value"
    if not ok:
        msg = f"{op} needs {expected}"
        raise ValueError(msg)


def _fits(value: Any, kind: FeatureKind) -> bool:
    if kind is FeatureKind.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is FeatureKind.BOOLEAN:
        return isinstance(value, bool)
    return isinstance(value, str)


class AllOf(_Strict):
    """``{all: [...]}``: every child holds."""

    all: Annotated[list[Condition], Field(min_length=1)]


class AnyOf(_Strict):
    """``{any: [...]}``: at least one child holds."""

    any: Annotated[list[Condition], Field(min_length=1)]


class Not(_Strict):
    """``{not: ...}``: the child does not hold."""

    not_: Condition = Field(alias="not")


def _node_kind(data: Any) -> str | None:
    if isinstance(data, AllOf | AnyOf | Not | Comparison):
        kinds: dict[type[BaseModel], str] = {AllOf: "all", AnyOf: "any", Not: "not"}
        return kinds.get(type(data), "comparison")
    if isinstance(data, dict):
        for key in ("all", "any", "not"):
            if key in data:
                return key
        return "comparison" if "feature" in data else None
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[Comparison, Tag("comparison")],
    Discriminator(
        _node_kind,
        custom_error_type="condition",
        custom_error_message=(
            "a condition is {all: [...]}, {any: [...]}, {not: ...} or {feature: ..., OP: value}"
        ),
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


#: ``now`` (after ``delay``, outside quiet hours) or ``best_time``: at the local hour the
#: user's own opens and clicks say works best (``models.online.send_time``).
SendAt = Literal["now", "best_time"]

#: The longest a ``best_time`` message waits for its hour, unless the trigger says otherwise.
DEFAULT_MAX_DELAY = 86_400.0


class ChannelTemplate(_Strict):
    """A channel to send on and the template that words the message there."""

    channel: Channel
    template: Annotated[str, Field(pattern=r"^[a-z0-9_]+\.[a-z_]+$")]
    send_at: SendAt | None = None
    """This channel's send time, when it differs from the trigger's ``send_at``."""


class EvaluateOn(_Strict):
    """What evaluates a trigger: event types, a schedule, or both."""

    events: list[str] = []
    every: Duration | None = None
    """For time-based triggers: evaluate each user's state this often."""

    @model_validator(mode="after")
    def _something(self) -> EvaluateOn:
        unknown = sorted(set(self.events) - set(EVENT_TYPES))
        if unknown:
            msg = f"unknown event type(s): {', '.join(unknown)}"
            raise ValueError(msg)
        if not self.events and self.every is None:
            msg = "name the events that evaluate the trigger, a schedule (every), or both"
            raise ValueError(msg)
        return self


class Target(_Strict):
    """Who may receive it; empty lists mean everyone.

    ``segments``: users in any of them: live segments (``nudge segments``), or segments
    the producer names in ``profile_update.segments``.
    """

    segments: list[SegmentId] = []
    tiers: list[Literal["free", "standard", "premium"]] = []


class Experiment(_Strict):
    """An experiment: a share of users is held out and gets nothing (recorded as holdout)."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9_\-]{1,64}$")]
    holdout_percent: Annotated[float, Field(ge=0, le=100)] = 10.0


class TriggerDefinition(_Strict):
    """One trigger: what to watch for, when, and whom to tell how."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=120)]
    type: Literal["behavioral", "time_based"]
    category: TriggerCategory
    evaluate_on: EvaluateOn
    condition: Condition
    thresholds: dict[str, float] = {}
    """Named numbers conditions refer to as ``"$name"``; tune these, not the tree."""
    cause: Literal["event", "closed_month"] = "event"
    """What one decision is about: each evaluating event, or the calendar month just closed
    (judged once, at the user's first evaluating event of the next month)."""
    episode: str | None = None
    """For scheduled evaluation: the feature whose value names what one firing is about
    (``next_birthday``, ``last_app_session_at``...). Each episode is judged once, and its
    value goes into the decision's and commands' ids, so a restarted timer repeats ids."""
    cooldown: Duration = 0.0
    priority: Priority = Priority.MEDIUM
    status: Literal["active", "paused", "shadow", "testing"] = "active"
    """``shadow`` evaluates and records decisions (suppressed, reason ``shadow``, with what
    they would have been) but sends nothing and leaves the user's sends, caps and
    cooldowns as they are. ``testing`` is read as ``shadow`` (its older name)."""
    channels: Annotated[list[ChannelTemplate], Field(min_length=1)]
    delay: Duration = 0.0
    send_at: SendAt = "now"
    """``best_time``: each message waits for the hour that works best for the user, chosen
    among the hours outside quiet hours within ``max_delay`` (Thompson sampling over their
    opens and clicks, with the population's as prior), then meets the caps as any send."""
    max_delay: Duration = DEFAULT_MAX_DELAY
    """The longest a ``best_time`` message waits after the decision (and ``delay``)."""
    target: Target = Target()
    exclude: Condition | None = None
    experiment: Experiment | None = None

    @field_validator("status")
    @classmethod
    def _testing_is_shadow(cls, value: str) -> str:
        # ``testing`` came first and sent nothing too; definitions that say so (in files,
        # on the topic) keep working, with one meaning: the shadow's.
        return "shadow" if value == "testing" else value

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        # Risk decisions and behaviour changes are recorded under these ids: a trigger of
        # the same id would share their decision ids (and the timer's schedule, and the
        # record's memory of told changes), and the reports would count its decisions
        # as theirs.
        if value in _RESERVED_IDS:
            msg = f"{value!r} is reserved for the {_RESERVED_IDS[value]}' decisions"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _thresholds_exist(self) -> TriggerDefinition:
        for root, node in (("condition", self.condition), ("exclude", self.exclude)):
            for path, comparison in _located(node, root):
                for value in _values(comparison.value):
                    if _is_reference(value) and str(value)[1:] not in self.thresholds:
                        msg = f"{path}: {comparison.feature} refers to unknown threshold {value}"
                        raise ValueError(msg)
        if self.type == "time_based" and self.evaluate_on.every is None:
            msg = "evaluate_on.every: a time_based trigger needs a schedule"
            raise ValueError(msg)
        if self.evaluate_on.every is not None and self.episode is None and self.cause == "event":
            # (A closed_month trigger's episode is the month it judges.)
            msg = "episode: a scheduled trigger names the feature that identifies an episode"
            raise ValueError(msg)
        if self.episode is not None and self.episode not in FEATURES:
            msg = f"episode: unknown feature {self.episode!r} (see schemas/features.py)"
            raise ValueError(msg)
        if self.evaluate_on.every is not None and self.evaluate_on.every < MIN_SCHEDULE_SECONDS:
            msg = f"evaluate_on.every: at least {MIN_SCHEDULE_SECONDS:.0f}s between evaluations"
            raise ValueError(msg)
        return self


def comparisons(node: Condition | None) -> list[Comparison]:
    """Return every comparison in a condition tree, depth first."""
    return [comparison for _, comparison in _located(node, "")]


def senses(node: Condition | None) -> list[tuple[Comparison, bool]]:
    """Return every comparison with whether the condition needs it false (under a ``not``).

    In the order of ``comparisons``; a comparison under two ``not`` is needed true.
    """
    return [(c, path.count(".not") % 2 == 1) for path, c in _located(node, "")]


def _located(node: Condition | None, path: str) -> list[tuple[str, Comparison]]:
    """Return every comparison with its path (``condition.all.1``), depth first."""
    if node is None:
        return []
    if isinstance(node, Comparison):
        return [(path, node)]
    if isinstance(node, Not):
        return _located(node.not_, f"{path}.not")
    key, children = ("all", node.all) if isinstance(node, AllOf) else ("any", node.any)
    return [found for i, c in enumerate(children) for found in _located(c, f"{path}.{key}.{i}")]


def _values(value: Scalar | list[Scalar]) -> list[Scalar]:
    return value if isinstance(value, list) else [value]


#: Deepest condition tree accepted (the catalogue's deepest is 3): evaluating and
#: validating a tree recurses once per level, and a few hundred levels exhaust the stack.
MAX_CONDITION_DEPTH = 12
#: Most nodes in one condition tree: every event of the trigger's types walks it.
MAX_CONDITION_NODES = 200


def condition_problem(tree: Any, root: str) -> str | None:
    """Return why a raw condition tree is too deep or too large, or ``None``.

    Walks the document iteratively, before any model (or recursion) sees it.
    """
    stack: list[tuple[Any, str, int]] = [(tree, root, 1)]
    nodes = 0
    while stack:
        node, path, depth = stack.pop()
        nodes += 1
        if depth > MAX_CONDITION_DEPTH:
            return f"{root}: nested deeper than {MAX_CONDITION_DEPTH} levels (at {path[:80]})"
        if nodes > MAX_CONDITION_NODES:
            return f"{root}: more than {MAX_CONDITION_NODES} conditions"
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("not"), dict):
            stack.append((node["not"], f"{path}.not", depth + 1))
        for key in ("all", "any"):
            children = node.get(key)
            if isinstance(children, list):
                stack.extend((c, f"{path}.{key}.{i}", depth + 1) for i, c in enumerate(children))
    return None


M = TypeVar("M", bound=BaseModel)


def validate_rules(document: Any, model: type[M]) -> M | list[str]:
    """Validate a document of ``rules``, each with an optional condition ``when``.

    Returns the model, or every problem as ``path: reason``: a condition tree too deep or
    too large is refused before the model (or recursion) sees it.
    """
    if isinstance(document, dict) and isinstance(document.get("rules"), list):
        problems = [
            problem
            for index, rule in enumerate(document["rules"])
            if isinstance(rule, dict)
            and (problem := condition_problem(rule.get("when"), f"rules.{index}.when"))
        ]
        if problems:
            return problems
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False, include_input=False)
        ]


def validate_definition(document: Any) -> TriggerDefinition | list[str]:
    """Validate one definition; return it, or its problems as ``path: reason`` lines."""
    if isinstance(document, dict):
        problems = [
            problem
            for root in ("condition", "exclude")
            if (problem := condition_problem(document.get(root), root)) is not None
        ]
        if problems:
            return problems
    try:
        return TriggerDefinition.model_validate(document)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False, include_input=False):
            message = item["msg"].removeprefix("Value error, ")
            # Checks across fields carry their own path at the start of the message.
            own_path = not item["loc"] and _OWN_PATH.match(message)
            problems.append(message if own_path else f"{_path(item['loc'])}: {message}")
        return problems


_OWN_PATH = re.compile(r"^(condition|exclude|evaluate_on|episode)(\.[a-z0-9_]+)*: ")


def _path(loc: tuple[int | str, ...]) -> str:
    """Join an error location, leaving out the union tags pydantic puts in it."""
    steps = []
    for index, step in enumerate(loc):
        following = loc[index + 1] if index + 1 < len(loc) else None
        if step == "comparison" or (step in ("all", "any", "not") and following == step):
            continue
        steps.append(str(step))
    return ".".join(steps) or "(definition)"
