"""Consent to sensitive categories: the specification's rule, pinned table by table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from schemas.records import SuppressionReason
from streams.core.decisions.eligibility import category_consent_missing
from streams.core.decisions.process import process
from streams.core.decisions.send_policy import SENSITIVE_CATEGORIES, SendPolicy
from streams.core.rendering import default_catalogue
from streams.core.state.consent import consent_to, record_consent
from streams.core.triggers.catalogue import default_definitions
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
