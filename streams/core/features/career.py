"""Career features, read from the current ``career_signal``: salary, jobs and skills.

Registered into ``streams.core.features.registry.COMPUTE``.
"""

from __future__ import annotations

from schemas.events import CareerSignal
from streams.core.features.baselines import percent_change
from streams.core.features.context import Feature, FeatureContext, Value

#: Missing skills named in a message, at most.
TOP_SKILLS = 3


def _signal(ctx: FeatureContext) -> CareerSignal | None:
    payload = ctx.payload
    return payload if isinstance(payload, CareerSignal) else None


def _salary(ctx: FeatureContext) -> Value:
    signal = _signal(ctx)
    return None if signal is None or signal.salary is None else float(signal.salary)


def _market_rate(ctx: FeatureContext) -> Value:
    signal = _signal(ctx)
    return None if signal is None or signal.market_rate is None else float(signal.market_rate)


def _salary_gap(ctx: FeatureContext) -> Value:
    signal = _signal(ctx)
    if signal is None or signal.salary is None or not signal.market_rate:
        return None
    return -percent_change(float(signal.salary), float(signal.market_rate))


def _career_field(ctx: FeatureContext) -> Value:
    signal = _signal(ctx)
    field = None if signal is None or signal.field is None else signal.field.strip()
    return field or None


def _job_matches(ctx: FeatureContext) -> Value:
    signal = _signal(ctx)
    return None if signal is None else float(signal.job_matches)


def _skills(signal: CareerSignal) -> list[str]:
    return [skill.strip() for skill in signal.missing_skills if skill.strip()]


def _missing_skills_count(ctx: FeatureContext) -> Value:
    signal = _signal(ctx)
    return None if signal is None else float(len(_skills(signal)))


def _missing_skills_top(ctx: FeatureContext) -> Value:
    signal = _signal(ctx)
    skills = [] if signal is None else _skills(signal)
    return ", ".join(skills[:TOP_SKILLS]) or None


COMPUTE: dict[str, Feature] = {
    "salary": _salary,
    "market_rate": _market_rate,
    "salary_gap_pct": _salary_gap,
    "career_field": _career_field,
    "job_matches": _job_matches,
    "missing_skills_count": _missing_skills_count,
    "missing_skills_top": _missing_skills_top,
}

DEPENDS: dict[str, tuple[str, ...]] = {
    "salary_gap_pct": ("salary", "market_rate"),
}
