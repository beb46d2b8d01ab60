"""``nudge templates ...``: message templates as versioned data, hot-reloaded by every worker.

``validate`` checks files (no Kafka needed); ``apply`` publishes them to the compacted
``templates.definitions`` topic, which every worker follows: the next message renders
with the new version, without a restart. A version names one wording for ever, so
``apply`` publishes a template only if its version is higher than the one in force;
re-applying the version in force unchanged is a no-op, and a changed wording under the
same (or a lower) version is refused: the file must say ``version: N+1``.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from schemas.settings import Settings
from schemas.templates import SMS_LIMIT, VARIABLES, MessageTemplate, longest_sms, sms_length
from schemas.topics import TEMPLATES_DEFINITIONS
from streams.core.rendering import TemplateError, default_catalogue, shipped_interventions
from streams.core.templates import (
    InForce,
    TemplateOverlay,
    load_template_files,
    replacement_problems,
)


def register(subcommands: Any) -> None:
    """Add ``templates`` to the ``nudge`` subcommands."""
    templates = subcommands.add_parser("templates", help="message templates (hot-reloaded)")
    actions = templates.add_subparsers(dest="action", required=True)
    for name, text in (
        ("validate", "check template files (no Kafka needed)"),
        ("apply", "validate and publish template files to every worker"),
        ("diff", "show what applying the files would change"),
    ):
        actions.add_parser(name, help=text).add_argument("files", type=Path, nargs="+")
    actions.add_parser("list", help="show the templates in force and their versions")
    actions.add_parser("variables", help="show the variables templates may name")
    templates.set_defaults(run=run)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch ``nudge templates ACTION``."""
    if args.action == "validate":
        return validate(args.files)
    if args.action == "apply":
        return apply(settings, args.files)
    if args.action == "diff":
        return diff(settings, args.files)
    if args.action == "variables":
        return variables()
    return list_templates(settings)


def _loaded(paths: list[Path], *, applying: bool = False) -> list[MessageTemplate] | None:
    """Return the files' templates, or ``None`` after printing their problems.

    ``applying``: the files' fallbacks must also be the shipped ones (fallbacks are per
    variable, not per template, and ship with the catalogue).
    """
    try:
        templates, fallbacks = load_template_files(paths)
    except TemplateError as error:
        print(error)
        return None
    shipped = {**shipped_interventions().fallbacks, **default_catalogue().fallbacks}
    differing = sorted(n for n, v in fallbacks.items() if shipped.get(n) != v)
    if applying and differing:
        print(
            "invalid message templates:\n  fallbacks are per variable and ship with the "
            f"catalogue; these differ from the shipped ones: {', '.join(differing)}"
        )
        return None
    return templates


def _sms_note(template: MessageTemplate) -> str:
    if template.sms is None:
        return ""
    longest = sms_length(longest_sms(template.sms.body, template.scope))
    return f"  (sms {longest}/{SMS_LIMIT} at the longest)"


def validate(paths: list[Path]) -> int:
    """Print whether the files' templates are valid; return the exit status (0 or 1)."""
    templates = _loaded(paths)
    if templates is None:
        return 1
    # What needs no broker of the rules a replacement follows: an intervention message
    # must be a shipped one, keep its channels and scope (apply also checks versions).
    shipped = TemplateOverlay.shipped_with().in_force([])
    problems = [
        f"{template.id}: {problem}"
        for template in templates
        if template.scope == "intervention" or template.id in shipped
        for problem in replacement_problems(template, _template(shipped.get(template.id)))
    ]
    if problems:
        print("invalid message templates:\n  " + "\n  ".join(problems))
        return 1
    for template in templates:
        print(f"ok  {template.id} v{template.version}{_sms_note(template)}")
    return 0


async def effective(
    settings: Settings,
) -> tuple[dict[str, InForce], dict[str, list[str]], set[str]]:
    """Return the templates in force by id, the refused entries, the superseded ones.

    Refused: message id -> reasons. Superseded: ids of topic entries whose version is not
    above the shipped one's (a deploy shipped a newer wording since).
    """
    from streams.runtime.definitions_feed import read_definitions  # noqa: PLC0415
    from streams.runtime.kafka_admin import ensure_topics  # noqa: PLC0415

    await ensure_topics(settings, [TEMPLATES_DEFINITIONS])
    entries = await read_definitions(settings, spec=TEMPLATES_DEFINITIONS)
    overlay = TemplateOverlay.shipped_with()
    current = overlay.in_force(entries.items())
    refused = overlay.refused()
    superseded = (
        {key.decode(errors="replace") for key in entries}
        - set(refused)
        - {i for i, each in current.items() if each.source == "topic"}
    )
    return current, refused, superseded


def verdict(new: MessageTemplate, old: MessageTemplate | None) -> tuple[str, list[str]]:
    """Return what applying ``new`` over ``old`` (the version in force) does.

    Returns:
        ``new``, ``newer``, ``unchanged`` or ``refused``, and the reasons for a refusal.
    """
    problems = replacement_problems(new, old)
    if old is None:
        return ("refused", problems) if problems else ("new", [])
    if new.version == old.version and new.same_wording(old):
        return "unchanged", []
    if new.version <= old.version:
        problems.append(
            f"version {new.version} is not above version {old.version} in force, and the "
            f"wording differs: a version names one wording; give version {old.version + 1}"
        )
    return ("refused", problems) if problems else ("newer", [])


def apply(settings: Settings, paths: list[Path]) -> int:
    """Validate files and publish their new versions; return the exit status.

    All or nothing: if any template is refused, nothing is published (exit 1).
    """
    templates = _loaded(paths, applying=True)
    if templates is None:
        return 1
    current = asyncio.run(effective(settings))[0]
    judged = [(t, *verdict(t, _template(current.get(t.id)))) for t in templates]
    refused = [(t, problems) for t, outcome, problems in judged if outcome == "refused"]
    if refused:
        print("refused; nothing applied:")
        for template, problems in refused:
            for problem in problems:
                print(f"  {template.id}: {problem}")
        return 1
    publish = [t for t, outcome, _ in judged if outcome in ("new", "newer")]
    if publish:
        asyncio.run(publish_templates(settings, publish))
    for template, outcome, _ in judged:
        shown = "unchanged" if outcome == "unchanged" else "applied"
        print(f"{shown:9}  {template.id} v{template.version}")
    return 0


async def publish_templates(settings: Settings, templates: list[MessageTemplate]) -> None:
    """Publish templates to ``templates.definitions``, keyed by message id."""
    from streams.runtime.definitions_feed import publish_entries  # noqa: PLC0415

    records: list[tuple[bytes, bytes | None]] = [
        (t.id.encode(), t.model_dump_json().encode()) for t in templates
    ]
    await publish_entries(settings, records, TEMPLATES_DEFINITIONS)


def _template(each: InForce | None) -> MessageTemplate | None:
    return None if each is None else each.template


def diff(settings: Settings, paths: list[Path]) -> int:
    """Print what applying the files would change; 1 if anything would, 2 if invalid."""
    from streams.cli.definitions import changes  # noqa: PLC0415

    templates = _loaded(paths, applying=True)
    if templates is None:
        return 2
    current = asyncio.run(effective(settings))[0]
    changed = 0
    for template in templates:
        old = _template(current.get(template.id))
        outcome, problems = verdict(template, old)
        if outcome == "refused":
            changed += 1
            print(f"! {template.id}: would be refused: {'; '.join(problems)}")
            continue
        lines = changes(old, template)
        changed += bool(lines)
        for line in lines:
            print(line)
    print(f"{changed} of {len(templates)} templates would change")
    return 1 if changed else 0


def list_templates(settings: Settings) -> int:
    """Print the templates in force, then the topic's entries refused or superseded."""
    current, refused, superseded = asyncio.run(effective(settings))
    print(f"{'id':28} {'version':8} {'source':8} {'scope':13} channels")
    for message_id in sorted(current):
        each = current[message_id]
        t = each.template
        channels = ",".join(channel.value for channel in t.channels())
        print(f"{t.id:28} {t.version:<8} {each.source:8} {t.scope:13} {channels}{_sms_note(t)}")
    for message_id, reasons in sorted(refused.items()):
        # Refused: the line above for this id (if any) is the version still in force.
        print(f"refused     {message_id[:64]}: {'; '.join(reasons)}")
    for message_id in sorted(superseded):
        print(f"superseded  {message_id[:64]}: the shipped version is newer")
    return 0


def variables() -> int:
    """Print the variables templates may name, with their longest rendered value."""
    for scope, known in VARIABLES.items():
        print(f"{scope} templates:")
        for name in sorted(known):
            variable = known[name]
            print(f"  {name:34} {variable.max_length:>4}  {variable.source:15} "
                  f"{variable.description}")  # fmt: skip
    return 0
