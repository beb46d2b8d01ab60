"""JSON Schema of every message, for producers and consumers in other languages."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.alerts import AlertProfile, AlertRecommendation, ModelPromotion
from schemas.commands import SendCommunication, StartIntervention
from schemas.events import Event
from schemas.experiments import ExperimentAssignment, ExperimentConversion
from schemas.funnels import FunnelStep
from schemas.records import DeadLetter, TriggerDecision
from schemas.segments import SegmentChange
from schemas.topics import ALL_TOPICS
from schemas.user_analytics import UserAnalytics

#: File name -> model. Topic documentation is written beside them.
EXPORTED: dict[str, type[BaseModel]] = {
    "event.schema.json": Event,
    "communication_command.schema.json": SendCommunication,
    "intervention_command.schema.json": StartIntervention,
    "trigger_decision.schema.json": TriggerDecision,
    "dead_letter.schema.json": DeadLetter,
    "segment_change.schema.json": SegmentChange,
    "user_analytics.schema.json": UserAnalytics,
    "experiment_assignment.schema.json": ExperimentAssignment,
    "experiment_conversion.schema.json": ExperimentConversion,
    "funnel_step.schema.json": FunnelStep,
    "alert_profile.schema.json": AlertProfile,
    "alert_recommendation.schema.json": AlertRecommendation,
    "model_promotion.schema.json": ModelPromotion,
}


def export_schemas(directory: Path) -> list[Path]:
    """Write one JSON Schema file per message type and ``topics.json``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED.items():
        path = directory / name
        document = model.model_json_schema(mode="serialization")
        document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        written.append(path)
    topics = [
        {"name": spec.name, "key": spec.key.value, "compacted": spec.compacted,
         "retention_ms": spec.retention_ms, "user_keyed": spec.user_keyed}
        for spec in ALL_TOPICS
    ]  # fmt: skip
    path = directory / "topics.json"
    path.write_text(json.dumps(topics, indent=2) + "\n")
    written.append(path)
    return written
