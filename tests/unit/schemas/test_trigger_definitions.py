"""Trigger definitions as validated data: the shipped catalogue, every rejection with its
field path, durations, the condition tree walk, loading files, and the feature contract."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas.features
import streams.core.features.registry
from schemas.features import FEATURES, FeatureKind
from schemas.triggers import (
    MAX_DURATION_SECONDS,
    AllOf,
    AnyOf,
    Comparison,
    Not,
    TriggerDefinition,
    comparisons,
    parse_duration,
    validate_definition,
)
from streams.core.rendering import default_catalogue
from streams.core.triggers.catalogue import (
    DefinitionError,
    default_definitions,
    load_files,
    parse_definitions,
)
from tests.paths import CATALOGUE_FILE

#: A valid definition document; each rejection case changes one part of it.
BASE: dict[str, Any] = {
    "id": "probe_trigger",
    "name": "Probe",
    "type": "behavioral",
    "category": "financial",
    "evaluate_on": {"events": ["transaction"]},
    "thresholds": {"pct": 20},
    "condition": {
        "all": [
            {"feature": "spend_week", "gte": 100},
            {"feature": "tier", "eq": "free"},
        ]
    },
    "channels": [{"channel": "sms", "template": "spending_spike.sms"}],
}


def document(**changes: Any) -> dict[str, Any]:
    """``BASE`` with top-level keys replaced (``...`` removes a key)."""
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is ...:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def only_problem(doc: dict[str, Any]) -> tuple[str, str]:
    """Validate ``doc``, expect exactly one problem, return it as (path, reason)."""
    result = validate_definition(doc)
    assert isinstance(result, list), f"expected a rejection, got {result!r}"
    assert len(result) == 1, result
    path, _, reason = result[0].partition(": ")
    return path, reason


def a_comparison(condition: dict[str, Any]) -> dict[str, Any]:
    """A definition whose condition is ``all: [valid, condition]`` (so the path ends .1)."""
    return document(condition={"all": [{"feature": "spend_week", "gte": 1}, condition]})


# --- the shipped catalogue ---------------------------------------------------------------


def test_shipped_catalogue_validates() -> None:
    definitions = default_definitions()
    assert [d.id for d in definitions][:2] == ["spending_spike", "income_drop"]
    assert len({d.id for d in definitions}) == len(definitions)
    assert all(isinstance(d, TriggerDefinition) for d in definitions)


def test_shipped_catalogue_each_document_validates_on_its_own() -> None:
    documents = yaml.safe_load(CATALOGUE_FILE.read_text("utf-8"))
    assert len(documents) == len(default_definitions())
    for doc in documents:
        result = validate_definition(doc)
        assert isinstance(result, TriggerDefinition), result


def test_shipped_catalogue_loads_from_its_file_like_any_other() -> None:
    assert load_files([CATALOGUE_FILE]) == list(default_definitions())


def test_shipped_catalogue_templates_all_exist() -> None:
    wanted = [(c.template, c.channel) for d in default_definitions() for c in d.channels]
    first_two = {f"{t}.{c}" for t in ("spending_spike", "income_drop") for c in ("sms", "email")}
    assert first_two <= {t for t, _ in wanted}
    assert default_catalogue().missing(wanted) == []


def test_catalogue_missing_names_a_template_of_another_channel() -> None:
    assert default_catalogue().missing([("spending_spike.sms", "email")]) == [
        "spending_spike.sms (for email)"
    ]


def test_shipped_spending_spike_as_parsed() -> None:
    spike = next(d for d in default_definitions() if d.id == "spending_spike")
    assert spike.cooldown == 7 * 86_400.0
    assert spike.thresholds == {"spike_percent": 20.0, "min_week_spend": 100.0, "min_zscore": 2.0}
    assert [(c.feature, c.op, c.value) for c in comparisons(spike.condition)] == [
        ("transaction_direction", "eq", "debit"),
        ("spend_week_change_pct", "gte", "$spike_percent"),
        ("spend_week", "gte", "$min_week_spend"),
        ("spend_week_zscore", "gte", "$min_zscore"),
    ]


# --- rejections: path and reason ---------------------------------------------------------


REJECTIONS = [
    # (case, document, path, reason fragment)
    (
        "unknown feature",
        a_comparison({"feature": "spend_month", "gte": 1}),
        "condition.all.1",
        "unknown feature 'spend_month'",
    ),
    (
        "unknown feature deep in any/not",
        document(
            condition={
                "not": {
                    "any": [
                        {"feature": "spend_week", "gte": 1},
                        {"feature": "bogus", "eq": "x"},
                    ]
                }
            }
        ),
        "condition.not.any.1",
        "unknown feature 'bogus'",
    ),
    (
        "gte on a text feature",
        a_comparison({"feature": "tier", "gte": 1}),
        "condition.all.1",
        "gte does not apply to text feature 'tier'",
    ),
    (
        "changed_to on a number feature",
        a_comparison({"feature": "spend_week", "changed_to": 3}),
        "condition.all.1",
        "changed_to does not apply to number feature 'spend_week'",
    ),
    (
        "within on a number feature",
        a_comparison({"feature": "spend_week", "within": "7d"}),
        "condition.all.1",
        "within does not apply to number feature",
    ),
    (
        "lt on a moment feature",
        a_comparison({"feature": "last_event_at", "lt": 5}),
        "condition.all.1",
        "lt does not apply to moment feature 'last_event_at' (within)",
    ),
    (
        "string for a number feature",
        a_comparison({"feature": "spend_week", "gte": "100"}),
        "condition.all.1",
        "gte needs a number value",
    ),
    (
        "boolean for a number feature",
        a_comparison({"feature": "spend_week", "lt": True}),
        "condition.all.1",
        "lt needs a number value",
    ),
    (
        "number for a text feature",
        a_comparison({"feature": "tier", "eq": 3}),
        "condition.all.1",
        "eq needs a text value",
    ),
    (
        "in with a scalar",
        a_comparison({"feature": "tier", "in": "free"}),
        "condition.all.1",
        "in needs a non-empty list of text values",
    ),
    (
        "in with an empty list",
        a_comparison({"feature": "tier", "in": []}),
        "condition.all.1",
        "in needs a non-empty list of text values",
    ),
    (
        "in with values of the wrong kind",
        a_comparison({"feature": "event_amount", "in": [1, "two"]}),
        "condition.all.1",
        "in needs a non-empty list of number values",
    ),
    (
        "between with three values",
        a_comparison({"feature": "spend_week", "between": [1, 2, 3]}),
        "condition.all.1",
        "between needs a list [low, high] of number values",
    ),
    (
        "between with one value",
        a_comparison({"feature": "spend_week", "between": [1]}),
        "condition.all.1",
        "between needs a list [low, high]",
    ),
    (
        "between with a scalar",
        a_comparison({"feature": "spend_week", "between": 5}),
        "condition.all.1",
        "between needs a list [low, high]",
    ),
    (
        "between with strings",
        a_comparison({"feature": "spend_week", "between": ["1", "2"]}),
        "condition.all.1",
        "between needs a list [low, high] of number values",
    ),
    (
        "within a prose duration",
        a_comparison({"feature": "last_event_at", "within": "7 days"}),
        "condition.all.1",
        "within needs a duration such as 7d",
    ),
    (
        "within a negative duration",
        a_comparison({"feature": "last_event_at", "within": -60}),
        "condition.all.1",
        "within needs a duration",
    ),
    (
        "two operators",
        a_comparison({"feature": "spend_week", "gte": 1, "lt": 5}),
        "condition.all.1",
        "give exactly one operator",
    ),
    (
        "no operator",
        a_comparison({"feature": "spend_week"}),
        "condition.all.1",
        "got 0",
    ),
    (
        "unknown key",
        a_comparison({"feature": "spend_week", "gte": 1, "unit": "usd"}),
        "condition.all.1",
        "unknown key(s) unit",
    ),
    (
        "not a condition at all",
        a_comparison({"features": "spend_week"}),
        "condition.all.1",
        "a condition is {all: [...]}",
    ),
    (
        "empty all",
        document(condition={"all": []}),
        "condition.all",
        "at least 1 item",
    ),
    (
        "empty any",
        document(condition={"any": []}),
        "condition.any",
        "at least 1 item",
    ),
    (
        "bad exclude",
        document(exclude={"feature": "nope", "eq": "x"}),
        "exclude",
        "unknown feature 'nope'",
    ),
    (
        "unknown event type",
        document(evaluate_on={"events": ["transaction", "tranzaction"]}),
        "evaluate_on",
        "unknown event type(s): tranzaction",
    ),
    (
        "nothing evaluates it",
        document(evaluate_on={"events": []}),
        "evaluate_on",
        "name the events that evaluate the trigger, a schedule (every), or both",
    ),
    (
        "time_based without every",
        document(type="time_based"),
        "evaluate_on.every",
        "a time_based trigger needs a schedule",
    ),
    (
        "bad cooldown",
        document(cooldown="7 days"),
        "cooldown",
        "a duration is a number of seconds or like 30s, 15m, 12h, 7d, 2w",
    ),
    ("negative delay", document(delay="-2h"), "delay", "a duration is"),
    (
        "bad schedule",
        document(evaluate_on={"events": ["transaction"], "every": "hourly"}),
        "evaluate_on.every",
        "a duration is",
    ),
    ("id with capitals", document(id="Spending_Spike"), "id", "should match pattern"),
    ("id with a dash", document(id="spending-spike"), "id", "should match pattern"),
    ("id too short", document(id="ab"), "id", "should match pattern"),
    ("id starting with a digit", document(id="1spike"), "id", "should match pattern"),
    ("id too long", document(id="a" * 65), "id", "should match pattern"),
    ("the risk decisions' id", document(id="risk_intervention"), "id", "is reserved for the risk"),
    (
        "the behaviour changes' id",
        document(id="behavior_change"),
        "id",
        "is reserved for the behaviour",
    ),
    ("empty name", document(name=""), "name", "at least 1 character"),
    ("unknown category", document(category="fun"), "category", "Input should be"),
    ("unknown status", document(status="off"), "status", "Input should be"),
    ("empty channels", document(channels=[]), "channels", "at least 1 item"),
    (
        "template without a channel part",
        document(channels=[{"channel": "sms", "template": "spending_spike"}]),
        "channels.0.template",
        "should match pattern",
    ),
    (
        "template with capitals",
        document(channels=[{"channel": "sms", "template": "Spending_Spike.sms"}]),
        "channels.0.template",
        "should match pattern",
    ),
    (
        "unknown channel",
        document(channels=[{"channel": "fax", "template": "spending_spike.fax"}]),
        "channels.0.channel",
        "Input should be 'sms', 'email', 'push', 'in_app' or 'phone'",
    ),
    ("unknown top-level key", document(when="always"), "when", "Extra inputs are not permitted"),
    (
        "unknown tier",
        document(target={"tiers": ["gold"]}),
        "target.tiers.0",
        "Input should be 'free', 'standard' or 'premium'",
    ),
    (
        "holdout over 100 %",
        document(experiment={"id": "exp_1", "holdout_percent": 101}),
        "experiment.holdout_percent",
        "less than or equal to 100",
    ),
    (
        "experiment id with spaces",
        document(experiment={"id": "exp 1"}),
        "experiment.id",
        "should match pattern",
    ),
]


@pytest.mark.parametrize(
    ("doc", "path", "fragment"),
    [pytest.param(doc, path, fragment, id=case) for case, doc, path, fragment in REJECTIONS],
)
def test_rejection_names_path_and_reason(doc: dict[str, Any], path: str, fragment: str) -> None:
    got_path, reason = only_problem(doc)
    assert got_path == path
    assert fragment in reason


def test_gte_on_text_feature_lists_the_operators_that_apply() -> None:
    _, reason = only_problem(document(condition={"feature": "tier", "gte": 1}))
    assert reason == "gte does not apply to text feature 'tier' (changed_to, eq, in, ne)"


def test_top_level_comparison_path_is_condition() -> None:
    assert only_problem(document(condition={"feature": "nope", "gt": 1}))[0] == "condition"


@pytest.mark.parametrize(
    ("where", "doc"),
    [
        ("condition", document(condition={"feature": "spend_week", "gte": "$missing"})),
        ("exclude", document(exclude={"feature": "spend_week", "gte": "$missing"})),
    ],
)
def test_unknown_threshold_reference_is_rejected(where: str, doc: dict[str, Any]) -> None:
    result = validate_definition(doc)
    assert isinstance(result, list)
    assert len(result) == 1
    assert f"{where}: spend_week refers to unknown threshold $missing" in result[0]
    assert result == [f"{where}: spend_week refers to unknown threshold $missing"]


def test_unknown_threshold_reference_names_the_comparison_path() -> None:
    doc = a_comparison({"feature": "spend_week", "gte": "$missing"})
    path, _ = only_problem(doc)
    assert path == "condition.all.1"


def test_known_threshold_reference_validates() -> None:
    result = validate_definition(document(condition={"feature": "spend_week", "gte": "$pct"}))
    assert isinstance(result, TriggerDefinition)
    assert result.thresholds == {"pct": 20.0}


@pytest.mark.parametrize(
    "condition",
    [
        {"feature": "spend_week", "between": ["$low", "$high"]},
        {"feature": "spend_week", "between": ["$low", 500]},
        {"feature": "event_amount", "in": ["$low", 5]},
    ],
)
def test_threshold_references_inside_lists_validate(condition: dict[str, Any]) -> None:
    doc = document(condition=condition, thresholds={"low": 100, "high": 200})
    assert isinstance(validate_definition(doc), TriggerDefinition)
    result = validate_definition(doc)
    assert isinstance(result, TriggerDefinition)
    (comparison,) = comparisons(result.condition)
    # The references are kept as written, to be resolved when the trigger is evaluated.
    op = next(k for k in condition if k != "feature")
    assert (comparison.feature, comparison.op, comparison.value) == (
        condition["feature"],
        op,
        condition[op],
    )


@pytest.mark.parametrize(
    ("op", "reason"),
    [
        ("in", "in needs a non-empty list of number values"),
        ("between", "between needs a list [low, high] of number values"),
    ],
)
def test_scalar_threshold_for_a_list_operator_is_rejected(op: str, reason: str) -> None:
    doc = document(condition={"feature": "spend_week", op: "$pct"})
    assert isinstance(validate_definition(doc), list)
    assert only_problem(doc) == ("condition", reason)


def test_every_problem_is_reported_not_just_the_first() -> None:
    result = validate_definition(document(id="Bad", channels=[], cooldown="soon"))
    assert isinstance(result, list)
    assert sorted(line.partition(":")[0] for line in result) == ["channels", "cooldown", "id"]


def test_time_based_with_a_schedule_validates() -> None:
    doc = document(type="time_based", evaluate_on={"every": "1d"}, episode="last_event_at")
    result = validate_definition(doc)
    assert isinstance(result, TriggerDefinition)
    assert result.evaluate_on.every == 86_400.0
    assert result.evaluate_on.events == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, "episode: a scheduled trigger names the feature that identifies an episode"),
        ({"episode": "nope"}, "episode: unknown feature 'nope' (see schemas/features.py)"),
        ({"episode": "last_event_at", "evaluate_on": {"every": "30s"}},
         "evaluate_on.every: at least 60s between evaluations"),
    ],
)  # fmt: skip
def test_a_schedule_needs_a_known_episode_and_a_sane_interval(
    changes: dict[str, Any], problem: str
) -> None:
    doc = document(type="time_based", evaluate_on={"every": "1d"})
    assert validate_definition({**doc, **changes}) == [problem]


def test_defaults_of_a_minimal_definition() -> None:
    result = validate_definition(document())
    assert isinstance(result, TriggerDefinition)
    assert (result.cause, result.cooldown, result.delay, result.status) == (
        "event",
        0.0,
        0.0,
        "active",
    )
    assert result.exclude is None and result.experiment is None
    assert result.target.tiers == [] and result.target.segments == []


def test_experiment_holdout_defaults_to_ten_percent() -> None:
    result = validate_definition(document(experiment={"id": "exp-1"}))
    assert isinstance(result, TriggerDefinition)
    assert result.experiment is not None
    assert result.experiment.holdout_percent == 10.0


# --- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("15m", 900.0),
        ("12h", 43_200.0),
        ("7d", 604_800.0),
        ("2w", 1_209_600.0),
        ("0s", 0.0),
        (" 7d ", 604_800.0),
        (3600, 3600.0),
        (0, 0.0),
        (1.5, 1.5),
    ],
)
def test_duration_parses(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert isinstance(parse_duration(text), float)


@pytest.mark.parametrize(
    "text",
    ["7 days", "-1d", "1.5h", "7D", "d", "", "7y", "1h30m", -1, -0.5, True, False, None],
)
def test_duration_rejects(text: Any) -> None:
    with pytest.raises(ValueError, match="a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "value", ["99999999999w", "3651d", MAX_DURATION_SECONDS + 1, float("inf"), float("nan")]
)
def test_durations_over_ten_years_are_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match="between 0 and 3650 days"):
        parse_duration(value)


@given(st.integers(min_value=0, max_value=520), st.sampled_from("smhdw"))
def test_duration_text_is_count_times_unit(count: int, unit: str) -> None:
    factor = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}[unit]
    assert parse_duration(f"{count}{unit}") == count * factor


@given(st.floats(min_value=0, max_value=MAX_DURATION_SECONDS, allow_nan=False))
def test_duration_plain_non_negative_number_is_seconds(seconds: float) -> None:
    assert parse_duration(seconds) == seconds


def test_durations_in_a_definition_become_seconds() -> None:
    result = validate_definition(document(cooldown="7d", delay="2h"))
    assert isinstance(result, TriggerDefinition)
    assert (result.cooldown, result.delay) == (604_800.0, 7_200.0)


# --- comparisons(): the tree walk --------------------------------------------------------


def _leaf(name: str) -> dict[str, Any]:
    return {"feature": name, "gte": 1}


def test_comparisons_walks_all_any_not_depth_first() -> None:
    doc = document(
        condition={
            "all": [
                _leaf("spend_week"),
                {"any": [_leaf("event_amount"), {"not": _leaf("spend_week_baseline")}]},
                {"not": {"all": [_leaf("income_drop_pct"), _leaf("income_change_pct")]}},
                _leaf("days_since_first_seen"),
            ]
        }
    )
    definition = TriggerDefinition.model_validate(doc)
    assert [c.feature for c in comparisons(definition.condition)] == [
        "spend_week",
        "event_amount",
        "spend_week_baseline",
        "income_drop_pct",
        "income_change_pct",
        "days_since_first_seen",
    ]
    assert isinstance(definition.condition, AllOf)
    assert isinstance(definition.condition.all[1], AnyOf)
    assert isinstance(definition.condition.all[2], Not)


def test_comparisons_of_nothing_and_of_a_leaf() -> None:
    leaf = Comparison.model_validate({"feature": "tier", "ne": "free"})
    assert comparisons(None) == []
    assert comparisons(leaf) == [leaf]
    assert (leaf.op, leaf.value) == ("ne", "free")


# --- hypothesis: random valid trees validate and round-trip ------------------------------

_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_ 0123456789", max_size=12)
_NUMBER = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
_BY_KIND = {kind: sorted(n for n, f in FEATURES.items() if f.kind is kind) for kind in FeatureKind}


def _number_comparisons() -> st.SearchStrategy[dict[str, Any]]:
    name = st.sampled_from(_BY_KIND[FeatureKind.NUMBER])
    scalar = st.one_of(_NUMBER, st.just("$limit"))
    return st.one_of(
        st.builds(
            lambda n, op, v: {"feature": n, op: v},
            name,
            st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"]),
            scalar,
        ),
        st.builds(lambda n, v: {"feature": n, "in": v}, name, st.lists(_NUMBER, min_size=1)),
        st.builds(
            lambda n, v: {"feature": n, "between": sorted(v)},
            name,
            st.lists(_NUMBER, min_size=2, max_size=2),
        ),
    )


def _text_comparisons() -> st.SearchStrategy[dict[str, Any]]:
    name = st.sampled_from(_BY_KIND[FeatureKind.TEXT])
    tracked = st.sampled_from([n for n in _BY_KIND[FeatureKind.TEXT] if FEATURES[n].tracks_changes])
    return st.one_of(
        st.builds(
            lambda n, op, v: {"feature": n, op: v}, name, st.sampled_from(["eq", "ne"]), _TEXT
        ),
        st.builds(lambda n, v: {"feature": n, "changed_to": v}, tracked, _TEXT),
        st.builds(lambda n, v: {"feature": n, "in": v}, name, st.lists(_TEXT, min_size=1)),
    )


def _moment_comparisons() -> st.SearchStrategy[dict[str, Any]]:
    duration = st.one_of(
        st.builds(lambda n, u: f"{n}{u}", st.integers(0, 520), st.sampled_from("smhdw")),
        st.integers(0, 10**7),
    )
    return st.builds(
        lambda n, v: {"feature": n, "within": v},
        st.sampled_from(_BY_KIND[FeatureKind.MOMENT]),
        duration,
    )


_LEAVES = st.one_of(_number_comparisons(), _text_comparisons(), _moment_comparisons())
_TREES = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=12,
)


def _leaf_count(tree: dict[str, Any]) -> int:
    if "all" in tree or "any" in tree:
        return sum(_leaf_count(child) for child in tree.get("all") or tree["any"])
    if "not" in tree:
        return _leaf_count(tree["not"])
    return 1


@settings(max_examples=150, deadline=None)
@given(condition=_TREES, exclude=st.one_of(st.none(), _TREES))
def test_random_valid_trees_validate_and_round_trip(
    condition: dict[str, Any], exclude: dict[str, Any] | None
) -> None:
    doc = document(condition=condition, thresholds={"limit": 42.5}, exclude=exclude)
    result = validate_definition(doc)
    assert isinstance(result, TriggerDefinition), result
    assert len(comparisons(result.condition)) == _leaf_count(condition)
    again = TriggerDefinition.model_validate(result.model_dump(by_alias=True))
    assert again == result
    assert again.model_dump() == result.model_dump()


def test_round_trip_of_the_shipped_catalogue() -> None:
    for definition in default_definitions():
        dumped = definition.model_dump(by_alias=True)
        assert TriggerDefinition.model_validate(dumped) == definition


# --- parse_definitions and load_files ----------------------------------------------------


def test_parse_definitions_returns_definitions_in_order() -> None:
    parsed = parse_definitions([document(id="first_one"), document(id="second_one")], "src")
    assert [d.id for d in parsed] == ["first_one", "second_one"]


def test_parse_definitions_rejects_duplicate_ids() -> None:
    docs = [document(id="same_id"), document(id="other_id"), document(id="same_id")]
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(docs, "triggers.yaml")
    assert caught.value.problems == ["triggers.yaml: id 'same_id' is defined twice"]
    assert isinstance(caught.value, ValueError)
    assert "id 'same_id' is defined twice" in str(caught.value)


def test_parse_definitions_prefixes_problems_with_source_index_and_id() -> None:
    docs: list[Any] = [document(id="good_one"), a_comparison({"feature": "nope", "eq": "x"})]
    docs.append("junk")
    docs[1]["id"] = "bad_one"
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(docs, "mine.yaml")
    problems = caught.value.problems
    assert problems[0] == (
        "mine.yaml[1] (bad_one): condition.all.1: unknown feature 'nope' (see schemas/features.py)"
    )
    assert len(problems) == 2
    assert problems[1].startswith("mine.yaml[2]: ")


@pytest.mark.parametrize("content", [None, {"id": "x"}, "text"])
def test_parse_definitions_needs_a_list(content: Any) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definitions(content, "f.yaml")
    assert caught.value.problems == ["f.yaml: expected a list of trigger definitions"]


def _write(path: Path, docs: Any) -> Path:
    path.write_text(yaml.safe_dump(docs), "utf-8")
    return path


def test_load_files_concatenates_files_in_order(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.yaml", [document(id="from_a")])
    b = _write(tmp_path / "b.yaml", [document(id="from_b1"), document(id="from_b2")])
    assert [d.id for d in load_files([a, b])] == ["from_a", "from_b1", "from_b2"]


def test_load_files_rejects_the_same_id_in_two_files(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.yaml", [document(id="shared_id")])
    b = _write(tmp_path / "b.yaml", [document(id="shared_id")])
    with pytest.raises(DefinitionError) as caught:
        load_files([a, b])
    assert caught.value.problems == ["all files: id 'shared_id' is defined twice"]


def test_load_files_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("- id: x\n  condition: {all: [\n", "utf-8")
    invalid = _write(tmp_path / "invalid.yaml", [document(id="Bad")])
    good = _write(tmp_path / "good.yaml", [document(id="good_one")])
    with pytest.raises(DefinitionError) as caught:
        load_files([broken, invalid, good])
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith(f"{broken}: not valid YAML: ")
    assert problems[1].startswith(f"{invalid}[0] (Bad): id: String should match pattern")


def test_load_files_invalid_definition_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.yaml", [document(evaluate_on={"events": ["nope"]})])
    with pytest.raises(DefinitionError) as caught:
        load_files([path])
    assert caught.value.problems == [
        f"{path}[0] (probe_trigger): evaluate_on: unknown event type(s): nope"
    ]


# --- the feature contract ----------------------------------------------------------------


def test_every_feature_is_computed_and_every_computed_feature_is_declared() -> None:
    assert set(streams.core.features.registry.COMPUTE) == set(schemas.features.FEATURES)


def test_feature_names_kinds_and_units_are_consistent() -> None:
    for name, feature in FEATURES.items():
        assert feature.name == name
        assert isinstance(feature.kind, FeatureKind)
        assert feature.unit in ("", "dollars", "percent", "days", "minutes", "count", "times")
        assert feature.description
        assert schemas.features.feature(name) is feature
    assert schemas.features.feature("nope") is None
    assert FEATURES["spend_week"].unit == "dollars"
    assert FEATURES["spend_week_change_pct"].unit == "percent"
    assert FEATURES["last_event_at"].kind is FeatureKind.MOMENT


def test_changed_to_needs_a_feature_that_keeps_its_previous_value() -> None:
    path, reason = only_problem(a_comparison({"feature": "closed_month", "changed_to": "2026-05"}))
    assert path == "condition.all.1"
    assert reason == "changed_to needs a feature whose previous value is kept, not 'closed_month'"
