"""The definitions in force: shipped catalogue overlaid by the topic, never trusting it."""

from __future__ import annotations

import pytest

from schemas.events import Channel
from schemas.triggers import ChannelTemplate, TriggerDefinition
from streams.core.rendering import default_catalogue
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.overlay import DefinitionOverlay

SHIPPED = {d.id: d for d in default_definitions()}
SPIKE = SHIPPED["spending_spike"]


def source() -> DefinitionOverlay:
    templates = frozenset(
        (t.template_id, t.channel.value) for t in default_catalogue().templates.values()
    )
    return DefinitionOverlay(SHIPPED, templates)


def entry(definition: TriggerDefinition) -> tuple[bytes, bytes]:
    return definition.id.encode(), definition.model_dump_json(by_alias=True).encode()


UNKNOWN_TEMPLATE = SPIKE.model_copy(
    update={"channels": [ChannelTemplate(channel=Channel.SMS, template="nope.sms")]}
)


def spike_with(**thresholds: float) -> TriggerDefinition:
    return SPIKE.model_copy(update={"thresholds": {**SPIKE.thresholds, **thresholds}})


def test_without_entries_the_shipped_catalogue_is_in_force_most_important_first() -> None:
    current = source().current([])
    assert {d.id for d in current} == set(SHIPPED)
    ranks = [d.priority.rank for d in current]
    assert ranks == sorted(ranks)


def test_a_topic_entry_replaces_the_shipped_definition_of_its_id() -> None:
    current = {d.id: d for d in source().current([entry(spike_with(spike_percent=50))])}
    assert current["spending_spike"].thresholds["spike_percent"] == 50
    assert len(current) == len(SHIPPED)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON: unexpected character, expected a string key"),
        (b'{"id": "spending_spike"}', "name: Field required"),  # invalid definition
        (entry(SPIKE.model_copy(update={"id": "other_id"}))[1],
         "id 'other_id' does not match the message key"),
        (entry(UNKNOWN_TEMPLATE)[1], "channels: no template nope.sms for sms"),  # not rendered
    ],
)  # fmt: skip
def test_a_bad_entry_is_ignored_and_the_last_good_version_stays(raw: bytes, reason: str) -> None:
    definitions = source()
    good = entry(spike_with(spike_percent=40))
    before = {d.id: d for d in definitions.current([good])}
    assert before["spending_spike"].thresholds["spike_percent"] == 40
    assert definitions.refused() == {}
    after = {d.id: d for d in definitions.current([(b"spending_spike", raw)])}
    assert after["spending_spike"].thresholds["spike_percent"] == 40
    # The refusal is on record with why (what `nudge triggers list` shows).
    assert list(definitions.refused()) == ["spending_spike"]
    assert definitions.refused()["spending_spike"][0] == reason


def test_a_bad_entry_first_seen_leaves_the_shipped_version() -> None:
    current = {d.id: d for d in source().current([(b"spending_spike", b"{not json")])}
    assert current["spending_spike"] == SPIKE


def test_by_event_type_groups_definitions_and_follows_changes() -> None:
    definitions = source()
    index = definitions.by_event_type([])
    assert "spending_spike" in {d.id for d in index["transaction"]}
    assert {d.id for d in index["income_deposit"]} >= {"income_drop"}
    assert "spending_spike" not in {d.id for d in index.get("page_view", [])}
    assert definitions.by_event_type([]) is index  # unchanged entries: not rebuilt
    changed = definitions.by_event_type([entry(spike_with(spike_percent=70))])
    spike = next(d for d in changed["transaction"] if d.id == "spending_spike")
    assert spike.thresholds["spike_percent"] == 70
