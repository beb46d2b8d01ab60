"""Input topic -> dead-letter topic is one mapping (``schemas.topics.DEAD_LETTER_TOPIC``)."""

from __future__ import annotations

import pytest

from schemas.topics import (
    ALERTS_PROFILES,
    ALERTS_RECOMMENDATIONS,
    ALL_TOPICS,
    BEHAVIOR_EVENTS,
    COMMS_COMMANDS,
    COMMS_OUTCOMES,
    DEAD_LETTER_TOPIC,
    EXPERIMENTS_ASSIGNMENTS,
    EXPERIMENTS_CONVERSIONS,
    FUNNELS_STEPS,
    INTERVENTIONS_COMMANDS,
    MODELS_ACTIVE,
    MODELS_CHECKPOINTS,
    RISK_SCORES,
    SEGMENTS_CHANGES,
    TEMPLATES_DEFINITIONS,
    TRIGGER_DECISIONS,
    TRIGGERS_DEFINITIONS,
    USERS_ANALYTICS,
    USERS_PROFILES,
    TopicSpec,
)
from sinks.rows import DEAD_LETTERS, ROUTES
from streams.chaos.observe import OUTPUT_IDS

#: The topics that have no dead-letter topic, and why. A new topic must be named here or
#: in the mapping: an input of events without one would drop what it cannot read.
WITHOUT_DEAD_LETTERS = {
    TRIGGERS_DEFINITIONS: "definitions, not events: a bad one is refused and counted",
    TEMPLATES_DEFINITIONS: "templates, not events: a bad one is refused and counted",
    USERS_PROFILES: "no reader yet",
    COMMS_COMMANDS: "output",
    INTERVENTIONS_COMMANDS: "output",
    ALERTS_RECOMMENDATIONS: "output",
    ALERTS_PROFILES: "output",
    MODELS_ACTIVE: "promotions, not events: a bad one is refused and the model in force kept",
    MODELS_CHECKPOINTS: "checkpoints, not events: a bad one is refused and counted",
    SEGMENTS_CHANGES: "output",
    USERS_ANALYTICS: "output",
    TRIGGER_DECISIONS: "output",
    EXPERIMENTS_ASSIGNMENTS: "output",
    EXPERIMENTS_CONVERSIONS: "output",
    FUNNELS_STEPS: "output",
}
DEAD_LETTER_SUFFIX = ".dlq"


def test_the_inputs_of_events_are_the_ones_with_dead_letters() -> None:
    assert set(DEAD_LETTER_TOPIC) == {BEHAVIOR_EVENTS, RISK_SCORES, COMMS_OUTCOMES}


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=lambda spec: spec.name)
def test_every_topic_is_an_input_with_its_dead_letters_a_dead_letter_topic_or_named(
    topic: TopicSpec,
) -> None:
    roles = [
        topic in DEAD_LETTER_TOPIC,
        topic in DEAD_LETTER_TOPIC.values(),
        topic in WITHOUT_DEAD_LETTERS,
    ]
    assert roles.count(True) == 1, roles


@pytest.mark.parametrize("topic", list(DEAD_LETTER_TOPIC), ids=lambda spec: spec.name)
def test_every_input_topic_has_exactly_one_dead_letter_topic_of_its_own(topic: TopicSpec) -> None:
    letters = DEAD_LETTER_TOPIC[topic]
    assert list(DEAD_LETTER_TOPIC.values()).count(letters) == 1  # shared by no other input
    assert letters in ALL_TOPICS  # created with the others
    assert letters.name == topic.name + DEAD_LETTER_SUFFIX
    # Keyed and partitioned like the input: a letter keeps the key of what it holds.
    assert (letters.key, letters.user_keyed) == (topic.key, topic.user_keyed)
    assert not letters.compacted  # every letter is kept, not the last per key
    assert letters not in DEAD_LETTER_TOPIC  # no dead letters of dead letters


def test_every_dead_letter_topic_is_in_the_mapping() -> None:
    named = {topic for topic in ALL_TOPICS if topic.name.endswith(DEAD_LETTER_SUFFIX)}
    assert named == set(DEAD_LETTER_TOPIC.values())


def test_the_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        DEAD_LETTER_TOPIC[USERS_PROFILES] = USERS_PROFILES  # type: ignore[index]


def test_the_sink_stores_and_the_chaos_run_compares_every_dead_letter_topic() -> None:
    for letters in DEAD_LETTER_TOPIC.values():
        assert ROUTES[letters].table is DEAD_LETTERS
        assert OUTPUT_IDS[letters] == ("topic", "partition", "offset")
