"""The sink benchmark's workload: the worker's output messages, built with the real models.

A stream of trigger decisions, as the worker publishes them: most suppressed (cooldown,
caps, quiet hours ...), about a third fired, each fired one with its communication
command; every twentieth is a risk decision with its intervention command; and for half
of the commands, the outcomes a notification service reports (``comms.outcomes``, drawn by
``streams.simulation.simulated_notifications``: delivered, opened, clicked, a response).
Every message is valid and has its own id, so every one is a new row: the rows stored are
the messages published.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from pydantic import BaseModel

from schemas.commands import ChannelMessage, SendCommunication, StartIntervention
from schemas.ids import command_id, decision_id
from schemas.records import RISK_INTERVENTION_TRIGGER_ID, SuppressionReason, TriggerDecision
from schemas.topics import (
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    INTERVENTIONS_COMMANDS,
    TRIGGER_DECISIONS,
    TopicSpec,
)
from streams.simulation.simulated_notifications import simulate_outcomes

#: Share of trigger decisions that fire (and send one command); the rest are suppressed.
FIRED_SHARE = 0.35
#: One decision in this many is a risk decision with an intervention command.
RISK_EVERY = 20
#: Share of commands whose outcomes are reported within the run.
REPORTED_SHARE = 0.5
#: A command the worker publishes.
Command = SendCommunication | StartIntervention
TRIGGERS = ("spending_spike", "large_purchase", "low_balance", "payday", "bill_due")
CHANNELS = ("email", "push", "sms")
#: The features a decision records (names as the catalogue's conditions use them).
FEATURES = ("spend_7d", "spend_ratio_7d", "balance", "txn_amount", "days_since_payday")


@dataclass(frozen=True, slots=True)
class SinkWorkload:
    """Messages for the sink's topics: ``(topic spec, key, value)`` in publishing order.

    Attributes:
        messages: Every message to pre-load.
        counts: Messages by topic name (without prefix).
    """

    messages: list[tuple[TopicSpec, bytes, bytes]]
    counts: dict[str, int]


def build_sink_workload(rows: int, users: int, *, now: datetime, seed: int = 7) -> SinkWorkload:
    """Return exactly ``rows`` valid output messages of ``users`` users, ending before ``now``.

    Args:
        rows: Messages in all; each one is one row once stored.
        users: Distinct users (message keys).
        now: Timezone-aware present; every time in the messages is before it.
        seed: Same arguments, same messages.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    messages: list[tuple[TopicSpec, bytes, bytes]] = []
    unit = 0
    while len(messages) < rows:
        user = f"user-{unit % users:06d}"
        at = now - timedelta(hours=2) + timedelta(milliseconds=unit)
        messages += _unit(rng, user, f"event-{unit}", at, now=now, seed=seed)
        unit += 1
    del messages[rows:]
    counts = Counter(spec.name for spec, _, _ in messages)
    return SinkWorkload(messages=messages, counts=dict(counts))


def _unit(
    rng: random.Random, user: str, cause: str, at: datetime, *, now: datetime, seed: int
) -> list[tuple[TopicSpec, bytes, bytes]]:
    """One decision and what follows it: its command, and the command's outcomes."""
    if rng.randrange(RISK_EVERY) == 0:
        command: Command | None = _intervention(rng, user, cause, at)
        decision = _decision(rng, RISK_INTERVENTION_TRIGGER_ID, user, cause, at, command=command)
    else:
        trigger = rng.choice(TRIGGERS)
        fired = rng.random() < FIRED_SHARE
        command = _communication(rng, trigger, user, cause, at) if fired else None
        decision = _decision(rng, trigger, user, cause, at, command=command)
    key = user.encode()
    out = [(TRIGGER_DECISIONS, key, _json(decision))]
    if command is None:
        return out
    spec = INTERVENTIONS_COMMANDS if isinstance(command, StartIntervention) else COMMS_COMMANDS
    out.append((spec, key, _json(command)))
    if rng.random() < REPORTED_SHARE:
        plain = command.model_dump(mode="json")
        for event in simulate_outcomes([plain], now=now, seed=seed):
            out.append((COMMS_OUTCOMES, key, orjson.dumps(event)))
    return out


def _decision(
    rng: random.Random,
    trigger: str,
    user: str,
    cause: str,
    at: datetime,
    *,
    command: Command | None,
) -> TriggerDecision:
    fired = command is not None
    return TriggerDecision(
        decision_id=decision_id(trigger, user, cause),
        user_id=user,
        trigger_id=trigger,
        outcome="fired" if fired else "suppressed",
        reason=None if fired else rng.choice(list(SuppressionReason)),
        detail=f"{trigger}: spend_ratio_7d {rng.uniform(1.0, 3.0):.2f} >= 1.20",
        source_event_id=cause,
        event_type="transaction",
        occurred_at=at,
        features={name: round(rng.uniform(0.0, 500.0), 2) for name in FEATURES},
        command_ids=[command.command_id] if command is not None else [],
    )


def _communication(
    rng: random.Random, trigger: str, user: str, cause: str, at: datetime
) -> SendCommunication:
    channel = rng.choice(CHANNELS)
    amount = f"${rng.uniform(20.0, 900.0):.2f}"
    return SendCommunication(
        command_id=command_id(trigger, user, cause, channel),
        user_id=user,
        decision_id=decision_id(trigger, user, cause),
        source_event_id=cause,
        created_at=at,
        trigger_id=trigger,
        channel=channel,
        template_id=f"{trigger}_{channel}",
        template_version=2,
        subject="About your spending this week" if channel == "email" else None,
        body=f"Hi {user}, you have spent {amount} this week, more than usual. Tap to see where.",
        variables={"first_name": user, "amount": amount, "ratio": "150%"},
        priority=rng.choice(("low", "medium", "high")),
        send_at=at,
        reason=f"{trigger} fired",
    )


def _intervention(rng: random.Random, user: str, cause: str, at: datetime) -> StartIntervention:
    trigger = RISK_INTERVENTION_TRIGGER_ID
    return StartIntervention(
        command_id=command_id(trigger, user, cause, "intervention"),
        user_id=user,
        decision_id=decision_id(trigger, user, cause),
        source_event_id=cause,
        created_at=at,
        intervention_type="payment_assistance",
        urgency="high",
        actions=["offer_payment_plan", "send_budget_tips"],
        timeline="within 48 hours",
        channels=["email", "push"],
        messages=[
            ChannelMessage(channel="email", subject="We can help", body=f"Hello {user}, ..."),
            ChannelMessage(channel="push", body="A payment plan could help this month."),
        ],
        risk_score=round(rng.uniform(0.6, 0.95), 3),
        risk_level="high",
        trend="increasing",
        drivers=["missed_payment", "balance_drop"],
    )


def _json(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()
