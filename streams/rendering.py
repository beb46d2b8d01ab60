"""Safe rendering of ``{{variable}}`` templates for each channel.

No template logic comes from data: a placeholder is replaced by a value and nothing else.
Every value loses control, format (bidi overrides) and line-separator characters; in an
email body, which is HTML, it is also HTML-escaped (subjects and SMS/push are plain
text). A value that is missing or blank falls back to a default, and SMS is held to one
160-character GSM-7 part.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping
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
#: Marks a cut SMS. Three dots, not "…": that character is outside GSM-7 and would turn
#: the message into UCS-2, where a part holds 70 characters, not 160.
SMS_CUT_MARK = "..."
#: Unicode categories removed from values: control, format (bidi overrides, zero-width),
#: line and paragraph separators.
_STRIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


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

    def by_id(self, template_id: str) -> Template:
        """Return the template ``<message>.<channel>``.

        Raises:
            KeyError: There is none; ``missing`` finds these before definitions are used.
        """
        message_id, _, channel = template_id.rpartition(".")
        return self.templates[(message_id, Channel(channel))]

    def known_pairs(self) -> frozenset[tuple[str, str]]:
        """Return every ``(template id, channel)`` this catalogue can render."""
        return frozenset((t.template_id, t.channel.value) for t in self.templates.values())

    def missing(self, wanted: Iterable[tuple[str, str]]) -> list[str]:
        """Return each ``(template id, channel)`` pair with no template for that channel."""
        known = {t.template_id: t.channel for t in self.templates.values()}
        return [f"{tid} (for {ch})" for tid, ch in wanted if known.get(tid) != ch]


def parse_catalogue(document: Mapping[str, Any]) -> Catalogue:
    """Build a catalogue from its YAML document (see ``templates/catalogue.yaml``)."""
    templates: dict[tuple[str, Channel], Template] = {}
    for message_id, spec in document["templates"].items():
        for channel in Channel:
            part = spec.get(channel.value)
            if part is None:
                continue
            subject, body = (
                (None, part) if isinstance(part, str) else (part.get("subject"), part["body"])
            )
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


def plain_value(value: str) -> str:
    """Return ``value`` as one line of plain text: no control or format characters."""
    kept = (" " if unicodedata.category(c) in _STRIPPED_CATEGORIES else c for c in value)
    return " ".join("".join(kept).split())[:MAX_VALUE_LENGTH]


def render(template: Template, values: Mapping[str, str], fallbacks: Mapping[str, str]) -> Rendered:
    """Fill a template's placeholders with escaped values.

    Args:
        template: What to render.
        values: Variable name -> raw value. A value that is missing, or blank once
            cleaned, uses ``fallbacks``, then the empty string.
        fallbacks: Defaults per variable name.

    Returns:
        The subject and body, and the plain values used (before any HTML escaping).
    """
    used: dict[str, str] = {}
    for name in PLACEHOLDER.findall(f"{template.subject or ''} {template.body}"):
        used[name] = plain_value(values.get(name, "")) or plain_value(fallbacks.get(name, ""))
    html_body = template.channel is Channel.EMAIL

    def in_body(match: re.Match[str]) -> str:
        value = used[match.group(1)]
        return html.escape(value, quote=True) if html_body else value

    subject = (
        PLACEHOLDER.sub(lambda m: used[m.group(1)], template.subject) if template.subject else None
    )
    body = PLACEHOLDER.sub(in_body, template.body)
    if template.channel is Channel.SMS:
        body = fit_sms(body)
    return Rendered(subject=subject, body=body, variables=used)


def fit_sms(text: str) -> str:
    """Collapse white space and cut ``text`` to ``SMS_LIMIT`` characters at a word break."""
    text = " ".join(text.split())
    if len(text) <= SMS_LIMIT:
        return text
    room = SMS_LIMIT - len(SMS_CUT_MARK)
    cut = text[:room] if text[room] == " " else text[:room].rsplit(" ", 1)[0]
    return cut.rstrip() + SMS_CUT_MARK
