"""Safe rendering of ``{{variable}}`` templates for each channel.

No template logic comes from data: a placeholder is replaced by a value and nothing else.
Values are escaped for the channel (HTML for email, control characters removed for SMS and
push), a missing value falls back to a default, and SMS is held to one 160-character part.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from schemas.events import Channel

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
#: One SMS part in the GSM-7 alphabet; longer bodies are cut with an ellipsis.
SMS_LIMIT = 160
#: Longest value substituted for one placeholder, so data cannot flood a message.
MAX_VALUE_LENGTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class Template:
    """One channel's wording of one message.

    Attributes:
        template_id: ``<message>.<channel>``.
        version: Bumped when the wording changes.
        channel: Where it is sent.
        subject: Email subject or push title; ``None`` for SMS.
        body: The text with ``{{variable}}`` placeholders.
    """

    template_id: str
    version: int
    channel: Channel
    subject: str | None
    body: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """A template with its values filled in."""

    subject: str | None
    body: str
    variables: dict[str, str]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """All templates, by message id and channel, with the fallback values."""

    templates: Mapping[tuple[str, Channel], Template]
    fallbacks: Mapping[str, str]

    def get(self, message_id: str, channel: Channel) -> Template | None:
        """Return the template for a message on a channel, if there is one."""
        return self.templates.get((message_id, channel))


def parse_catalogue(document: Mapping[str, Any]) -> Catalogue:
    """Build a catalogue from its YAML document (see ``templates/catalogue.yaml``)."""
    templates: dict[tuple[str, Channel], Template] = {}
    for message_id, spec in document["templates"].items():
        for channel in Channel:
            part = spec.get(channel.value)
            if part is None:
                continue
            subject, body = (None, part) if isinstance(part, str) else (part.get("subject"), part["body"])
            templates[(message_id, channel)] = Template(
                template_id=f"{message_id}.{channel.value}",
                version=int(spec["version"]),
                channel=channel,
                subject=subject,
                body=body,
            )
    return Catalogue(templates=templates, fallbacks=dict(document.get("fallbacks", {})))


@cache
def default_catalogue() -> Catalogue:
    """Return the catalogue shipped with the package (read once)."""
    text = resources.files("streams.templates").joinpath("catalogue.yaml").read_text("utf-8")
    return parse_catalogue(yaml.safe_load(text))


def escape_value(value: str, channel: Channel) -> str:
    """Make one value safe to place in a message on ``channel``."""
    flat = _CONTROL.sub(" ", value).strip()[:MAX_VALUE_LENGTH]
    return html.escape(flat, quote=True) if channel is Channel.EMAIL else flat


def render(template: Template, values: Mapping[str, str], fallbacks: Mapping[str, str]) -> Rendered:
    """Fill a template's placeholders with escaped values.

    Args:
        template: What to render.
        values: Variable name -> raw value. Missing or empty values use ``fallbacks``,
            then the empty string.
        fallbacks: Defaults per variable name.

    Returns:
        The subject and body, and the escaped values actually used.
    """
    used: dict[str, str] = {}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        raw = values.get(name) or fallbacks.get(name, "")
        used[name] = escape_value(raw, template.channel)
        return used[name]

    subject = PLACEHOLDER.sub(substitute, template.subject) if template.subject else None
    body = PLACEHOLDER.sub(substitute, template.body)
    if template.channel is Channel.SMS:
        body = fit_sms(body)
    return Rendered(subject=subject, body=body, variables=used)


def fit_sms(text: str) -> str:
    """Collapse white space and cut ``text`` to ``SMS_LIMIT`` characters at a word break."""
    text = " ".join(text.split())
    if len(text) <= SMS_LIMIT:
        return text
    cut = text[: SMS_LIMIT - 1].rsplit(" ", 1)[0]
    return cut + "…"
