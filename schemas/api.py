"""The query API's contract: what each endpoint answers, and its OpenAPI document.

Workers serve the API on their Faust web port (``NUDGE_WEB_PORT``) when
``NUDGE_API_TOKENS`` is set: a user's live state from the worker that owns the user's
partition, history (decisions, reports) from PostgreSQL. ``ROUTES`` lists every endpoint;
``openapi()`` builds the document from it and from these models, and a test holds the
document, the routes the worker registers and the answers it gives to one another.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from schemas.user_analytics import UserAnalytics

#: The API's version, in the OpenAPI document's ``info``.
API_VERSION = "1.0.0"

FeatureValue = float | str | bool | None


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(_View):
    """An error answer (RFC 9457 in spirit): what went wrong, for a person to read."""

    status: int
    title: str
    detail: str


class DecisionView(_View):
    """One evaluation of a trigger for a user: fired or suppressed, and why."""

    decision_id: str
    trigger_id: str
    outcome: str
    reason: str | None
    detail: str
    """The sentence the worker wrote, with the numbers behind the decision."""
    occurred_at: AwareDatetime
    event_type: str | None
    features: dict[str, float]
    """The feature values the condition was evaluated on."""
    command_ids: list[str]
    experiment: str | None = None
    variant: str | None = None


class Comparison(_View):
    """One leaf of a trigger's condition, compared with the value a decision recorded."""

    feature: str
    op: str
    threshold: FeatureValue | list[FeatureValue]
    """The value (or values) compared against, thresholds resolved."""
    value: float | None
    """The feature's value in the decision; ``None`` when the decision did not record it."""
    negated: bool = False
    """Whether the condition needs this comparison false (it is under a ``not``)."""
    holds: bool | None
    """Whether the condition's need of this comparison was met (true, or false when
    ``negated``); ``None`` when it cannot be judged from the record."""


class Evaluation(_View):
    """A decision with the condition's comparisons laid out."""

    decision: DecisionView
    comparisons: list[Comparison]


class WhyView(_View):
    """``GET /users/{id}/why``: the last evaluations of triggers for a user."""

    user_id: str
    trigger_id: str | None
    """The trigger asked about; ``None``: every trigger."""
    definition: dict[str, Any] | None
    """The trigger's definition in force (its condition, thresholds, cooldown, status)."""
    cooldown_days: float | None
    last_fired_at: AwareDatetime | None
    """From the user's live record, when the worker that owns it answered."""
    evaluations: list[Evaluation]
    """Newest first."""
    note: str
    """What the answer rests on ("no evaluation recorded" says the condition never held,
    or the trigger never ran for the user, within the retention)."""


class HeldSend(_View):
    """A command held for a later ``send_at`` (quiet hours, delay, best time)."""

    command_id: str
    trigger_id: str | None
    channel: str | None
    send_at: AwareDatetime | None


class ExperimentArm(_View):
    """The user's arm of one experiment."""

    experiment: str
    variant: str
    exposed_at: AwareDatetime


class Recommendation(_View):
    """An alert recommended to the user by the model in force."""

    alert_type: str
    confidence: float
    explanation: str
    model_version: int
    created_at: AwareDatetime


class UserView(_View):
    """``GET /users/{id}``: what Nudge knows about a user now, with recent decisions."""

    user_id: str
    as_of: AwareDatetime
    partition: int
    """The input partition the user's events arrive on (the owning worker's)."""
    served_by: str
    """The worker that answered (its web URL)."""
    analytics: UserAnalytics
    """Scores, pattern, segments, sessions, forecasts: as on ``users.analytics``."""
    baselines: dict[str, float]
    """The user's baselines (usual spending, income, activity) in the features' units."""
    features: dict[str, FeatureValue]
    """Every feature that has a value now (event features are absent: no event)."""
    last_fired: dict[str, AwareDatetime]
    held_sends: list[HeldSend]
    experiments: list[ExperimentArm]
    personalization: str | None
    recent_decisions: list[DecisionView] | None
    """Newest first, from PostgreSQL; ``None`` when the database could not be read."""
    recommendations: list[Recommendation] | None
    """From PostgreSQL; ``None`` when the database could not be read."""


class PersonalizationView(_View):
    """``GET /users/{id}/personalization``: the rule that applies and what it fills."""

    user_id: str
    rule_id: str | None
    rule: dict[str, Any] | None
    """The rule in force (segments, patterns, content per channel); ``None``: no rule."""
    pattern: str | None
    segments: list[str]


class TriggersView(_View):
    """``GET /triggers``: the definitions in force on the worker that answered."""

    triggers: list[dict[str, Any]]


class SegmentView(_View):
    """``GET /segments/{id}``: a segment's definition and its size."""

    segment_id: str
    definition: dict[str, Any] | None
    members: int | None
    """Members now (from PostgreSQL); ``None`` when the database could not be read."""


class ExperimentView(_View):
    """``GET /experiments/{id}``: an experiment's definition and its results."""

    experiment_id: str
    definition: dict[str, Any] | None
    results: dict[str, Any] | None
    """As ``nudge report experiments --experiment ID --json``; ``None`` when unavailable."""


class ReportView(_View):
    """``GET /reports/{name}``: a report, as ``nudge report NAME --json`` prints it."""

    report: str
    body: dict[str, Any] | list[Any]


Reads = Literal["user", "history", "definitions"]


class Route(_View):
    """One endpoint of the API."""

    path: str
    """An aiohttp/OpenAPI path template: ``/users/{user_id}``."""
    name: str
    summary: str
    answer: str
    """The name of the model in ``MODELS`` it answers with."""
    query: dict[str, str] = {}
    """Query parameter -> description."""
    reads: Reads
    """``user``: a user's live record (routed to the owning worker) and their history;
    ``history``: PostgreSQL; ``definitions``: what the worker has in force."""
    audited: bool
    """Every call is written to the audit log: it reads one user's data."""


ROUTES: tuple[Route, ...] = (
    Route(path="/users/{user_id}", name="user", summary="What Nudge knows about a user now",
          answer="UserView", reads="user", audited=True,
          query={"decisions": "how many recent decisions (default 20, at most 200)"}),
    Route(path="/users/{user_id}/why", name="why",
          summary="The last evaluations of a trigger for a user, fired or suppressed",
          answer="WhyView", reads="user", audited=True,
          query={"trigger": "the trigger id (all triggers when absent)",
                 "limit": "how many evaluations (default 10, at most 100)"}),
    Route(path="/users/{user_id}/personalization", name="personalization",
          summary="The personalization rule that applies to a user", answer="PersonalizationView",
          reads="user", audited=True),
    Route(path="/triggers", name="triggers", summary="The trigger definitions in force",
          answer="TriggersView", reads="definitions", audited=False),
    Route(path="/segments/{segment_id}", name="segment", summary="A segment and its size",
          answer="SegmentView", reads="history", audited=False),
    Route(path="/experiments/{experiment_id}", name="experiment",
          summary="An experiment and its results", answer="ExperimentView", reads="history",
          audited=False),
    Route(path="/reports/{report}", name="report",
          summary="A report, as `nudge report NAME --json` prints it", answer="ReportView",
          reads="history", audited=False,
          query={"days": "window: 7, 30 or 90 (windowed reports)",
                 "user": "one user (forecasts only)"}),
)  # fmt: skip

MODELS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (
        UserView, WhyView, PersonalizationView, TriggersView, SegmentView, ExperimentView,
        ReportView, Problem,
    )
}  # fmt: skip

#: The errors any route may answer, with what each means.
ERRORS = {
    "401": "no or an unknown bearer token",
    "404": "no such user, trigger, segment, experiment or report",
    "429": "over the caller's rate (Retry-After says when to try again)",
    "503": "the owning worker or the database is not reachable now (try again)",
}


def openapi() -> dict[str, Any]:
    """Return the API's OpenAPI 3.1 document, built from ``ROUTES`` and ``MODELS``."""
    schemas: dict[str, Any] = {}
    for name, model in MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    paths: dict[str, Any] = {}
    for route in ROUTES:
        parameters = [
            {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for part in route.path.split("/")
            if part.startswith("{")
        ] + [
            {"name": name, "in": "query", "required": False, "description": text,
             "schema": {"type": "string"}}
            for name, text in route.query.items()
        ]  # fmt: skip
        problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        responses: dict[str, Any] = {
            "200": {
                "description": route.summary,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{route.answer}"}}
                },
            }
        }
        responses.update(
            {code: {"description": text, "content": problem} for code, text in ERRORS.items()}
        )
        paths[route.path] = {
            "get": {
                "operationId": route.name,
                "summary": route.summary,
                "parameters": parameters,
                "responses": responses,
                "security": [{"bearer": []}],
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Nudge query API",
            "version": API_VERSION,
            "description": "Read what Nudge knows and decided; served by the stream workers.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
