"""The debit anomaly model: river's updates, hand-computed surprisals, cold start, bounds."""

from __future__ import annotations

import math
import random
from typing import Any

import orjson
import pytest
from river import stats

from models.online import anomaly
from models.online.anomaly import (
    ALPHA,
    AMOUNT_VAR_FLOOR,
    CATEGORY_WEIGHT,
    DECIMALS,
    HOME,
    HOUR_BINS,
    HOUR_COUNT_CAP,
    HOURS,
    LAST,
    MEAN,
    MIN_DEBITS,
    P_ABROAD,
    P_NEW,
    P_NEWCAT,
    RATE_FLOOR,
    REASON,
    SCALE,
    VAR,
    VOTES,
    N,
)

#: A debit that tells nothing new: a known merchant and category, no country.
PLAIN: dict[str, Any] = {
    "dollars": 20.0, "local_hour": 12, "new_merchant": False, "new_category": False,
    "country": None,
}  # fmt: skip


def debit(**changes: Any) -> dict[str, Any]:
    """``PLAIN`` with ``changes``: the keyword arguments of one debit."""
    return {**PLAIN, **changes}


def state_with(**fields: Any) -> list[Any]:
    """An empty state with some of its fields set, by their index names (``N=12``...)."""
    state = anomaly.empty()
    for name, value in fields.items():
        state[getattr(anomaly, name)] = value
    return state


def log_amounts(seed: int, count: int) -> list[float]:
    """Debit amounts in dollars, log-normal as card spending is, with a few large ones."""
    rng = random.Random(seed)
    return [round(rng.lognormvariate(3.0, 1.1), 2) for _ in range(count)]


# --- the amount's figures are river's -----------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_mean_and_variance_are_rivers_without_the_rounding(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anomaly, "DECIMALS", 15)  # the update alone, no rounding to speak of
    state = anomaly.empty()
    mean, var = stats.EWMean(fading_factor=ALPHA), stats.EWVar(fading_factor=ALPHA)
    for dollars in log_amounts(seed, 300):
        anomaly.learn(state, **debit(dollars=dollars))
        mean.update(math.log1p(dollars))
        var.update(math.log1p(dollars))
        assert state[MEAN] == pytest.approx(mean.get(), abs=1e-9)
        assert state[VAR] == pytest.approx(var.get(), abs=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_stored_mean_and_variance_stay_within_their_rounding_of_rivers(seed: int) -> None:
    # Each update rounds to DECIMALS places (at most h = 0.5e-DECIMALS off) and carries the
    # previous error times (1 - ALPHA): the mean's error is at most h / ALPHA. The
    # variance's also takes in the mean's, through 2 * ALPHA * (1 - ALPHA) * |x - mean|.
    h = 0.5 * 10**-DECIMALS
    mean_bound = h / ALPHA
    state = anomaly.empty()
    mean, var = stats.EWMean(fading_factor=ALPHA), stats.EWVar(fading_factor=ALPHA)
    amounts = log_amounts(seed, 300)
    widest = max(abs(math.log1p(a) - math.log1p(b)) for a in amounts for b in amounts)
    var_bound = (h + 2 * ALPHA * (1 - ALPHA) * widest * mean_bound + mean_bound**2) / ALPHA
    for dollars in amounts:
        anomaly.learn(state, **debit(dollars=dollars))
        mean.update(math.log1p(dollars))
        var.update(math.log1p(dollars))
        assert abs(state[MEAN] - mean.get()) <= mean_bound
        assert abs(state[VAR] - var.get()) <= var_bound
        assert state[MEAN] == round(state[MEAN], DECIMALS)  # what is stored is rounded
        assert state[VAR] == round(state[VAR], DECIMALS)


@pytest.mark.parametrize(
    ("amounts", "mean", "var"),
    [
        # ln(1 + x) of e - 1 is 1, of e**3 - 1 is 3: mean 1 + 0.1 * 2, var 0.9 * 0.1 * 4.
        ([math.e - 1], 1.0, 0.0),
        ([math.e - 1, math.e**3 - 1], 1.2, 0.36),
        # then 1 again: diff -0.2, mean 1.18, var 0.9 * (0.36 + 0.1 * 0.04) = 0.3276
        ([math.e - 1, math.e**3 - 1, math.e - 1], 1.18, 0.3276),
        ([0.0, 0.0], 0.0, 0.0),
        ([-5.0], 0.0, 0.0),  # a negative amount counts as nothing
    ],
)
def test_the_amount_update_by_hand(amounts: list[float], mean: float, var: float) -> None:
    state = anomaly.empty()
    for dollars in amounts:
        anomaly.learn(state, **debit(dollars=dollars))
    assert (state[N], state[MEAN], state[VAR]) == (len(amounts), mean, var)


# --- each view's surprisal, by hand -------------------------------------------------------

#: ln(1 + dollars) = 4 against mean 2 and a variance of 1 with the floor: z = 2.
FOUR = math.e**4 - 1


@pytest.mark.parametrize(
    ("fields", "changes", "expected"),
    [
        # amount: z = (4 - 2) / sqrt(0.95 + 0.05) = 2, surprisal z**2 / 2 = 2
        ({"N": 5, "MEAN": 2.0, "VAR": 1 - AMOUNT_VAR_FLOOR}, {"dollars": FOUR}, {"amount": 2.0}),
        # a small amount is no news: z < 0 counts as 0
        ({"N": 5, "MEAN": 4.0, "VAR": 1 - AMOUNT_VAR_FLOOR}, {"dollars": math.e**2 - 1}, {}),
        # no debit yet: no amount figures to compare with
        ({"N": 0, "MEAN": 0.0, "VAR": 0.0}, {"dollars": FOUR}, {}),
        # only the floor: z = (4 - 2) / sqrt(0.05)
        ({"N": 1, "MEAN": 2.0, "VAR": 0.0}, {"dollars": FOUR}, {"amount": 4 / 0.05 / 2}),
        # hour: 8 debits all in bin 0 (00-02h); bin 3 (09-11h) has p = (0 + 1) / (8 + 8)
        ({"HOURS": [8, 0, 0, 0, 0, 0, 0, 0]}, {"local_hour": 10}, {"hour": math.log(2)}),
        # ...and bin 0 itself is more likely than uniform: 0
        ({"HOURS": [8, 0, 0, 0, 0, 0, 0, 0]}, {"local_hour": 1}, {}),
        # an empty histogram is uniform: 0 at any hour
        ({"HOURS": [0] * HOUR_BINS}, {"local_hour": 23}, {}),
        # 24 debits, none in bin 7 (21-23h): p = 1 / 32
        ({"HOURS": [3, 3, 6, 6, 3, 3, 0, 0]}, {"local_hour": 23}, {"hour": math.log(32 / 8)}),
        # new merchant at the user's rate 0.25: -ln 0.25
        ({"P_NEW": 0.25}, {"new_merchant": True}, {"merchant": math.log(4)}),
        # a rate under the floor is taken at the floor
        ({"P_NEW": 0.001}, {"new_merchant": True}, {"merchant": -math.log(RATE_FLOOR)}),
        ({"P_NEW": 0.25}, {"new_merchant": None}, {}),  # no merchant named
        # new category, at half weight: -0.5 ln 0.1
        ({"P_NEWCAT": 0.1}, {"new_category": True}, {"category": CATEGORY_WEIGHT * math.log(10)}),
        # abroad: not the home the votes chose, at the user's rate 0.05: ln 20
        ({"HOME": "US", "P_ABROAD": 0.05}, {"country": "FR"}, {"abroad": math.log(20)}),
        ({"HOME": "US", "P_ABROAD": 0.05}, {"country": "US"}, {}),
        ({"HOME": None, "P_ABROAD": 0.05}, {"country": "FR"}, {}),  # no home yet
        ({"HOME": "US", "P_ABROAD": 0.05}, {"country": None}, {}),  # country not said
    ],
)
def test_each_views_surprisal_by_hand(
    fields: dict[str, Any], changes: dict[str, Any], expected: dict[str, float]
) -> None:
    state = state_with(**fields)
    before = list(state)
    parts = anomaly.surprisals(state, **debit(**changes))
    views = {"amount", "hour", "merchant", "category", "abroad"}
    assert set(parts) == views
    assert parts == pytest.approx({**dict.fromkeys(views, 0.0), **expected}, abs=1e-12)
    assert anomaly.surprise(state, **debit(**changes)) == pytest.approx(sum(parts.values()))
    assert state == before  # scoring changes nothing


# --- the home country: a Boyer-Moore vote --------------------------------------------------


@pytest.mark.parametrize(
    ("countries", "home", "votes"),
    [
        (["US"], "US", 1),
        (["US", "US", "FR"], "US", 1),
        (["US", "FR"], "US", 0),  # a tie keeps the first, with no votes left
        (["US", "FR", "FR"], "FR", 1),  # ...and the next debit elsewhere takes over
        (["US", "FR", "DE", "US", "US"], "US", 1),  # DE took over, then lost to US
        (["FR", "US", "US", "FR", "US", "US", "US"], "US", 3),
        ([None, None], None, 0),  # no country said: no vote
    ],
)
def test_the_home_country_is_the_majority_vote(
    countries: list[str | None], home: str | None, votes: int
) -> None:
    state = anomaly.empty()
    for country in countries:
        anomaly.learn(state, **debit(country=country))
    assert (state[HOME], state[VOTES]) == (home, votes)


@pytest.mark.parametrize(
    ("countries", "p_abroad"),
    [
        # The first debit sets the home and is not abroad: 0.05 - 0.1 * 0.05 = 0.045.
        (["US"], 0.045),
        # US home, then FR abroad: 0.045 + 0.1 * (1 - 0.045) = 0.1405
        (["US", "FR"], 0.1405),
        # no country: the rate is not touched
        ([None], 0.05),
    ],
)
def test_the_abroad_rate_learns_before_the_vote(
    countries: list[str | None], p_abroad: float
) -> None:
    state = anomaly.empty()
    for country in countries:
        anomaly.learn(state, **debit(country=country))
    assert state[P_ABROAD] == p_abroad


@pytest.mark.parametrize(
    ("flags", "p_new", "p_newcat"),
    [
        # 0.5 + 0.1 * (1 - 0.5) = 0.55; 0.3 - 0.1 * 0.3 = 0.27
        ([(True, False)], 0.55, 0.27),
        ([(False, True)], 0.45, 0.37),
        ([(None, None)], 0.5, 0.3),  # not named: nothing learned
        ([(False, False)] * 2, 0.405, 0.243),
    ],
)
def test_the_novelty_rates_are_exponentially_weighted(
    flags: list[tuple[bool | None, bool | None]], p_new: float, p_newcat: float
) -> None:
    state = anomaly.empty()
    for new_merchant, new_category in flags:
        anomaly.learn(state, **debit(new_merchant=new_merchant, new_category=new_category))
    assert (state[P_NEW], state[P_NEWCAT]) == (p_new, p_newcat)


# --- the hour histogram halves at its cap -------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "local_hour", "after"),
    [
        # bin 0 reaches the cap: every bin halves (rounding down)
        ([HOUR_COUNT_CAP - 1, 3, 0, 0, 0, 0, 0, 1], 2, [HOUR_COUNT_CAP // 2, 1, 0, 0, 0, 0, 0, 0]),
        # one below the cap after the debit: no halving
        ([HOUR_COUNT_CAP - 2, 3, 0, 0, 0, 0, 0, 1], 0, [HOUR_COUNT_CAP - 1, 3, 0, 0, 0, 0, 0, 1]),
        # another bin's debit does not halve a full-but-not-capped one
        ([HOUR_COUNT_CAP - 1, 5, 0, 0, 0, 0, 0, 0], 23, [HOUR_COUNT_CAP - 1, 5, 0, 0, 0, 0, 0, 1]),
        # hours 21-23 are bin 7; 9 is bin 3
        ([0] * 7 + [HOUR_COUNT_CAP - 1], 21, [0] * 7 + [HOUR_COUNT_CAP // 2]),
        ([7] * HOUR_BINS, 9, [7, 7, 7, 8, 7, 7, 7, 7]),
    ],
)
def test_the_hour_histogram_halves_at_its_cap(
    hours: list[int], local_hour: int, after: list[int]
) -> None:
    state = state_with(HOURS=list(hours))
    anomaly.learn(state, **debit(local_hour=local_hour))
    assert state[HOURS] == after


# --- the score ----------------------------------------------------------------------------


def test_no_score_before_min_debits() -> None:
    state = anomaly.empty()
    scores = [anomaly.score_and_learn(state, **debit(dollars=1000.0)) for _ in range(MIN_DEBITS)]
    assert scores == [None] * MIN_DEBITS
    assert anomaly.last_score(state) == (None, None)
    after = anomaly.score_and_learn(state, **debit(dollars=5000.0))
    assert isinstance(after, float) and 0.0 < after < 1.0
    assert anomaly.last_score(state) == (after, "amount")
    assert anomaly.last_score(None) == (None, None)


def trained(seed: int = 5) -> list[Any]:
    """A user with 40 ordinary debits: $10-40 at lunch in the US, at known merchants."""
    rng = random.Random(seed)
    state = anomaly.empty()
    for _ in range(40):
        anomaly.learn(
            state, dollars=rng.uniform(10, 40), local_hour=rng.choice([12, 13]),
            new_merchant=rng.random() < 0.1, new_category=False, country="US",
        )  # fmt: skip
    return state


@pytest.mark.parametrize(
    "changes",
    [
        {"dollars": 25.0},
        {"dollars": 90.0},
        {"dollars": 400.0},
        {"local_hour": 3},
        {"new_merchant": True},
        {"new_merchant": True, "new_category": True},
        {"country": "BR"},
        {"dollars": 900.0, "local_hour": 3, "new_merchant": True, "country": "BR"},
    ],
)
def test_the_score_is_the_raw_surprisal_mapped_and_the_reason_its_largest_view(
    changes: dict[str, Any],
) -> None:
    state = trained()
    case = debit(**{"country": "US", **changes})
    parts = anomaly.surprisals(state, **case)
    raw = sum(parts.values())
    score = anomaly.score_and_learn(state, **case)
    assert score == round(1 - math.exp(-raw / SCALE), DECIMALS)
    assert state[LAST] == score
    assert state[REASON] == (max(parts, key=parts.__getitem__) if score else None)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"dollars": 2000.0}, "amount"),
        ({"local_hour": 3}, "hour"),
        ({"new_merchant": True}, "merchant"),
        ({"new_category": True}, "category"),
        ({"country": "BR"}, "abroad"),
        ({"dollars": 10.0}, None),  # nothing unusual at all: raw 0, score 0
        ({"dollars": 20.01}, None),  # a hair above the mean: a score that rounds to 0
    ],
)
def test_the_reason_names_the_view_that_stands_out(
    changes: dict[str, Any], reason: str | None
) -> None:
    state = trained()
    state[P_NEWCAT] = 0.001  # a new category is rare for this user, so it alone stands out
    state[P_NEW] = 0.5  # ...while new merchants are common
    state[MEAN], state[VAR] = round(math.log1p(20.0), DECIMALS), 0.05
    score = anomaly.score_and_learn(state, **debit(**{"country": "US", **changes}))
    assert anomaly.last_score(state) == (score, reason)
    assert (score == 0.0) is (reason is None)


def test_the_score_is_monotone_in_the_raw_sum() -> None:
    base = trained()
    cases = [
        debit(country="US", dollars=d, local_hour=h, new_merchant=m)
        for d in (5.0, 30.0, 120.0, 600.0)
        for h in (12, 3)
        for m in (False, True)
    ]
    pairs = sorted((anomaly.surprise(base, **case), _scored(base, case)) for case in cases)
    raws = [raw for raw, _ in pairs]
    scores = [score for _, score in pairs]
    assert len(set(raws)) == len(raws)  # distinct sums, so the order means something
    assert scores == sorted(scores)
    assert all(0.0 <= score < 1.0 for score in scores)


def _scored(state: list[Any], case: dict[str, Any]) -> float:
    copy = orjson.loads(orjson.dumps(state))
    score = anomaly.score_and_learn(copy, **case)
    assert score is not None
    return score


def test_the_score_is_against_the_state_before_the_debit() -> None:
    # A new merchant is scored at the rate before it, and then learned.
    state = trained()
    before = list(state)
    expected = anomaly.surprisals(before, **debit(country="US", new_merchant=True))["merchant"]
    anomaly.score_and_learn(state, **debit(country="US", new_merchant=True))
    assert expected == -math.log(before[P_NEW])
    assert state[P_NEW] == round(before[P_NEW] + ALPHA * (1 - before[P_NEW]), DECIMALS)
    assert state[N] == before[N] + 1


# --- bounded state ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [7, 8])
def test_the_state_keeps_its_shape_and_size_over_1000_debits(seed: int) -> None:
    rng = random.Random(seed)
    state = anomaly.empty()
    sizes = []
    for _ in range(1_000):
        anomaly.score_and_learn(
            state, dollars=rng.lognormvariate(3.0, 1.2), local_hour=rng.randrange(24),
            new_merchant=rng.random() < 0.3, new_category=rng.random() < 0.1,
            country=rng.choice(["US"] * 9 + ["FR"]),
        )  # fmt: skip
        sizes.append(len(orjson.dumps(state)))
        assert len(state) == 11 and len(state[HOURS]) == HOUR_BINS
        assert max(state[HOURS]) < HOUR_COUNT_CAP
    # Every float is rounded, so the size moves only with the digits of a figure; the two
    # counters (debits, home votes) grow a digit per tenfold.
    assert max(sizes) < 120, max(sizes)
    assert max(sizes[900:]) <= max(sizes[100:200]) + 2, (max(sizes[100:200]), max(sizes[900:]))
