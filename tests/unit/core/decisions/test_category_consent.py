"""Consent to sensitive categories: the specification's rule, pinned table by table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.records import Outcome, SuppressionReason
from streams.core.decisions.eligibility import category_consent_missing
from streams.core.decisions.process import process, process_idle
from streams.core.decisions.release import HELD_CATEGORY
from streams.core.decisions.send_policy import SENSITIVE_CATEGORIES, SendPolicy
from streams.core.rendering import default_catalogue
from streams.core.state.consent import consent_to, record_consent
from streams.core.state.record import UserState
from streams.core.triggers.catalogue import default_definitions
from tests.unit.core.decisions.test_send_policy import every_debit
from tests.unit.factories import START, fold, profile, spike_at, spike_history, transaction

REQUIRED = SendPolicy(consent_categories=SENSITIVE_CATEGORIES)
WITHDRAWAL_ONLY = SendPolicy(
    consent_categories=SENSITIVE_CATEGORIES, category_consent="withdrawal_only"
)


def given(**categories: bool) -> dict[str, Any]:
    profile_: dict[str, Any] = {}
    record_consent(profile_, categories)
    return profile_


@pytest.mark.parametrize(
    ("category", "profile_", "policy", "suppressed"),
    [
        # The specification: health and financial need consent given.
        ("financial", given(financial=True), REQUIRED, None),
        ("financial", {}, REQUIRED, "no consent to financial messages on the user's profile"),
        (
            "financial",
            given(financial=False),
            REQUIRED,
            "the user withdrew consent to financial messages",
        ),  # noqa: E501
        (
            "financial",
            given(health=True),
            REQUIRED,
            "no consent to financial messages on the user's profile",
        ),  # noqa: E501
        ("health", given(health=True), REQUIRED, None),
        ("health", {}, REQUIRED, "no consent to health messages on the user's profile"),
        (
            "health",
            given(health=False, financial=True),
            REQUIRED,
            "the user withdrew consent to health messages",
        ),  # noqa: E501
        # Categories that are not sensitive need nothing.
        ("career", {}, REQUIRED, None),
        ("engagement", given(engagement=False), REQUIRED, None),
        # The named alternative: only a withdrawal suppresses.
        ("financial", {}, WITHDRAWAL_ONLY, None),
        (
            "financial",
            given(financial=False),
            WITHDRAWAL_ONLY,
            "the user withdrew consent to financial messages",
        ),  # noqa: E501
        # No sensitive categories at all (the core's own default).
        ("health", given(health=False), SendPolicy(), None),
    ],
)
def test_a_sensitive_category_needs_the_users_consent(
    category: str, profile_: dict[str, Any], policy: SendPolicy, suppressed: str | None
) -> None:
    assert category_consent_missing(profile_, category, policy) == suppressed


def test_consent_is_merged_and_the_latest_word_per_category_wins() -> None:
    kept: dict[str, Any] = {}
    record_consent(kept, {"financial": True, "health": False})
    record_consent(kept, {"health": True})
    record_consent(kept, {"financial": False})
    assert (consent_to(kept, "financial"), consent_to(kept, "health")) == (False, True)
    assert consent_to(kept, "career") is None
    assert consent_to(kept, "no_such_category") is None
    assert len(str(kept["cc"])) <= 4  # a few bytes of the record, not a dict of names


def test_a_profile_update_folds_category_consent_into_the_record() -> None:
    state = fold([profile("u", START, category_consent={"financial": True})])
    state = fold([profile("u", START + timedelta(hours=1), first_name="Ann")], state)
    assert consent_to(state.profile, "financial") is True
    assert consent_to(state.profile, "health") is None
    assert "category_consent" not in state.profile


@pytest.mark.parametrize(
    ("consent", "fires"), [({"financial": True}, True), ({}, False), ({"financial": False}, False)]
)
def test_a_spike_is_sent_only_with_financial_consent(consent: dict[str, bool], fires: bool) -> None:
    events = [profile("spiker", START - timedelta(days=1), category_consent=consent)]
    state = fold([*events, *spike_history("spiker")])
    spike = transaction("spiker", spike_at(), "400.00")
    result = process(
        state, spike, default_definitions(), default_catalogue(),
        now=spike_at(), max_event_age_seconds=10**9, policy=REQUIRED,
    )  # fmt: skip
    decision = next(d for d in result.decisions if d.trigger_id == "spending_spike")
    assert (decision.outcome.value == "fired") is fires
    if not fires:
        assert decision.reason is SuppressionReason.NO_CONSENT
        assert "financial" in decision.detail
        assert not [c for c in result.commands if c.trigger_id == "spending_spike"]


# --- a held send is re-checked at release ---------------------------------------------------

NIGHT = datetime(2026, 3, 12, 3, tzinfo=UTC)  # 23:00 in New York: held for the morning
MORNING = datetime(2026, 3, 12, 12, tzinfo=UTC)  # 08:00 in New York


def held_financial_send(policy: SendPolicy) -> UserState:
    """A user who consented to financial messages, with a financial SMS held overnight."""
    onboarding = profile(
        "held", NIGHT - timedelta(days=1), timezone="America/New_York",
        category_consent={"financial": True},
    )  # fmt: skip
    state = fold([onboarding])
    debit = transaction("held", NIGHT, "5.00")
    result = process(
        state, debit, [every_debit()], default_catalogue(),
        now=NIGHT, max_event_age_seconds=10**9, policy=policy,
    )  # fmt: skip
    assert (result.commands, result.held) == ([], 1)
    return state


WITHDRAWN = "the user withdrew consent to financial messages"
FINANCIAL = {"every_debit": "financial"}


@pytest.mark.parametrize(
    ("policy", "meanwhile", "categories", "kept", "sent", "reason"),
    [
        # Consent kept: sent in the morning.
        (REQUIRED, {}, FINANCIAL, True, True, None),
        (REQUIRED, {"financial": True}, FINANCIAL, True, True, None),
        # Withdrawn during the night: not sent, the same reason as at decision time.
        (REQUIRED, {"financial": False}, FINANCIAL, True, False, WITHDRAWN),
        (WITHDRAWAL_ONLY, {"financial": False}, FINANCIAL, True, False, WITHDRAWN),
        # Another category withdrawn: this send is not concerned.
        (REQUIRED, {"health": False}, FINANCIAL, True, True, None),
        # The trigger is no longer in force (deleted): the held send keeps the category it
        # was decided under, so it is still checked.
        (REQUIRED, {"financial": False}, {}, True, False, WITHDRAWN),
        # Recategorised meanwhile: the category it was decided under still counts...
        (REQUIRED, {"financial": False}, {"every_debit": "engagement"}, True, False, WITHDRAWN),
        # ...and so does the one in force now.
        (REQUIRED, {"health": False}, {"every_debit": "health"}, True, False,
         "the user withdrew consent to health messages"),
        # A send held before the category was kept: the category in force is checked...
        (REQUIRED, {"financial": False}, FINANCIAL, False, False, WITHDRAWN),
        # ...and, with the trigger gone, there is nothing to check it against.
        (REQUIRED, {"financial": False}, {}, False, True, None),
        # No sensitive categories in the policy: nothing to re-check.
        (SendPolicy(), {"financial": False}, FINANCIAL, True, True, None),
    ],
)  # fmt: skip
def test_a_held_send_is_rechecked_for_its_categorys_consent_at_release(
    policy: SendPolicy,
    meanwhile: dict[str, bool],
    categories: dict[str, str],
    kept: bool,
    sent: bool,
    reason: str | None,
) -> None:
    state = held_financial_send(policy)
    assert [held[HELD_CATEGORY] for held in state.pending] == ["financial"]
    if not kept:
        state.pending = [{k: v for k, v in h.items() if k != HELD_CATEGORY} for h in state.pending]
    if meanwhile:
        state = fold(
            [profile("held", NIGHT + timedelta(hours=1), category_consent=meanwhile)], state
        )
    released = process_idle(
        "held", state, (), default_catalogue(), now=MORNING, policy=policy, categories=categories
    )
    assert state.pending == []
    assert (released.released, len(released.commands)) == ((1, 1) if sent else (0, 0))
    if not sent:
        (cancelled,) = released.decisions
        assert (cancelled.outcome, cancelled.reason) == (
            Outcome.SUPPRESSED, SuppressionReason.NO_CONSENT,
        )  # fmt: skip
        assert cancelled.trigger_id == "every_debit"
        assert cancelled.detail.endswith(f"was not sent: {reason} while it waited.")
