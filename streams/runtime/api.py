"""The query API: Faust web views on every worker (``schemas.api`` lists the endpoints).

A user's endpoints are answered by the worker that owns the user's partition, from the
live record, as Kafka Streams' interactive queries are: any worker takes the request, asks
Faust's router (the partition assignor's map of partitions to workers) who owns the key,
and hands the request over with a signed hop header. History (decisions, reports,
segment sizes) comes from PostgreSQL through a ``HistoryReader`` the composition root
passes in (the worker never imports database code itself).

Every endpoint needs a bearer token (``NUDGE_API_TOKENS``); each caller is rate limited;
every read of one user's data is written to the audit log by the worker that answers it.
Faust's own web apps (``/table/...`` shows any record to anyone) are turned off in
``streams.runtime.app``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import faust
import orjson
from pydantic import BaseModel

from schemas.api import (
    ROUTES,
    DecisionView,
    ExperimentView,
    Problem,
    Recommendation,
    ReportView,
    Route,
    SegmentView,
    TriggersView,
    openapi,
)
from schemas.experiments import ExperimentDefinition
from schemas.settings import Settings
from streams.core.state.record import UserState
from streams.core.views import personalization_view, user_view, why_view
from streams.runtime import metrics
from streams.runtime.api_gate import HOP_HEADER, Gate, audit, gate_key

if TYPE_CHECKING:
    from streams.runtime.agents.ingest import IngestStage

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The table whose partitions decide which worker answers for a user.
USER_TABLE = "user_state"
#: Most decisions ``/users/{id}`` and ``/why`` return.
MAX_DECISIONS = 200
MAX_WHY = 100
#: How long a worker waits for the owning worker to answer a forwarded request.
FORWARD_TIMEOUT_SECONDS = 10.0
JSON = "application/json"


class HistoryReader(Protocol):
    """What the API reads from PostgreSQL (``sinks.history.History``).

    Raises ``ConnectionError`` when the database cannot be read, ``LookupError`` for an
    unknown report and ``ValueError`` for an option it does not take.
    """

    def decisions(
        self, user_id: str, trigger_id: str | None = None, limit: int = 20
    ) -> list[DecisionView]:
        """The user's latest decisions, newest first."""
        ...

    def recommendations(self, user_id: str, limit: int = 20) -> list[Recommendation]:
        """The alerts recommended to the user, newest first."""
        ...

    def segment_members(self, segment_id: str) -> int:
        """Members of a segment now."""
        ...

    def report(
        self,
        name: str,
        *,
        days: int = 30,
        user: str | None = None,
        experiments: Sequence[ExperimentDefinition] = (),
        experiment: str | None = None,
    ) -> dict[str, Any]:
        """A report as ``nudge report NAME --json`` prints it."""
        ...


class Answer(Exception):  # noqa: N818 - not an error: the answer to send
    """An answer other than 200, raised from deep in a handler."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.problem = Problem(status=status, title=title, detail=detail)


def _unavailable(detail: str) -> Answer:
    return Answer(503, "unavailable", detail)


@dataclass(slots=True)
class Api:
    """The API of one worker: its gate, its stage's records and definitions, its history."""

    app: faust.App
    stage: IngestStage
    gate: Gate
    history: HistoryReader | None

    async def handle(self, view: Any, route: Route, request: Any, params: dict[str, str]) -> Any:
        """Authenticate, rate limit, route to the owner if need be, answer, audit."""
        caller = self.gate.caller(request.headers.get("Authorization"))
        if caller is None:
            return self._send(view, route, Problem(
                status=401, title="unauthorized", detail="send Authorization: Bearer TOKEN"
            ), headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        hop = self.gate.forwarded(caller, request.path_qs, request.headers.get(HOP_HEADER))
        if not hop:
            wait = self.gate.wait(caller)
            if wait > 0:
                problem = Problem(status=429, title="too many requests", detail="over the rate")
                return self._send(view, route, problem, {"Retry-After": str(math.ceil(wait))})
        user_id = params.get("user_id")
        try:
            if route.reads == "user" and user_id is not None:
                owner = self._owner(user_id)
                if owner is not None:
                    if hop:  # handed here as the owner, but it moved: no second hop
                        msg = "the user's partition is moving; try again"
                        raise _unavailable(msg)
                    return await self._forward(view, route, request, caller, owner)
            body = await self._answer(route, request, params)
        except Answer as answer:
            body = answer.problem
        if route.audited and user_id is not None:
            status = body.status if isinstance(body, Problem) else 200
            audit(caller, route.name, self.gate.subject(user_id), status)
        return self._send(view, route, body)

    def _send(
        self, view: Any, route: Route, body: BaseModel, headers: dict[str, str] | None = None
    ) -> Any:
        status = body.status if isinstance(body, Problem) else 200
        metrics.API_REQUESTS.labels(route.name, str(status)).inc()
        return view.bytes(
            orjson.dumps(body.model_dump(mode="json")),
            content_type=JSON,
            status=status,
            headers=headers,
        )

    def _owner(self, user_id: str) -> str | None:
        """Return the owning worker's URL if it is another worker; ``None`` if this one."""
        try:
            url = self.app.router.key_store(USER_TABLE, user_id.encode())
        except (KeyError, IndexError) as exc:  # no assignment yet: starting or rebalancing
            msg = "partitions are being assigned; try again"
            raise _unavailable(msg) from exc
        mine = self.app.conf.canonical_url
        if (url.host, url.port) == (mine.host, mine.port):
            return None
        return str(url)

    async def _forward(self, view: Any, route: Route, request: Any, caller: str, owner: str) -> Any:
        """Hand the request to the owning worker and pass its answer back as it is."""
        headers = {
            "Authorization": request.headers.get("Authorization", ""),
            HOP_HEADER: self.gate.hop(caller, request.path_qs),
        }
        url = owner.rstrip("/") + request.path_qs
        try:
            async with asyncio.timeout(FORWARD_TIMEOUT_SECONDS):
                async with self.app.http_client.get(url, headers=headers) as response:
                    body = await response.read()
                    status = response.status
        except (OSError, TimeoutError) as exc:
            log.warning("api owner unreachable", extra={"route": route.name})
            problem = Problem(status=503, title="unavailable", detail=f"owner unreachable: {exc}")
            return self._send(view, route, problem)
        metrics.API_FORWARDED.inc()
        metrics.API_REQUESTS.labels(route.name, str(status)).inc()
        return view.bytes(body, content_type=JSON, status=status)

    async def _answer(self, route: Route, request: Any, params: dict[str, str]) -> BaseModel:
        query = request.query
        if route.name == "user":
            return await self._user(
                params["user_id"], _limit(query, "decisions", 20, MAX_DECISIONS)
            )
        if route.name == "why":
            trigger = query.get("trigger") or None
            return await self._why(params["user_id"], trigger, _limit(query, "limit", 10, MAX_WHY))
        if route.name == "personalization":
            state = await self._record(params["user_id"])
            return personalization_view(params["user_id"], state, self.stage.current_analytics())
        if route.name == "triggers":
            return TriggersView(
                triggers=[d.model_dump(mode="json", by_alias=True) for d in self._definitions()]
            )
        if route.name == "segment":
            return await self._segment(params["segment_id"])
        if route.name == "experiment":
            return await self._experiment(params["experiment_id"])
        return await self._report(params["report"], query)

    async def _record(self, user_id: str) -> UserState:
        """Return a copy of the user's live record (404 when there is none).

        While partitions move or their records are restored from the changelog, a missing
        record may only be missing so far: 503, try again, rather than a wrong 404.
        """
        async with self.stage.lock:  # between batches: never a record half-way through one
            state = self.stage.users.get(user_id.encode())
            copied = None if state is None else UserState.from_bytes(state.to_bytes())
        if copied is None:
            if self.app.rebalancing or self.app.in_recovery:
                msg = "the user's partition is being restored; try again"
                raise _unavailable(msg)
            raise Answer(404, "not found", "no record of this user on its owning worker")
        return copied

    def _history(self) -> HistoryReader:
        if self.history is None:
            msg = "this worker has no database to read history from"
            raise _unavailable(msg)
        return self.history

    async def _read(self, read: Callable[[], T]) -> T:
        """Run a history read in a thread (the event loop keeps processing meanwhile)."""
        try:
            return await asyncio.to_thread(read)
        except ConnectionError as exc:
            raise _unavailable(str(exc)) from exc
        except LookupError as exc:
            raise Answer(404, "not found", str(exc)) from exc
        except ValueError as exc:
            raise Answer(400, "bad request", str(exc)) from exc

    async def _maybe(self, read: Callable[[], T]) -> T | None:
        """A history read that may fail: ``None`` when the database cannot be read."""
        try:
            return await self._read(read)
        except Answer:
            return None

    async def _user(self, user_id: str, limit: int) -> BaseModel:
        state = await self._record(user_id)
        decisions = recommendations = None
        if self.history is not None:
            history = self.history
            decisions = await self._maybe(lambda: history.decisions(user_id, None, limit))
            recommendations = await self._maybe(lambda: history.recommendations(user_id))
        return user_view(
            user_id,
            state,
            self.stage.clock(),
            self.stage.current_analytics(),
            served_by=str(self.app.conf.canonical_url),
            decisions=decisions,
            recommendations=recommendations,
        )

    async def _why(self, user_id: str, trigger: str | None, limit: int) -> BaseModel:
        definitions = self._definitions()
        if trigger is not None and trigger not in {d.id for d in definitions}:
            raise Answer(404, "not found", f"no trigger {trigger!r} in force")
        state = await self._record(user_id)
        history = self._history()
        decisions = await self._read(lambda: history.decisions(user_id, trigger, limit))
        return why_view(
            user_id,
            trigger,
            definitions,
            decisions,
            last_fired=None if trigger is None else state.last_fired.get(trigger),
        )

    async def _segment(self, segment_id: str) -> BaseModel:
        segments = self.stage.current_analytics().segments
        definition = next((d for d in segments.definitions if d.id == segment_id), None)
        if definition is None:
            raise Answer(404, "not found", f"no segment {segment_id!r} in force")
        members = None
        if self.history is not None:
            history = self.history
            members = await self._maybe(lambda: history.segment_members(segment_id))
        return SegmentView(
            segment_id=segment_id,
            definition=definition.model_dump(mode="json", by_alias=True),
            members=members,
        )

    async def _experiment(self, experiment_id: str) -> BaseModel:
        experiments = self.stage.current_analytics().experiments.definitions
        definition = experiments.get(experiment_id)
        if definition is None:
            raise Answer(404, "not found", f"no experiment {experiment_id!r} in force")
        results = None
        if self.history is not None:
            history = self.history
            results = await self._maybe(
                lambda: history.report(
                    "experiments", experiments=list(experiments.values()), experiment=experiment_id
                )
            )
        return ExperimentView(
            experiment_id=experiment_id,
            definition=definition.model_dump(mode="json", by_alias=True),
            results=results,
        )

    async def _report(self, name: str, query: Any) -> BaseModel:
        days = _limit(query, "days", 30, 90)
        user = query.get("user") or None
        experiments = list(self.stage.current_analytics().experiments.definitions.values())
        history = self._history()
        body = await self._read(
            lambda: history.report(name, days=days, user=user, experiments=experiments)
        )
        return ReportView(report=name, body=body)

    def _definitions(self) -> list[Any]:
        return self.stage.definitions.current(self.stage.feed.items())


def _limit(query: Any, name: str, default: int, most: int) -> int:
    """Read a positive whole number from the query string (400 when it is not one)."""
    text = query.get(name)
    if text is None:
        return default
    # ASCII digits only ("²" is a digit to str.isdigit, not to int), and few enough of
    # them for int to read (it refuses more than 4,300): anything else is a 400, not a 500.
    digits = text.lstrip("0") if text.isascii() and text.isdigit() else None
    if digits is None or len(digits) > len(str(most)) or not 1 <= int(digits or "0") <= most:
        raise Answer(400, "bad request", f"{name} must be a whole number from 1 to {most}")
    return int(digits)


def register_api(
    app: faust.App, stage: IngestStage, settings: Settings, history: HistoryReader | None
) -> Api | None:
    """Serve the query API on the worker's web port; ``None`` when it is off.

    The API is on when ``NUDGE_API_TOKENS`` names a caller and ``NUDGE_WEB_PORT`` is set.
    """
    callers = settings.api_callers()
    if not callers or not settings.web_port:
        return None
    audit_key = settings.api_audit_key.get_secret_value() if settings.api_audit_key else None
    gate = Gate(
        callers, settings.api_rate_per_second, settings.api_burst,
        gate_key(settings.app_id, audit_key, callers),
    )  # fmt: skip
    api = Api(app, stage, gate, history)
    for route in ROUTES:
        app.page(route.path, name=route.name)(_view_of(api, route))
    document = orjson.dumps(openapi())

    class OpenApi(faust.web.View):
        async def get(self, request: Any) -> Any:
            return self.bytes(document, content_type=JSON)

    app.page("/openapi.json", name="openapi")(OpenApi)
    log.info("query api on", extra={"callers": len(callers), "routes": len(ROUTES)})
    return api


def _view_of(api: Api, route: Route) -> type[faust.web.View]:
    class RouteView(faust.web.View):
        async def get(self, request: Any, **params: str) -> Any:
            return await api.handle(self, route, request, params)

    RouteView.__name__ = f"{route.name.title()}View"
    return RouteView
