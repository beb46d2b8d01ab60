"""The templates in force: the shipped catalogue overlaid by ``templates.definitions``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from schemas.commands import InterventionType, SendCommunication, StartIntervention
from schemas.events import Channel
from streams.core.decisions.process import process
from streams.core.rendering import Catalogue, default_catalogue, shipped_interventions
from streams.core.templates import TemplateOverlay
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.overlay import DefinitionOverlay
from tests.unit.factories import (
    START,
    event,
    fold,
    profile,
    spike_at,
    spike_history,
    transaction,
)

USER = "user-1"
SPIKE = default_catalogue().messages["spending_spike"]  # shipped at version 2


def entry(**changes: Any) -> tuple[bytes, bytes]:
    """A topic entry: the shipped spending_spike with ``changes`` (a new SMS, v3 by default)."""
    document = {**SPIKE.model_dump(), "version": 3, "sms": {"body": "v3 {{spend_week}}"}}
    document |= changes
    return str(document["id"]).encode(), orjson.dumps(document)


def refusals() -> tuple[TemplateOverlay, list[int]]:
    counts: list[int] = []
    return TemplateOverlay(default_catalogue(), counts.append), counts


def test_without_entries_the_shipped_catalogue_is_in_force() -> None:
    overlay, _ = refusals()
    assert overlay.catalogue([]) is default_catalogue()
    assert {each.source for each in overlay.in_force([]).values()} == {"shipped"}


def test_a_newer_version_on_the_topic_is_in_force_and_rendered() -> None:
    overlay, _ = refusals()
    entries = [entry()]
    catalogue = overlay.catalogue(entries)
    sms = catalogue.by_id("spending_spike.sms")
    assert (sms.version, sms.body) == (3, "v3 {{spend_week}}")
    # The other channels and messages are as shipped; the fallbacks are the shipped ones.
    assert catalogue.by_id("spending_spike.email").version == 3
    assert catalogue.by_id("income_drop.sms") == default_catalogue().by_id("income_drop.sms")
    assert catalogue.fallbacks == default_catalogue().fallbacks
    assert overlay.catalogue(list(entries)) is catalogue  # rebuilt only when entries change
    assert overlay.in_force(entries)["spending_spike"].source == "topic"


def test_a_message_new_to_the_catalogue_is_added() -> None:
    overlay, _ = refusals()
    key, value = entry(id="weekly_digest", version=1)
    catalogue = overlay.catalogue([(key, value)])
    assert catalogue.by_id("weekly_digest.sms").version == 1
    assert ("weekly_digest.sms", "sms") in catalogue.known_pairs()


@pytest.mark.parametrize("version", [1, 2])
def test_an_entry_not_newer_than_the_shipped_version_is_superseded(version: int) -> None:
    overlay, counts = refusals()
    catalogue = overlay.catalogue([entry(version=version)])
    assert catalogue.by_id("spending_spike.sms") == default_catalogue().by_id("spending_spike.sms")
    assert overlay.refused() == {}  # not refused: a deploy shipped a newer wording since
    assert counts == [0]


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        (*entry(sms={"body": "{{spend_week}} {{pin_code}}"}), "sms.body: unknown variable"),
        (*entry(sms={"body": "Hi {{user_name}}" + "x" * 141}), "sms.body: 164 characters"),
        (*entry(version=0), "version: Input should be greater than or equal to 1"),
        (*entry(sms=None), "drops channel sms of version 2"),
        (
            *entry(
                id="risk_note", scope="intervention", email=None, push=None, sms="{{user_name}}"
            ),
            "scope: intervention: no intervention message is called 'risk_note'",
        ),
        (
            *entry(scope="intervention", sms="{{user_name}}", email=None, push=None, in_app=None),
            "scope: intervention, but version 2 is a trigger message's",
        ),
        (b"income_drop", entry()[1], "id 'spending_spike' does not match the message key"),
        (b"spending_spike", b"{not json", "not JSON"),
        (b"spending_spike", b"[1, 2]", "Input should be a valid dictionary"),
    ],
)
def test_an_unusable_entry_is_refused_and_the_version_before_stays(
    key: bytes, value: bytes, problem: str
) -> None:
    overlay, counts = refusals()
    good = entry()
    assert overlay.catalogue([good]).by_id("spending_spike.sms").version == 3
    # The bad entry replaces the good one on the topic (same key) or sits beside it.
    after = overlay.catalogue([good, (key, value)] if key != good[0] else [(key, value)])
    # Either way the last good version of spending_spike stays in force.
    assert after.by_id("spending_spike.sms").version == 3
    reasons = overlay.refused()[key.decode()]
    assert any(problem in reason for reason in reasons), reasons
    assert counts[-1] == 1
    # Withdrawn (a tombstone): nothing refused any more.
    overlay.catalogue([good, (key, None)] if key != good[0] else [(key, None)])
    assert overlay.refused() == {}


def test_a_refused_entry_without_a_good_one_before_leaves_the_shipped_version() -> None:
    overlay, _ = refusals()
    catalogue = overlay.catalogue([entry(sms={"body": "{{nope}}"})])
    assert catalogue.by_id("spending_spike.sms").version == 2


def spiked(catalogue: Catalogue) -> dict[Channel, SendCommunication]:
    """Ada's spending_spike commands for the same spike, rendered with ``catalogue``."""
    state = fold([profile(USER, START, first_name="Ada"), *spike_history(USER)])
    spike = transaction(USER, spike_at(), "400.00", event_id="spike-1")
    result = process(
        state, spike, default_definitions(), catalogue,
        now=spike.occurred_at, max_event_age_seconds=2 * 86_400,
    )  # fmt: skip
    return {c.channel: c for c in result.commands if c.trigger_id == "spending_spike"}


def test_a_command_names_the_version_it_was_rendered_with() -> None:
    # Through the core: the same user and spike, rendered with the catalogue in force.
    overlay, _ = refusals()
    before = spiked(overlay.catalogue([]))
    after = spiked(overlay.catalogue([entry()]))
    assert before[Channel.SMS].template_version == 2
    assert before[Channel.SMS].body.startswith("Hi Ada, your spending")
    assert after[Channel.SMS].template_version == 3
    assert after[Channel.SMS].template_id == "spending_spike.sms"
    assert after[Channel.SMS].body == f"v3 {after[Channel.SMS].variables['spend_week']}"
    assert after[Channel.EMAIL].template_version == 3


def test_trigger_definitions_are_checked_against_the_templates_in_force() -> None:
    # A trigger applied on its topic names a template applied on the other: refused until
    # the template is in force, accepted once it is.
    spike = next(d for d in default_definitions() if d.id == "spending_spike")
    digest = spike.model_copy(
        update={
            "id": "weekly_digest",
            "channels": [spike.channels[0].model_copy(update={"template": "weekly_digest.sms"})],
        }
    )
    topic = [(b"weekly_digest", digest.model_dump_json(by_alias=True).encode())]
    triggers = DefinitionOverlay.shipped_with(default_catalogue())
    assert "weekly_digest" not in {d.id for d in triggers.current(topic)}
    assert "no template weekly_digest.sms" in triggers.refused()["weekly_digest"][0]
    templates, _ = refusals()
    catalogue = templates.catalogue([entry(id="weekly_digest", version=1)])
    triggers.use_templates(catalogue.known_pairs())
    assert "weekly_digest" in {d.id for d in triggers.current(topic)}
    assert triggers.refused() == {}


# --- intervention messages -----------------------------------------------------------------


def reworded(message_id: str, **changes: Any) -> tuple[bytes, bytes]:
    """A topic entry: the shipped intervention message one version up, its email reworded."""
    shipped = shipped_interventions().messages[message_id]
    document = shipped.model_dump()
    document["version"] = shipped.version + 1
    if document.get("email"):
        document["email"] = {**document["email"], "body": "<p>v2: we can help.</p>"}
    document |= changes
    return message_id.encode(), orjson.dumps(document)


def intervened(catalogue: Catalogue | None) -> StartIntervention:
    """Ada's intervention after a week of critical risk scores, rendered with ``catalogue``."""
    state = fold([profile(USER, START, first_name="Ada")])
    commands: list[StartIntervention] = []
    for day in range(5):
        at = START + timedelta(days=day, hours=9)
        scored = event(USER, at, {"type": "risk_score", "score": 0.9, "top_drivers": []})
        result = process(
            state, scored, (), default_catalogue(), now=at, max_event_age_seconds=86_400,
            intervention_templates=catalogue,
        )  # fmt: skip
        commands += result.interventions
    assert commands, "a week of critical scores starts an intervention"
    return commands[0]


def test_intervention_messages_are_kept_apart_from_trigger_messages() -> None:
    overlay, _ = refusals()
    catalogues = overlay.catalogues([])
    assert catalogues.triggers is default_catalogue()
    assert catalogues.interventions is overlay.interventions
    assert not set(catalogues.triggers.messages) & set(catalogues.interventions.messages)
    scopes = {each.template.scope for each in overlay.in_force([]).values()}
    assert scopes == {"trigger", "intervention"}


def test_a_new_version_of_an_intervention_message_is_rendered_and_named() -> None:
    overlay, counts = refusals()
    kind = InterventionType.PAYMENT_ASSISTANCE.value
    shipped = shipped_interventions().messages[kind]
    before = intervened(overlay.catalogues([]).interventions)
    catalogues = overlay.catalogues([reworded(kind)])
    after = intervened(catalogues.interventions)
    assert counts == [0] and overlay.refused() == {}
    # Trigger messages are untouched by an intervention entry.
    assert catalogues.triggers.messages == default_catalogue().messages
    assert before.intervention_type is after.intervention_type is InterventionType(kind)
    by_channel = {m.channel: m for m in after.messages}
    assert by_channel[Channel.EMAIL].body == "<p>v2: we can help.</p>"
    assert by_channel[Channel.EMAIL].template_id == f"{kind}.email"
    assert {m.template_version for m in after.messages} == {shipped.version + 1}
    assert {m.template_version for m in before.messages} == {shipped.version}
    assert [m.channel for m in after.messages] == [m.channel for m in before.messages]


def test_an_intervention_message_that_drops_a_channel_is_refused() -> None:
    overlay, counts = refusals()
    kind = InterventionType.PAYMENT_ASSISTANCE.value
    catalogues = overlay.catalogues([reworded(kind, email=None)])
    assert catalogues.interventions.messages[kind] == shipped_interventions().messages[kind]
    (reason,) = overlay.refused()[kind]
    assert "drops channel email of version 1: its intervention plan may send on it" in reason
    assert counts[-1] == 1


def test_the_core_renders_with_the_shipped_intervention_messages_by_default() -> None:
    shipped = intervened(None)
    assert shipped.messages == intervened(shipped_interventions()).messages
    assert all(m.template_version is not None for m in shipped.messages)


def test_a_refused_entry_that_leaves_the_topic_is_no_longer_counted() -> None:
    # The feed drops a tombstoned key rather than hand on its tombstone: the refusal and
    # its count go with the key.
    overlay, counts = refusals()
    bad = entry(sms={"body": "{{nope}}"})
    overlay.catalogue([bad, entry(id="weekly_digest", version=1)])
    assert list(overlay.refused()) == ["spending_spike"] and counts[-1] == 1
    overlay.catalogue([entry(id="weekly_digest", version=1)])
    assert overlay.refused() == {} and counts[-1] == 0


def test_an_intervention_wording_without_a_payment_may_not_name_its_amount() -> None:
    overlay, _ = refusals()
    kind = InterventionType.FLEXIBLE_PAYMENT.value
    body = "Your {{amount}} payment is due."
    overlay.catalogues([reworded(kind, in_app={"subject": "Hi", "body": body})])
    (reason,) = overlay.refused()[kind]
    assert reason.startswith("in_app.body: {{amount}} is known only to a <type>_due message")
