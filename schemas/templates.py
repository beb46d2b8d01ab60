"""Message templates as data: their schema, the variables they may name, and their checks.

A message template is one message's wording on each of its channels, versioned as a
whole: ``version`` names one wording for ever, and every command records the version it
was rendered with. Templates ship in ``streams/templates/*.yaml`` and can be applied live
to the compacted ``templates.definitions`` topic (``nudge templates apply``); both go
through ``validate_template``:

- a placeholder ``{{name}}`` must name a **registered variable** of the template's scope
  (``VARIABLES``: where each value comes from and the longest it is ever rendered);
- an SMS body must fit one GSM-7 part (``SMS_LIMIT``) when every variable takes its
  longest value. The renderer keeps that promise: a value longer than its variable's
  ``max_length`` is never substituted; the variable's fallback is (or nothing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.events import Channel
from schemas.features import FEATURES, Feature, FeatureKind
from schemas.personalization import CONTENT_FIELDS

#: A placeholder: ``{{name}}`` or ``{{family.name}}`` (spaces inside the braces allowed).
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\s*\}\}")
#: One SMS part in the GSM-7 alphabet: what every SMS template must fit.
SMS_LIMIT = 160
#: What a message id looks like (the same shape as a trigger id).
TEMPLATE_ID = r"^[a-z][a-z0-9_]{2,63}$"

#: GSM 03.38's basic character set: each costs one of an SMS part's 160 characters.
#: A character outside it (and its extension) makes the whole message UCS-2, where a part
#: holds 70 characters: curly quotes and dashes are the usual culprits.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38's extension table: each costs two characters (an escape, then the character).
_GSM_EXTENSION = frozenset("^{}\\[~]|€")

Scope = Literal["trigger", "intervention"]


@dataclass(frozen=True, slots=True)
class TemplateVariable:
    """One value a template may name.

    Attributes:
        name: The placeholder's name.
        source: Where the value comes from: ``profile``, ``feature`` (a feature of
            ``schemas.features``, formatted by its unit), ``personalization`` (the content
            of the personalization rule that applies) or ``intervention`` (the payment due).
        max_length: The longest value the renderer substitutes, in characters as written
            into plain text; a longer value is replaced by the variable's fallback.
        description: What it holds, for people.
    """

    name: str
    source: Literal["profile", "feature", "personalization", "intervention"]
    max_length: int
    description: str


#: Longest rendered number per unit (``streams.core.features.context.format_value``):
#: dollars up to "$9,999,999,999.99" (or "$-999,999,999.99"); whole percents, days and
#: minutes up to six characters ("-99999", "999999"); counts up to "9999999" (a mean:
#: "99999.9"); multiples up to "999999.9". Realistic values are far shorter; one longer is
#: an anomaly, and the message carries the variable's fallback instead of a huge number.
_UNIT_LENGTH = {
    "dollars": 17, "percent": 6, "days": 6, "minutes": 6, "count": 7, "times": 8,
}  # fmt: skip
#: Longest value per feature kind when the unit does not say: a unitless number is
#: written ``{:g}`` ("-1.23457e+06" is 12); a boolean "False"; free text 40.
_KIND_LENGTH = {
    FeatureKind.NUMBER: 12, FeatureKind.BOOLEAN: 5, FeatureKind.MOMENT: 12,
    FeatureKind.TEXT: 40,
}  # fmt: skip
#: Text features with a known shape, or a tighter bound a message needs: dates are
#: YYYY-MM-DD, months YYYY-MM, weeks YYYY-Www; names of kinds are the longest listed in
#: ``schemas.features``; products and fields are free text, kept to what fits a sentence
#: (a longer one shows the fallback, "new", or nothing).
_TEXT_LENGTH = {
    "event_type": 32, "transaction_direction": 6, "spend_trend": 10, "income_trend": 10,
    "transaction_anomaly_reason": 8, "closed_month": 7, "tier": 8, "account_kind": 11,
    "next_birthday": 10, "lease_end": 10, "student_loan_grace_end": 10, "iso_week": 8,
    "pattern": 18, "product": 24, "application_pending_product": 24, "career_field": 32,
    "missing_skills_top": 38,
}  # fmt: skip
#: A first name longer than this is greeted by the fallback ("Hi there"), in every channel,
#: so a message's length never depends on a long name. Most first names are under 12.
USER_NAME_LENGTH = 20
#: Personalization content is at most 160 characters (``schemas.personalization``).
_CONTENT_LENGTH = 160


def _feature_length(feature: Feature) -> int:
    if feature.kind is FeatureKind.TEXT:
        return _TEXT_LENGTH.get(feature.name, _KIND_LENGTH[FeatureKind.TEXT])
    if feature.kind is FeatureKind.NUMBER and feature.unit in _UNIT_LENGTH:
        return _UNIT_LENGTH[feature.unit]
    return _KIND_LENGTH[feature.kind]


def _registry() -> dict[Scope, Mapping[str, TemplateVariable]]:
    user_name = TemplateVariable(
        "user_name", "profile", USER_NAME_LENGTH, "the user's first name, from their profile"
    )
    trigger: dict[str, TemplateVariable] = {"user_name": user_name}
    for name, feature in FEATURES.items():
        trigger[name] = TemplateVariable(
            name, "feature", _feature_length(feature), feature.description
        )
    for field in CONTENT_FIELDS:
        trigger[f"personalization.{field}"] = TemplateVariable(
            f"personalization.{field}", "personalization", _CONTENT_LENGTH,
            f"the {field} of the personalization rule that applies to the user",
        )  # fmt: skip
    intervention = {
        "user_name": user_name,
        "amount": TemplateVariable(
            "amount", "intervention", 14,
            "the payment due with its currency ($1,234.50, 95.00 EUR), under a million "
            "(a larger one is not named: the wording without an amount is used)",
        ),
        "due_when": TemplateVariable(
            "due_when", "intervention", 20, 'the due date: "on 12 September 2026", or "soon"'
        ),
    }  # fmt: skip
    return {
        "trigger": MappingProxyType(trigger),
        "intervention": MappingProxyType(intervention),
    }


#: Scope -> the variables its templates may name. ``trigger``: messages of trigger
#: definitions (the first name, every feature, the personalization content);
#: ``intervention``: risk interventions' messages (the first name, the payment due).
VARIABLES: Mapping[Scope, Mapping[str, TemplateVariable]] = MappingProxyType(_registry())


def max_length(name: str) -> int | None:
    """Return the longest value variable ``name`` is rendered with, if it is registered."""
    for variables in VARIABLES.values():
        if name in variables:
            return variables[name].max_length
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelText(_Strict):
    """One channel's wording: a subject (email subject, push or in-app title) and a body."""

    subject: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    body: Annotated[str, Field(min_length=1, max_length=20_000)]


class MessageTemplate(_Strict):
    """One message's wording on each of its channels, versioned as a whole.

    In YAML a channel is either its body (a string) or ``{subject, body}``; the id is the
    key under ``templates:`` in the shipped files and a field on the topic.
    """

    id: Annotated[str, Field(pattern=TEMPLATE_ID)]
    version: Annotated[int, Field(ge=1, le=1_000_000)]
    """Names one wording for ever: a new wording takes a higher version."""
    scope: Scope = "trigger"
    """Which variables it may name (``VARIABLES``)."""
    sms: ChannelText | None = None
    email: ChannelText | None = None
    push: ChannelText | None = None
    in_app: ChannelText | None = None
    phone: ChannelText | None = None

    @model_validator(mode="before")
    @classmethod
    def _bodies_as_text(cls, data: Any) -> Any:
        """Accept a channel given as its body alone (``sms: Hi {{user_name}}``)."""
        if isinstance(data, dict):
            return {
                key: {"body": value} if key in _CHANNEL_NAMES and isinstance(value, str) else value
                for key, value in data.items()
            }
        return data

    @model_validator(mode="after")
    def _has_a_channel(self) -> MessageTemplate:
        if not self.channels():
            msg = "give at least one channel (sms, email, push, in_app, phone)"
            raise ValueError(msg)
        if self.sms is not None and self.sms.subject is not None:
            msg = "sms.subject: an SMS has no subject"
            raise ValueError(msg)
        return self

    def channels(self) -> dict[Channel, ChannelText]:
        """Return the wording per channel, for the channels it has."""
        texts = {channel: getattr(self, channel.value) for channel in Channel}
        return {channel: text for channel, text in texts.items() if text is not None}

    def same_wording(self, other: MessageTemplate) -> bool:
        """Whether ``other`` says the same on the same channels (its version aside)."""
        return self.model_dump(exclude={"version"}) == other.model_dump(exclude={"version"})


_CHANNEL_NAMES = frozenset(channel.value for channel in Channel)


def placeholders(text: str) -> list[str]:
    """Return the variable names ``text``'s placeholders name, in order."""
    return PLACEHOLDER.findall(text)


def sms_length(text: str) -> int:
    """Return how many of an SMS part's characters ``text`` takes in GSM-7.

    White space is collapsed first, as the renderer does; extension characters count twice.
    """
    collapsed = " ".join(text.split())
    return len(collapsed) + sum(char in _GSM_EXTENSION for char in collapsed)


def longest_sms(body: str, scope: Scope = "trigger") -> str:
    """Return ``body`` with every placeholder replaced by its variable's longest value.

    An unregistered variable takes the renderer's general cap: its problem is reported
    separately.
    """
    variables = VARIABLES[scope]

    def longest(match: re.Match[str]) -> str:
        variable = variables.get(match.group(1))
        return "x" * (variable.max_length if variable else 200)

    return PLACEHOLDER.sub(longest, body)


#: Intervention variables only a ``<type>_due`` wording has a value for (the payment due).
_DUE_ONLY = frozenset({"amount", "due_when"})
_DUE_SUFFIX = "_due"


def template_problems(template: MessageTemplate) -> list[str]:
    """Return what makes ``template`` unusable beyond its shape, as ``path: reason`` lines.

    Unknown variables and malformed placeholders in every subject and body; the payment
    due's variables outside an intervention's ``<type>_due`` wording; for SMS, the body's
    length with every variable at its longest, and characters outside GSM-7.
    """
    known = VARIABLES[template.scope]
    problems = []
    for channel, text in template.channels().items():
        for part, wording in (("subject", text.subject), ("body", text.body)):
            if wording is None:
                continue
            where = f"{channel.value}.{part}"
            for name in dict.fromkeys(placeholders(wording)):
                if name not in known:
                    problems.append(
                        f"{where}: unknown variable {{{{{name}}}}}: not a registered "
                        f"{template.scope} variable (see nudge templates variables)"
                    )
                elif (
                    template.scope == "intervention"
                    and name in _DUE_ONLY
                    and not template.id.endswith(_DUE_SUFFIX)
                ):
                    problems.append(
                        f"{where}: {{{{{name}}}}} is known only to a <type>{_DUE_SUFFIX} "
                        "message: this wording is sent when no payment due is known"
                    )
            left = PLACEHOLDER.sub("", wording)
            if "{{" in left or "}}" in left:
                problems.append(
                    f"{where}: a malformed placeholder: write {{{{name}}}} with a lower-case name"
                )
    if template.sms is not None:
        problems += _sms_problems(template.sms.body, template.scope)
    return problems


def _sms_problems(body: str, scope: Scope) -> list[str]:
    fixed = PLACEHOLDER.sub("", body)
    outside = sorted({c for c in fixed if c not in _GSM_BASIC and c not in _GSM_EXTENSION})
    problems = []
    if outside:
        shown = "".join(outside)
        problems.append(
            f"sms.body: characters outside GSM-7 ({shown!r}) would send it as UCS-2, "
            "70 characters a part: use plain quotes and dashes"
        )
    length = sms_length(longest_sms(body, scope))
    if length > SMS_LIMIT:
        named = [n for n in dict.fromkeys(placeholders(body)) if n in VARIABLES[scope]]
        longest = ", ".join(f"{n} {VARIABLES[scope][n].max_length}" for n in named)
        problems.append(
            f"sms.body: {length} characters with every variable at its longest "
            f"({longest or 'no variables'}); an SMS holds {SMS_LIMIT}"
        )
    return problems


def fallback_problems(fallbacks: Mapping[str, str]) -> list[str]:
    """Return the fallbacks longer than their variable's longest value (or unregistered)."""
    problems = []
    for name, value in fallbacks.items():
        limit = max_length(name)
        if limit is None:
            problems.append(f"fallbacks.{name}: not a registered variable")
        elif len(value) > limit:
            problems.append(f"fallbacks.{name}: {len(value)} characters; at most {limit}")
    return problems


def validate_template(document: Any) -> MessageTemplate | list[str]:
    """Validate one template; return it, or its problems as ``path: reason`` lines."""
    try:
        template = MessageTemplate.model_validate(document)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False, include_input=False):
            message = item["msg"].removeprefix("Value error, ")
            path = ".".join(str(step) for step in item["loc"])
            problems.append(f"{path}: {message}" if path else message)
        return problems
    return template_problems(template) or template
