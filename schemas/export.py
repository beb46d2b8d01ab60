"""The published contract: JSON Schema of every message, the topics, the AsyncAPI document.

``nudge schemas export DIR`` writes them; ``make schemas`` writes them to
``docs/contracts/``, where they are committed, and a unit test fails when that copy
differs from what the code would write.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.asyncapi import FILE_NAME, asyncapi_document, render
from schemas.contract import schema_models
from schemas.topics import ALL_TOPICS

#: Where ``make schemas`` writes the contract, from the repository's root.
PUBLISHED = Path("docs/contracts")
TOPICS_FILE = "topics.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def contract_files() -> dict[str, str]:
    """Return file name -> text of every file of the published contract (no I/O).

    One JSON Schema file per message model, ``topics.json`` (every topic's layout) and
    ``asyncapi.json`` (the AsyncAPI 3.0 document, which references the schema files).
    """
    files = {}
    for name, (model, mode) in schema_models().items():
        document = model.model_json_schema(mode=mode)
        document["$schema"] = JSON_SCHEMA_DIALECT
        files[name] = json.dumps(document, indent=2, sort_keys=True) + "\n"
    topics = [
        {"name": spec.name, "key": spec.key.value, "compacted": spec.compacted,
         "retention_ms": spec.retention_ms, "user_keyed": spec.user_keyed}
        for spec in ALL_TOPICS
    ]  # fmt: skip
    files[TOPICS_FILE] = json.dumps(topics, indent=2) + "\n"
    files[FILE_NAME] = render(asyncapi_document())
    return files


def export_schemas(directory: Path) -> list[Path]:
    """Write every file of the contract into ``directory``; return their paths.

    Schema files (``*.schema.json``) of an earlier export that the contract no longer
    has (a model renamed or removed) are deleted, so none lingers as if still in force.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = contract_files()
    for stale in sorted(directory.glob("*.schema.json")):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
