"""When a user's alert profile is published, and when they are served recommendations.

The worker publishes a user's ``AlertProfile`` (features and the alerts on) on
``alerts.profiles`` when it has changed materially since the last one (``material``):
at the user's fifth debit or first alert switched (``FIRST_PROFILE_DEBITS``), when the
alerts on change, when the user has made ``GROWTH`` (25 %) more debits than at the last
profile and at least five more, or when their credit utilisation has moved by
``UTILISATION_STEP`` (5 points) or more. Debits move a profile's features less as they
add up, so publishing on relative growth keeps the profiles to 11 for a user's first 100
debits, and one more each time the debits grow by a quarter, not one per debit. (A model
in force serves a new user on their first fresh debit all the same, publishing the
profile it served them with: see below.)
Profiles are facts: they are published for late events too, so a backfill trains models.

With a model in force, a fresh event that publishes a profile, or the first fresh event of
a user not yet served the model's version, serves the user's recommendations; the timer
serves every other user once after a promotion (``serve_promoted``). The model is anything
with a name, a version and ``recommend`` (``AlertModel``): the core never imports one.
Ids derive from the user, the alert, the model version and the cause (the event, or the
promotion), so a replay repeats them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from schemas.alerts import AlertFeatureValues, AlertProfile, AlertRecommendation, AlertType
from schemas.ids import alert_profile_id, recommendation_id
from streams.core.state import alert_stats
from streams.core.state.alert_stats import COUNT, ENABLED, PUBLISHED, SERVED
from streams.core.state.record import UserState

#: More debits than at the last profile, as a share of them, that make a new one due.
GROWTH = 0.25
#: Debits before a user's first profile (unless they switch an alert), and the fewest more
#: that make a new one due: a profile of one debit says little, and young users would
#: otherwise publish one on nearly every debit.
FIRST_PROFILE_DEBITS = 5
#: A change of credit utilisation (balance over limit) that makes a new profile due.
UTILISATION_STEP = 0.05


class Suggestion(Protocol):
    """One alert a model suggests (``models.recommender.Recommendation`` is one)."""

    @property
    def alert_type(self) -> AlertType:
        """The alert."""

    @property
    def confidence(self) -> float:
        """Share of the neighbours that use it."""

    @property
    def explanation(self) -> str:
        """Why, in words the user reads."""


class AlertModel(Protocol):
    """A model in force: its registry name and version, and what it recommends."""

    @property
    def name(self) -> str:
        """The model's registry name."""

    @property
    def version(self) -> int:
        """The version in force."""

    def suggest(
        self, features: AlertFeatureValues, enabled: Sequence[AlertType]
    ) -> Sequence[Suggestion]:
        """Return the alerts to recommend, never one in ``enabled``."""
        ...


@dataclass(slots=True)
class AlertOutputs:
    """What an event led to for the recommender: a profile, recommendations, or neither."""

    profile: AlertProfile | None = None
    recommendations: list[AlertRecommendation] | None = None


def material(stats: list[Any]) -> bool:
    """Whether the user's profile has changed materially since the last one published."""
    last = stats[PUBLISHED]
    if last is None:
        return bool(stats[ENABLED]) or stats[COUNT] >= FIRST_PROFILE_DEBITS
    count, utilisation, enabled = last
    return bool(
        stats[ENABLED] != enabled
        or stats[COUNT] >= max(count * (1 + GROWTH), count + FIRST_PROFILE_DEBITS)
        or round(abs(alert_stats.utilisation(stats) - utilisation), 4) >= UTILISATION_STEP
    )  # fmt: skip


def on_event(
    state: UserState,
    user_id: str,
    *,
    at: datetime,
    cause: str,
    fresh: bool,
    model: AlertModel | None,
) -> AlertOutputs:
    """Publish the user's profile if due, and serve recommendations if due (see above).

    Args:
        state: The user's record, after the event was folded in; changed in place.
        user_id: Whose record it is.
        at: The event's time.
        cause: The event's id.
        fresh: The event is recent enough to act on (not a backfill).
        model: The model in force, if any.
    """
    stats = state.alerts
    out = AlertOutputs()
    if stats is None:
        return out
    due = material(stats)
    if due:
        out.profile = _publish(stats, user_id, at, cause, alert_stats.features(stats))
    if fresh and model is not None and (due or stats[SERVED] != model.version):
        out.recommendations = _serve(stats, user_id, model, at, cause, out)
    return out


def serve_promoted(
    state: UserState, user_id: str, model: AlertModel, now: datetime
) -> AlertOutputs | None:
    """Serve a user the model's version if they have not been yet (the timer's sweep).

    Returns ``None`` when there was nothing to do (served already, or no features).
    """
    stats = state.alerts
    if stats is None or stats[SERVED] == model.version or not stats[COUNT]:
        return None
    out = AlertOutputs()
    out.recommendations = _serve(stats, user_id, model, now, f"promotion:{model.version}", out)
    return out


def _serve(  # noqa: PLR0913, PLR0917 - one serving: who, by what, when, why, where to
    stats: list[Any],
    user_id: str,
    model: AlertModel,
    at: datetime,
    cause: str,
    out: AlertOutputs,
) -> list[AlertRecommendation]:
    """Recommend from the user's features now, publishing them if not the last profile's.

    So the stored profile is always what the latest recommendations saw.
    """
    stats[SERVED] = model.version
    found = alert_stats.features(stats)
    if found is None:
        return []
    if out.profile is None and _published(stats) != stats[PUBLISHED]:
        out.profile = _publish(stats, user_id, at, cause, found)
    return [
        AlertRecommendation(
            recommendation_id=recommendation_id(
                user_id, each.alert_type.value, model.version, cause
            ),
            user_id=user_id,
            alert_type=each.alert_type,
            confidence=each.confidence,
            explanation=each.explanation,
            model_name=model.name,
            model_version=model.version,
            created_at=at,
            cause=cause,
        )
        for each in model.suggest(found, alert_stats.enabled(stats))
    ]


def _published(stats: list[Any]) -> list[Any]:
    """What is remembered of a profile when it is published (``material`` compares it)."""
    return [stats[COUNT], round(alert_stats.utilisation(stats), 4), stats[ENABLED]]


def _publish(
    stats: list[Any],
    user_id: str,
    at: datetime,
    cause: str,
    features: AlertFeatureValues | None,
) -> AlertProfile:
    """Return the user's profile now (``features``: theirs), remembered as published."""
    stats[PUBLISHED] = _published(stats)
    return AlertProfile(
        profile_id=alert_profile_id(user_id, cause),
        user_id=user_id,
        as_of=at,
        source_event_id=cause,
        features=features,
        enabled=sorted(alert_stats.enabled(stats)),
    )
