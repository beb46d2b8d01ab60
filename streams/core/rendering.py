"""Safe rendering of ``{{variable}}`` templates for each channel.

No template logic comes from data: a placeholder is replaced by a value and nothing else.
Every value loses control, format (bidi overrides) and line-separator characters. Values
are plain text, and the messages go on to notification services that may run their own
template engine or render HTML, so a value must not be able to start either there: a user
whose first name is ``{{7*7}}`` or ``${jndi:ldap://...}`` is shown as text, never
evaluated. So, as substituted:

- in an email body, which is HTML, a value is HTML-escaped and its braces become the
  character references ``&#123;`` and ``&#125;``: it reads the same, and neither ``<`` nor
  ``{`` reaches the sender's engine (``{{``, ``{%``, ``${``, ``#{``, ``<%`` are all broken);
- everywhere else (subjects, SMS, push, in-app, phone notes: plain text) a value's ``{``,
  ``}``, ``<`` and ``>`` become spaces, so no tag and no ``{{ }}``, ``{% %}``, ``${ }``,
  ``#{ }`` or ``<% %>`` can form (``&`` and quotes stay: they are text, not syntax).

Engines whose syntax needs no brace or angle bracket (Velocity's bare ``$name``) are not
covered. The command's ``variables`` record each value as cleaned, before this. A value
that is missing or blank (once neutralised), or longer than its variable's registered
longest (``schemas.templates.VARIABLES``), falls back to a default; so an SMS that
validated (it fits with every variable at its longest) is never cut. SMS is held to one
160-character GSM-7 part all the same.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from schemas.events import Channel
from schemas.templates import (
    PLACEHOLDER as PLACEHOLDER,  # re-exported: the renderer's callers find them here
)
from schemas.templates import (
    SMS_LIMIT as SMS_LIMIT,
)
from schemas.templates import (
    MessageTemplate,
    Scope,
    fallback_problems,
    max_length,
    validate_template,
)

#: Longest value substituted for one placeholder, so data cannot flood a message.
MAX_VALUE_LENGTH = 200
#: Marks a cut SMS. Three dots, not "…": that character is outside GSM-7 and would turn
#: the message into UCS-2, where a part holds 70 characters, not 160.
SMS_CUT_MARK = "..."
#: Unicode categories removed from values: control, format (bidi overrides, zero-width),
#: line and paragraph separators.
_STRIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
#: Characters of a value that open or close markup or template syntax downstream, as they
#: are written into plain text: a space (GSM-7, and it cannot pair up with anything).
_PLAIN_TEXT_SYNTAX = str.maketrans(dict.fromkeys("{}<>", " "))
#: The same characters in an HTML body: ``html.escape`` takes care of ``<`` and ``>``;
#: braces become character references, which show as braces but are not template syntax.
_HTML_BRACES = str.maketrans({"{": "&#123;", "}": "&#125;"})


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


_CHANNELS = frozenset(channel.value for channel in Channel)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """All templates, by message id and channel, with the fallback values."""

    templates: Mapping[tuple[str, Channel], Template]
    fallbacks: Mapping[str, str]
    messages: Mapping[str, MessageTemplate] = field(default_factory=dict)
    """The message templates these were made from, by message id (none if built by hand)."""

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

    def has(self, template_id: str) -> bool:
        """Return whether there is a template ``<message>.<channel>``."""
        message_id, _, channel = template_id.rpartition(".")
        return channel in _CHANNELS and (message_id, Channel(channel)) in self.templates

    def known_pairs(self) -> frozenset[tuple[str, str]]:
        """Return every ``(template id, channel)`` this catalogue can render."""
        return frozenset((t.template_id, t.channel.value) for t in self.templates.values())

    def missing(self, wanted: Iterable[tuple[str, str]]) -> list[str]:
        """Return each ``(template id, channel)`` pair with no template for that channel."""
        known = {t.template_id: t.channel for t in self.templates.values()}
        return [f"{tid} (for {ch})" for tid, ch in wanted if known.get(tid) != ch]


def parse_catalogue(document: Mapping[str, Any], scope: Scope | None = None) -> Catalogue:
    """Build a catalogue from its YAML document (see ``templates/catalogue.yaml``).

    Every template is validated (``schemas.templates.validate_template``: its shape, its
    variables, an SMS's length with the longest values), and so are the fallbacks.

    Args:
        document: ``templates`` (message id -> version and channels), ``fallbacks``
            (variable -> default) and optionally ``scope`` (``trigger`` if absent).
        scope: Overrides the document's ``scope``.

    Raises:
        TemplateError: With every problem found.
    """
    templates, problems = message_templates(document, "catalogue", scope)
    problems += fallback_problems(document.get("fallbacks") or {})
    if problems:
        raise TemplateError(problems)
    return catalogue_of(templates, document.get("fallbacks") or {})


class TemplateError(ValueError):
    """Templates that failed validation, with every problem as ``where: path: reason``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid message templates:\n  " + "\n  ".join(problems))
        self.problems = problems


def message_templates(
    document: Any, source: str, scope: Scope | None = None
) -> tuple[list[MessageTemplate], list[str]]:
    """Validate a catalogue document's templates; return them and the problems found.

    Problems read ``<source>: <message id>: <path>: <reason>``.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("templates"), Mapping):
        return [], [f"{source}: expected a mapping with templates: (message id -> template)"]
    scope = scope or document.get("scope") or "trigger"
    templates, problems = [], []
    for message_id, spec in document["templates"].items():
        if isinstance(spec, Mapping) and "id" not in spec:
            spec = {"id": message_id, "scope": scope, **spec}
        result = validate_template(spec)
        if isinstance(result, list):
            problems += [f"{source}: {message_id}: {problem}" for problem in result]
        else:
            templates.append(result)
    return templates, problems


def templates_of(message: MessageTemplate) -> list[Template]:
    """Return a message template's wording per channel, as the renderer uses it."""
    return [
        Template(
            template_id=f"{message.id}.{channel.value}",
            version=message.version,
            channel=channel,
            subject=text.subject,
            body=text.body,
        )
        for channel, text in message.channels().items()
    ]


def catalogue_of(messages: Iterable[MessageTemplate], fallbacks: Mapping[str, str]) -> Catalogue:
    """Return the catalogue of ``messages`` with ``fallbacks``."""
    messages = list(messages)
    templates = {
        (message.id, template.channel): template
        for message in messages
        for template in templates_of(message)
    }
    return Catalogue(
        templates=templates,
        fallbacks=dict(fallbacks),
        messages={message.id: message for message in messages},
    )


@cache
def default_catalogue() -> Catalogue:
    """Return the trigger messages' catalogue shipped with the package (read once)."""
    return _shipped("catalogue.yaml")


@cache
def shipped_interventions() -> Catalogue:
    """Return the intervention messages' catalogue shipped with the package (read once).

    ``streams.core.risk.messages.intervention_catalogue`` also checks every planned
    channel has a template.
    """
    return _shipped("interventions.yaml")


def _shipped(name: str) -> Catalogue:
    text = resources.files("streams.templates").joinpath(name).read_text("utf-8")
    return parse_catalogue(yaml.safe_load(text))


def plain_value(value: str) -> str:
    """Return ``value`` as one line of plain text: no control or format characters."""
    kept = (" " if unicodedata.category(c) in _STRIPPED_CATEGORIES else c for c in value)
    return " ".join("".join(kept).split())[:MAX_VALUE_LENGTH]


def plain_text(value: str) -> str:
    """Return a cleaned value as written into plain text: no brace or angle bracket."""
    return " ".join(value.translate(_PLAIN_TEXT_SYNTAX).split())


def html_text(value: str) -> str:
    """Return a cleaned value as written into an HTML body: escaped, braces as references."""
    return html.escape(value, quote=True).translate(_HTML_BRACES)


def _usable(raw: str, name: str) -> str:
    """Return ``raw`` cleaned, or ``""`` if it cannot be shown.

    It cannot if nothing would be left of it in plain text, or if it is longer in plain
    text than variable ``name``'s registered longest value.
    """
    value = plain_value(raw)
    shown = plain_text(value)
    limit = max_length(name)
    return value if shown and (limit is None or len(shown) <= limit) else ""


def render(template: Template, values: Mapping[str, str], fallbacks: Mapping[str, str]) -> Rendered:
    """Fill a template's placeholders with neutralised values (see the module docstring).

    Args:
        template: What to render.
        values: Variable name -> raw value. A value that is missing, blank once cleaned
            and neutralised, or longer than its registered variable's longest value, uses
            ``fallbacks``, then the empty string.
        fallbacks: Defaults per variable name.

    Returns:
        The subject and body, and the cleaned values used (before they were neutralised
        for the channel).
    """
    used: dict[str, str] = {}
    for name in PLACEHOLDER.findall(f"{template.subject or ''} {template.body}"):
        used[name] = _usable(values.get(name, ""), name) or _usable(fallbacks.get(name, ""), name)
    in_body_text = html_text if template.channel is Channel.EMAIL else plain_text

    def in_body(match: re.Match[str]) -> str:
        return in_body_text(used[match.group(1)])

    def in_subject(match: re.Match[str]) -> str:
        return plain_text(used[match.group(1)])

    subject = PLACEHOLDER.sub(in_subject, template.subject) if template.subject else None
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
