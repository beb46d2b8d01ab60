"""spending_spike's second guard: a rise inside the user's usual spread is not news."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.core.features.context import Before
from streams.core.features.registry import event_context
from streams.core.state.fold import apply_event
from tests.unit.core.triggers.noisy_spenders import spender
from tests.unit.factories import fold, match_of

RISE_AT = datetime(2026, 3, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize(("noisy", "fires", "zscore"), [(False, True, 40.0), (True, False, 1.4)])
def test_the_same_rise_is_a_spike_only_for_the_steady_spender(
    noisy: bool, fires: bool, zscore: float
) -> None:
    *history, rise = spender("user-1", RISE_AT, noisy=noisy)
    assert (match_of("spending_spike", fold(history), rise) is not None) is fires
    # Both rose 40 % over the same $140 week; only the spread differs.
    state = fold(history)
    before = Before.of(state)
    apply_event(state, rise, now=RISE_AT)
    ctx = event_context(state, rise, before)
    assert ctx.value("spend_week_change_pct") == 40.0
    assert ctx.value("spend_week_baseline") == 140.0
    assert ctx.value("spend_week_zscore") == zscore
