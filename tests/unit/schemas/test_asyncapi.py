"""The published contract (docs/contracts/): in step with the code, complete, and true.

No well-kept AsyncAPI 3.0 document validator is on PyPI, so these tests check the
structure the document relies on (every reference resolves, every topic's layout and
key, the Kafka bindings' fields) and validate every example against its JSON Schema file
with ``jsonschema``. The official JavaScript parser (``@asyncapi/parser``) accepts the
document too: see docs/event-contract.md for the one-line check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any

import pytest
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError as SchemaViolation
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError

from schemas import contract
from schemas.asyncapi import ASYNCAPI_VERSION, PAYLOAD_SCHEMA_FORMAT, asyncapi_document
from schemas.contract import (
    CONTRACTS,
    Message,
    MissingContract,
    TopicContract,
    topic_contracts,
)
from schemas.export import PUBLISHED, contract_files
from schemas.settings import Settings
from schemas.topics import ALL_TOPICS, Key, TopicSpec
from sinks.rows import ROUTES
from streams.cli.analytics import GROUPS
from streams.core.state import analytics
from tests.paths import ROOT

REGENERATE = "run `make schemas` (or `nudge schemas export docs/contracts`) and commit"
#: Keywords whose meaning differs between JSON Schema draft-07 (the payloads' declared
#: format, the one AsyncAPI 3.0 tools know) and 2020-12 (what pydantic writes).
NOT_IN_DRAFT_07 = {
    "prefixItems", "$dynamicRef", "$dynamicAnchor", "unevaluatedProperties",
    "unevaluatedItems", "dependentSchemas", "dependentRequired",
}  # fmt: skip


@cache
def _matcher(pattern: str) -> TypeAdapter[str]:
    return TypeAdapter(Annotated[str, StringConstraints(pattern=pattern)])


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[SchemaViolation]:
    """``pattern`` with Unicode property classes (``\\p{Cc}``), as JSON Schema means it.

    The schemas' patterns are ECMA-262 with the ``u`` flag, as JSON Schema asks; Python's
    ``re``, which ``jsonschema`` uses, has no ``\\p{...}``. pydantic's regex engine has.
    """
    if validator.is_type(instance, "string"):
        try:
            _matcher(pattern).validate_python(instance)
        except ValidationError:
            yield SchemaViolation(f"does not match {pattern!r}")


#: Draft 2020-12 with that ``pattern``.
Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})


@cache
def files() -> dict[str, str]:
    return contract_files()


@cache
def document() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(files()["asyncapi.json"])
    return parsed


def examples() -> list[tuple[str, Message, BaseModel]]:
    return [
        (topic.spec.name, message, build())
        for topic in topic_contracts()
        for message in topic.messages
        for build in message.examples
    ]


def resolve(pointer: str) -> Any:
    node: Any = document()
    for step in pointer.removeprefix("#/").split("/"):
        node = node[step.replace("~1", "/").replace("~0", "~")]
    return node


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for child in node.values() for ref in references(child)]
    if isinstance(node, list):
        return [ref for child in node for ref in references(child)]
    return []


def test_the_committed_contract_is_what_the_code_writes() -> None:
    published = ROOT / PUBLISHED
    committed = {path.name: path.read_text(encoding="utf-8") for path in published.glob("*")}
    missing = sorted(set(files()) - set(committed))
    stale = sorted(set(committed) - set(files()))
    differ = sorted(
        name for name in files() if name in committed and committed[name] != files()[name]
    )
    assert not (missing or stale or differ), (
        f"{PUBLISHED} is out of date (missing {missing}, not generated {stale}, "
        f"different {differ}): {REGENERATE}"
    )


def test_the_document_is_asyncapi_3_with_the_servers_and_prefix_it_names() -> None:
    doc = document()
    assert doc["asyncapi"] == ASYNCAPI_VERSION == "3.0.0"
    assert doc["info"]["title"] == "Nudge"
    assert doc["info"]["version"].count(".") == 2
    assert doc["defaultContentType"] == "application/json"
    server = doc["servers"]["kafka"]
    assert server["protocol"] == "kafka"
    assert (
        server["variables"]["bootstrap"]["default"]
        == Settings.model_fields["kafka_bootstrap"].default
    )
    assert "NUDGE_TOPIC_PREFIX" in doc["components"]["parameters"]["prefix"]["description"]


@pytest.mark.parametrize("spec", ALL_TOPICS, ids=lambda spec: spec.name)
def test_every_topic_is_a_channel_with_its_layout(spec: TopicSpec) -> None:
    channel = document()["channels"][spec.name]
    assert channel["address"] == "{prefix}" + spec.name
    assert resolve(channel["parameters"]["prefix"]["$ref"])["default"] == ""
    kafka = channel["bindings"]["kafka"]
    default_partitions = Settings.model_fields["partitions"].default
    assert kafka["partitions"] == (default_partitions if spec.user_keyed else 1)
    configuration = kafka["topicConfiguration"]
    assert configuration["cleanup.policy"] == ["compact" if spec.compacted else "delete"]
    assert configuration.get("retention.ms") == (None if spec.compacted else spec.retention_ms)
    assert channel["x-nudge-key"] == spec.key.value
    assert channel["x-nudge-compacted"] is spec.compacted
    assert f"Keyed by {spec.key.value}" in channel["description"]


@pytest.mark.parametrize("spec", ALL_TOPICS, ids=lambda spec: spec.name)
def test_every_topic_carries_its_message_schema_and_key(spec: TopicSpec) -> None:
    topic = CONTRACTS[spec.name]
    channel = document()["channels"][spec.name]
    if topic.reserved:  # created for later: nothing may claim to write or read it
        assert channel["messages"] == {}
        assert not (topic.senders or topic.receivers or topic.outside_senders)
        assert "Reserved" in channel["description"]
        return
    assert set(channel["messages"]) == {m.name for m in topic.messages}
    for message in topic.messages:
        shown = channel["messages"][message.name]
        payload = shown["payload"]
        assert payload["schemaFormat"] == PAYLOAD_SCHEMA_FORMAT
        assert payload["schema"]["$ref"] == f"./{message.schema_file}"
        schema = json.loads(files()[message.schema_file])
        assert schema["title"] == message.model.__name__
        key = shown["bindings"]["kafka"]["key"]
        assert key["type"] == "string"
        assert key["description"] == message.key
        assert len(shown["examples"]) == len(message.examples) >= 1
    assert topic.senders or topic.outside_senders, "someone writes it"
    assert topic.receivers or topic.outside_receivers, "someone reads it"


def test_user_keyed_topics_are_keyed_by_the_user_id_and_their_messages_say_so() -> None:
    for topic in topic_contracts():
        for message in topic.messages:
            if topic.spec.key is Key.USER_ID and message.model.__name__ != "DeadLetter":
                assert "user_id" in message.key, topic.spec.name
                assert "user_id" in message.model.model_fields


@pytest.mark.parametrize(
    ("topic", "message", "example"),
    examples(),
    ids=[
        f"{topic}-{type(example).__name__}-{n}" for n, (topic, _, example) in enumerate(examples())
    ],
)
def test_every_example_is_valid_against_its_json_schema_and_its_model(
    topic: str, message: Message, example: BaseModel
) -> None:
    payload = json.loads(example.model_dump_json(by_alias=True))
    schema = json.loads(files()[message.schema_file])
    Validator.check_schema(schema, format_checker=None)  # (its "regex" format is Python's)
    errors = [e.message for e in Validator(schema).iter_errors(payload)]
    assert errors == []
    assert message.model.model_validate(payload) == example, "it reads back as it was built"
    shown = document()["channels"][topic]["messages"][message.name]
    assert payload in [each["payload"] for each in shown["examples"]]
    assert message.key_of(example) in shown["bindings"]["kafka"]["key"]["examples"]


def test_a_json_schema_refuses_what_its_model_refuses() -> None:
    # The examples passing would prove nothing if the schemas accepted anything.
    schema = json.loads(files()["event.schema.json"])
    event = json.loads(files()["asyncapi.json"])["channels"]["behavior.events"]["messages"][
        "Event"
    ]["examples"][0]["payload"]
    validator = Validator(schema)
    assert validator.is_valid(event)
    assert not validator.is_valid({**event, "source": "carrier_pigeon"})
    assert not validator.is_valid({**event, "user_id": "user\u200b42"})  # zero-width: \\p{Cf}
    assert not validator.is_valid({k: v for k, v in event.items() if k != "user_id"})
    assert not validator.is_valid({**event, "payload": {**event["payload"], "type": "unheard_of"}})


def test_input_schemas_accept_what_the_intake_accepts() -> None:
    # Inputs are described as validated (an amount may be a number or a string);
    # outputs as the worker writes them (a string).
    event = json.loads(files()["event.schema.json"])
    command = json.loads(files()["communication_command.schema.json"])
    transaction = event["$defs"]["Transaction"]["properties"]["amount"]
    assert {branch["type"] for branch in transaction["anyOf"]} == {"number", "string"}
    assert command["properties"]["body"]["type"] == "string"


def test_every_reference_in_the_document_resolves() -> None:
    refs = references(document())
    assert refs
    for ref in refs:
        if ref.startswith("#/"):
            assert resolve(ref) is not None, ref
        else:
            assert ref.removeprefix("./") in files(), f"{ref}: no such file is published"


def test_operations_say_which_process_sends_and_receives_each_topic() -> None:
    operations = document()["operations"]
    by_topic: dict[str, set[tuple[str, str]]] = {}
    for name, operation in operations.items():
        who, action, topic = name.split(".", 2)
        assert operation["action"] == action in {"send", "receive"}
        assert resolve(operation["channel"]["$ref"]) is document()["channels"][topic]
        assert {tag["name"] for tag in operation["tags"]} >= {who}
        assert operation["messages"], name
        by_topic.setdefault(topic, set()).add((who, action))
    assert ("producers", "send") in by_topic["behavior.events"]
    assert ("worker", "receive") in by_topic["behavior.events"]
    assert ("worker", "send") in by_topic["comms.commands"]
    assert ("notification_services", "receive") in by_topic["comms.commands"]
    assert ("cli", "send") in by_topic["triggers.definitions"]
    assert ("worker", "receive") in by_topic["triggers.definitions"]
    assert "users.profiles" not in by_topic


def test_the_sink_reads_each_topic_as_the_model_the_contract_names() -> None:
    for spec, route in ROUTES.items():
        names = {m.model for m in CONTRACTS[spec.name].messages}
        assert route.model in names, f"{spec.name}: the sink reads {route.model.__name__}"


def test_definition_keys_are_the_ones_the_worker_reads() -> None:
    assert contract.SEGMENT_PREFIX.encode() == analytics.SEGMENT_PREFIX
    assert contract.EXPERIMENT_PREFIX.encode() == analytics.EXPERIMENT_PREFIX
    assert contract.FUNNEL_PREFIX.encode() == analytics.FUNNEL_PREFIX
    assert contract.SCORES_KEY.encode() == analytics.SCORES_KEY == GROUPS["scores"][1]
    assert contract.PATTERNS_KEY.encode() == analytics.PATTERNS_KEY == GROUPS["patterns"][1]
    assert (
        contract.PERSONALIZATION_KEY.encode()
        == analytics.PERSONALIZATION_KEY
        == GROUPS["personalization"][1]
    )
    assert contract.PEERS_KEY.encode() == analytics.PEERS_KEY


def test_the_json_schemas_read_alike_in_draft_07() -> None:
    for name, text in files().items():
        if name.endswith(".schema.json"):
            used = {ref for ref in NOT_IN_DRAFT_07 if f'"{ref}"' in text}
            assert not used, f"{name} uses {used}, read otherwise by draft-07 tools"


def test_a_topic_without_a_contract_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    new = TopicSpec("audits.reads", Key.TRIGGER_ID, -1, compacted=True)
    monkeypatch.setattr(contract, "ALL_TOPICS", (*ALL_TOPICS, new))
    with pytest.raises(MissingContract, match=r"audits\.reads.*make schemas"):
        asyncapi_document()


def test_a_new_dead_letter_topic_gets_its_contract_by_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = TopicSpec("users.erasures", Key.USER_ID, 7 * 86_400_000)
    letters = TopicSpec("users.erasures.dlq", Key.USER_ID, 30 * 86_400_000)
    monkeypatch.setattr(contract, "DEAD_LETTER_TOPIC", {source: letters})
    found: tuple[TopicContract, ...] = contract._dead_letters(())
    assert [c.spec for c in found] == [letters]
    assert found[0].messages == (contract.DEAD_LETTER,)
    assert "users.erasures" in found[0].summary
