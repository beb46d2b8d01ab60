"""The population's open rate per hour: shrinkage, merging, and its checkpointed form."""

from __future__ import annotations

import pytest

from models.online.prior import HOURS, SHRINK, HourCounts


def counts(**hours: tuple[int, int]) -> HourCounts:
    """Counts with ``h9=(sends, opens)`` and so on; every other hour at zero."""
    made = HourCounts()
    for name, (sends, opens) in hours.items():
        made.add(int(name.removeprefix("h")), sends=sends, opens=opens)
    return made


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        # 80 sends, 16 opens: overall 0.2, borrowed with the weight of SHRINK = 20 sends.
        # 9h: (10 + 20 * 0.2) / (20 + 20) = 0.35; 20h: (6 + 4) / (60 + 20) = 0.125;
        # an hour never used: (0 + 4) / (0 + 20) = the overall rate.
        (counts(h9=(20, 10), h20=(60, 6)), {9: 0.35, 20: 0.125, 0: 0.2, 13: 0.2}),
        # One hour alone: it is the overall rate, so every hour is its rate.
        (counts(h12=(7, 7)), {12: 1.0, 3: 1.0}),
        # Many sends: the hour's own rate, nearly. 9h: (300 + 20 * 0.4) / (1000 + 20)
        (counts(h9=(1000, 300), h18=(1000, 500)), {9: 308 / 1020, 18: 508 / 1020, 1: 0.4}),
        # No opens at all: every hour 0.
        (counts(h9=(50, 0)), {9: 0.0, 10: 0.0}),
    ],
)
def test_rates_shrink_each_hour_towards_the_overall_rate(
    made: HourCounts, expected: dict[int, float]
) -> None:
    assert SHRINK == 20.0  # the hand-computed rates above assume it
    rates = made.rates()
    assert len(rates) == HOURS
    for hour, rate in expected.items():
        assert rates[hour] == pytest.approx(rate, abs=1e-12), hour


def test_no_sends_means_no_rates() -> None:
    assert HourCounts().rates() == ()
    assert counts(h9=(0, 0)).rates() == ()


def test_merged_adds_every_hour_and_leaves_the_parts_alone() -> None:
    a, b, c = counts(h9=(3, 1)), counts(h9=(2, 2), h23=(1, 0)), counts(h0=(5, 4))
    total = a.merged([b, c])
    assert (total.sends[9], total.opens[9]) == (5, 3)
    assert (total.sends[23], total.opens[23], total.sends[0], total.opens[0]) == (1, 0, 5, 4)
    assert sum(total.sends) == 11 and sum(total.opens) == 7
    assert (a.sends[9], a.opens[9], sum(a.sends)) == (3, 1, 3)  # not changed
    assert a.merged([]) == a and a.merged([]) is not a


def test_to_dict_and_back() -> None:
    made = counts(h9=(20, 10), h20=(60, 6), h23=(1, 1))
    data = made.to_dict()
    assert data == {"sends": made.sends, "opens": made.opens}
    assert HourCounts.from_dict(data) == made
    data["sends"][9] = 99  # the dict is a copy: changing it does not change the counts
    assert made.sends[9] == 20


@pytest.mark.parametrize(
    "data",
    [
        {"sends": [0] * (HOURS - 1), "opens": [0] * HOURS},
        {"sends": [0] * HOURS, "opens": [0] * (HOURS + 1)},
        {"sends": [], "opens": []},
    ],
)
def test_from_dict_refuses_a_wrong_length(data: dict[str, list[int]]) -> None:
    with pytest.raises(ValueError, match="24 sends and 24 opens"):
        HourCounts.from_dict(data)
