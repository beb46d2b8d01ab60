"""The words of an intervention: template values and one rendered message per channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from schemas.commands import ChannelMessage, InterventionType
from schemas.events import Channel
from schemas.templates import VARIABLES
from streams.core.rendering import SMS_CUT_MARK, Catalogue, render, shipped_interventions
from streams.core.risk.policy import PLANS
from streams.core.state.risk_memory import RiskMemory

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)  # fmt: skip


#: Currencies written with a symbol before the amount; others get their code after it.
#: Only GSM-7 symbols, so an SMS keeps its 160 characters.
_SYMBOLS = {"USD": "$", "GBP": "£"}


def format_amount(amount: str, currency: str) -> str:
    """Return ``amount`` as a reader sees it: ``$1,234.50``, ``95.00 EUR``."""
    number = f"{Decimal(amount):,.2f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def format_date(day: date) -> str:
    """Return ``day`` as ``12 March 2026`` (the same in every locale)."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def message_values(profile: Mapping[str, Any], memory: RiskMemory, today: date) -> dict[str, str]:
    """Return the template variables: the first name, and the payment due when known.

    A payment whose due date is before ``today`` (UTC date of the score) is not
    mentioned: "due on" a past date would be wrong, and whether it was paid is unknown.
    Nor is an amount longer than the ``amount`` variable's longest value (a million or
    more): the wording that names no amount is used, so an SMS still fits.
    """
    values = {"user_name": str(profile.get("first_name") or "")}
    due = memory.payment_due
    amount = format_amount(due.amount, due.currency) if due is not None else ""
    if due is not None and (due.due_date is None or due.due_date >= today) and _fits(amount):
        values["amount"] = amount
        if due.due_date is not None:
            values["due_when"] = f"on {format_date(due.due_date)}"
    return values


def _fits(amount: str) -> bool:
    return len(amount) <= VARIABLES["intervention"]["amount"].max_length


def render_messages(
    kind: InterventionType,
    channels: Sequence[Channel],
    values: Mapping[str, str],
    catalogue: Catalogue,
) -> list[ChannelMessage]:
    """Render one message per channel with the safe renderer.

    The ``<type>_due`` wording is used when ``values`` has an amount and the catalogue has
    it for the channel; otherwise the ``<type>`` wording, which names no amount. An SMS that
    a long name would cut is rendered again with the name's fallback instead.

    Raises:
        KeyError: The catalogue has no ``<type>`` template for a channel.
    """
    messages = []
    for channel in channels:
        template = catalogue.get(f"{kind.value}_due", channel) if "amount" in values else None
        template = template or catalogue.by_id(f"{kind.value}.{channel.value}")
        rendered = render(template, values, catalogue.fallbacks)
        if channel is Channel.SMS and rendered.body.endswith(SMS_CUT_MARK):
            rendered = render(template, {**values, "user_name": ""}, catalogue.fallbacks)
        messages.append(
            ChannelMessage(
                channel=channel,
                subject=rendered.subject,
                body=rendered.body,
                template_id=template.template_id,
                template_version=template.version,
            )
        )
    return messages


def missing_templates(catalogue: Catalogue) -> list[str]:
    """Return ``<type>.<channel>`` for every planned channel without a template."""
    return [
        f"{kind.value}.{channel.value}"
        for kind, plan in PLANS.items()
        for channel in plan.channels
        if catalogue.get(kind.value, channel) is None
    ]


@cache
def intervention_catalogue() -> Catalogue:
    """Return the intervention templates shipped with the package (read once).

    Raises:
        ValueError: A planned channel has no template.
    """
    catalogue = shipped_interventions()
    if missing := missing_templates(catalogue):
        msg = f"interventions.yaml has no template for {', '.join(missing)}"
        raise ValueError(msg)
    return catalogue
