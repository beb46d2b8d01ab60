"""Input events: the envelope every producer publishes and its typed payloads.

An event is a fact in the past tense. The envelope carries identity (``event_id``, used to
drop duplicates), the user it belongs to (the Kafka key), event time (``occurred_at``,
timezone-aware) and a ``payload`` whose shape is chosen by ``type``. Unknown fields are
ignored so producers can add fields before Nudge reads them; wrong types are rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Annotated, Literal, get_args
from zoneinfo import available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from schemas.alerts import AlertAction, AlertType

SCHEMA_VERSION: Literal[1] = 1

#: Event times outside this range are producer errors (unit mix-ups, unset clocks), and
#: would overflow date arithmetic near the limits of ``datetime``.
EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_OCCURRED_AT = datetime(2100, 1, 1, tzinfo=UTC)

#: Calendar dates (birthdays, lease ends, due dates) outside this range are producer
#: errors, and near ``date.min`` / ``date.max`` "the next birthday" would overflow.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)

#: The largest amount of money accepted, in the event's currency: 18 digits with 4
#: decimals, so cents stay exact in a 64-bit integer and sums cannot overflow.
MONEY_LIMIT = Decimal("1e14")
#: An amount of money in the event's currency. Up to 4 decimals (some currencies use 3).
Money = Annotated[Decimal, Field(ge=0, lt=MONEY_LIMIT, max_digits=18, decimal_places=4)]
#: A balance may be negative (an overdraft), within the same bounds as money.
SignedMoney = Annotated[
    Decimal, Field(gt=-MONEY_LIMIT, lt=MONEY_LIMIT, max_digits=18, decimal_places=4)
]
#: A ratio in [0, 1] (risk scores, utilisation, progress).
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
#: A duration in seconds: at most a year (a session or page view longer is a clock error).
Seconds = Annotated[float, Field(ge=0, le=366 * 86_400)]
#: A count of things (screens, job matches): bounded so sums stay exact.
Count = Annotated[int, Field(ge=0, le=1_000_000)]
#: Free text. Producers' over-long text is cut to this by the intake, not rejected.
MAX_TEXT_LENGTH = 1024
ShortText = Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]
#: No control, format (bidi, zero-width) or line-separator characters: identifiers end up
#: in keys, ids, logs and database rows, where such characters hide or break things
#: (PostgreSQL refuses NUL outright).
Identifier = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$")
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
#: A segment's id, as trigger definitions target it (``target.segments``).
SegmentId = Annotated[str, Field(pattern=r"^[a-z0-9_\-]{1,64}$")]
#: Most segments one user can be in.
MAX_SEGMENTS = 32


@cache
def iana_zones() -> frozenset[str]:
    """Return the IANA time-zone names this machine knows (read once)."""
    return frozenset(available_timezones())


def _iana_zone(name: str) -> str:
    if name not in iana_zones():
        msg = "not an IANA time zone name (such as Europe/Paris or UTC)"
        raise ValueError(msg)
    return name


def _calendar_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        msg = f"must be between {EARLIEST_DATE} and {LATEST_DATE}"
        raise ValueError(msg)
    return value


#: An IANA time-zone name: anything else (a folder such as ``America``, a path) cannot
#: be loaded, or loads something that is not a zone.
TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_iana_zone)]
CalendarDate = Annotated[date, AfterValidator(_calendar_date)]


class _Payload(BaseModel):
    # No infinities or NaN: they poison sums, baselines and JSON alike.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


class Source(StrEnum):
    """Where the event was observed."""

    WEB = "web"
    APP = "app"
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    OFFLINE = "offline"
    BACKEND = "backend"


class Channel(StrEnum):
    """A way to reach a user."""

    SMS = "sms"
    EMAIL = "email"
    PUSH = "push"
    IN_APP = "in_app"
    PHONE = "phone"


class EventContext(_Payload):
    """Where and on what the event happened. All optional."""

    device: ShortText | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    timezone: TimeZoneName | None = None
    user_agent: ShortText | None = None
    ip_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None


# --- money ---------------------------------------------------------------------------


class Transaction(_Payload):
    """Money moved on one of the user's accounts."""

    type: Literal["transaction"] = "transaction"
    amount: Money
    currency: Currency = "USD"
    merchant: ShortText | None = None
    category: ShortText = "other"
    direction: Literal["debit", "credit"] = "debit"


class IncomeDeposit(_Payload):
    """Income (salary, benefits, freelance) arrived."""

    type: Literal["income_deposit"] = "income_deposit"
    amount: Money
    currency: Currency = "USD"
    source_name: ShortText | None = None
    kind: Literal["salary", "freelance", "benefits", "other"] = "salary"


class BalanceSnapshot(_Payload):
    """An account's balance and credit limit at a point in time."""

    type: Literal["balance_snapshot"] = "balance_snapshot"
    balance: SignedMoney
    credit_limit: Money | None = None
    currency: Currency = "USD"
    account_kind: Literal["checking", "savings", "credit_card", "loan"] = "checking"


class SavingsProgress(_Payload):
    """Progress towards a savings goal."""

    type: Literal["savings_progress"] = "savings_progress"
    goal_id: Identifier
    saved: Money
    target: Money
    currency: Currency = "USD"
    deadline: CalendarDate | None = None
    """The day the user means to reach the target by: ``goal_probability`` needs it."""


class Payment(_Payload):
    """A bill or loan payment became due, was paid, or was missed."""

    type: Literal["payment"] = "payment"
    status: Literal["due", "paid", "missed"]
    amount: Money
    currency: Currency = "USD"
    due_date: CalendarDate | None = None
    account_kind: ShortText = "loan"


class Purchase(_Payload):
    """The user bought a product from us (plan, upgrade, add-on)."""

    type: Literal["purchase"] = "purchase"
    product_id: Identifier
    amount: Money
    currency: Currency = "USD"


# --- web and app behaviour -----------------------------------------------------------


class PageCategory(StrEnum):
    """What kind of page a ``page_view`` shows: the behaviour scores weigh some more."""

    PRICING = "pricing"
    FEATURES = "features"
    COMPARISON = "comparison"
    PRODUCT = "product"
    CONTENT = "content"
    SUPPORT = "support"
    ACCOUNT = "account"
    HOME = "home"
    OTHER = "other"


class PageView(_Payload):
    """A page or screen was viewed."""

    type: Literal["page_view"] = "page_view"
    path: Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]
    referrer: Annotated[str, Field(max_length=MAX_TEXT_LENGTH)] | None = None
    duration_seconds: Seconds | None = None
    category: PageCategory | None = None
    """What kind of page it is, when the producer knows (pricing, features...)."""


class SearchQuery(_Payload):
    """The user searched the site or the app."""

    type: Literal["search_query"] = "search_query"
    query: ShortText
    results: Count | None = None


class VideoPlay(_Payload):
    """The user played a video."""

    type: Literal["video_play"] = "video_play"
    video_id: Identifier
    seconds_watched: Seconds | None = None
    category: PageCategory | None = None


class Download(_Payload):
    """The user downloaded a document (a brochure, a rate sheet, a statement)."""

    type: Literal["download"] = "download"
    asset: Identifier
    category: PageCategory | None = None


class ScrollDepth(_Payload):
    """How far down a page the user scrolled, in percent."""

    type: Literal["scroll_depth"] = "scroll_depth"
    path: Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]
    percent: Annotated[int, Field(ge=0, le=100)]


class ClickOutbound(_Payload):
    """The user followed a link away from the site or the app."""

    type: Literal["click_outbound"] = "click_outbound"
    url: Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]


class EmailReply(_Payload):
    """The user replied to an email."""

    type: Literal["email_reply"] = "email_reply"
    command_id: Identifier | None = None
    """The command whose message was replied to, when known."""


class PhoneCall(_Payload):
    """A phone call with the user ended."""

    type: Literal["phone_call"] = "phone_call"
    direction: Literal["inbound", "outbound"]
    duration_seconds: Seconds


class SocialShare(_Payload):
    """The user shared a page or an offer on a social network."""

    type: Literal["social_share"] = "social_share"
    network: Identifier
    path: Annotated[str, Field(max_length=MAX_TEXT_LENGTH)] | None = None


class FormStart(_Payload):
    """The user started filling a form."""

    type: Literal["form_start"] = "form_start"
    form_id: Identifier
    product: ShortText | None = None


class FormSubmit(_Payload):
    """The user submitted a form."""

    type: Literal["form_submit"] = "form_submit"
    form_id: Identifier
    product: ShortText | None = None


class FormAbandon(_Payload):
    """The client saw the user leave a form unfinished."""

    type: Literal["form_abandon"] = "form_abandon"
    form_id: Identifier
    last_step: ShortText | None = None
    product: ShortText | None = None


class QuoteRequest(_Payload):
    """The user asked for a quote."""

    type: Literal["quote_request"] = "quote_request"
    product: ShortText
    quote_id: Identifier | None = None
    amount: Money | None = None


class ApplicationStart(_Payload):
    """The user started an application (loan, card, account)."""

    type: Literal["application_start"] = "application_start"
    application_id: Identifier
    product: ShortText


class ApplicationComplete(_Payload):
    """The user completed an application."""

    type: Literal["application_complete"] = "application_complete"
    application_id: Identifier
    product: ShortText


class AppSession(_Payload):
    """A session in the mobile or web app ended."""

    type: Literal["app_session"] = "app_session"
    duration_seconds: Seconds
    screens: Count = 0


class FeatureUsed(_Payload):
    """A product feature was used."""

    type: Literal["feature_used"] = "feature_used"
    feature: Identifier


class Login(_Payload):
    """The user signed in to the app or the web site."""

    type: Literal["login"] = "login"
    method: Identifier | None = None
    """How: ``password``, ``biometric``, ``sso``... (free text, an identifier)."""


class EmailOpen(_Payload):
    """A marketing or service email was opened (tracked by the email platform)."""

    type: Literal["email_open"] = "email_open"
    campaign_id: Identifier | None = None


class EmailClick(_Payload):
    """A link in an email was clicked."""

    type: Literal["email_click"] = "email_click"
    campaign_id: Identifier | None = None
    url: Annotated[str, Field(max_length=MAX_TEXT_LENGTH)] | None = None


class RecommendationInteraction(_Payload):
    """The user acted on a recommendation shown to them."""

    type: Literal["recommendation_interaction"] = "recommendation_interaction"
    recommendation_id: Identifier
    action: Literal["shown", "clicked", "dismissed", "accepted"]


class AlertRule(_Payload):
    """The user created, enabled, disabled or deleted one of their alerts.

    ``created`` and ``enabled`` put the alert on; ``disabled`` and ``deleted`` take it off
    (``schemas.alerts``). ``recommendation_id``: the recommendation it answered, if any.
    """

    type: Literal["alert_rule"] = "alert_rule"
    action: AlertAction
    alert_type: AlertType
    rule_id: Identifier | None = None
    recommendation_id: Identifier | None = None


class GoalModification(_Payload):
    """The user created, changed or abandoned a goal."""

    type: Literal["goal_modification"] = "goal_modification"
    goal_id: Identifier
    action: Literal["created", "updated", "abandoned", "completed"]
    target: Money | None = None
    deadline: CalendarDate | None = None


# --- life signals --------------------------------------------------------------------


class HealthSignal(_Payload):
    """A wellness signal shared by the user (exercise, stress, sleep)."""

    type: Literal["health_signal"] = "health_signal"
    exercise_minutes: Annotated[float, Field(ge=0, le=7 * 24 * 60)] | None = None
    stress_level: Ratio | None = None
    sleep_hours: Annotated[float, Field(ge=0, le=24)] | None = None


class CareerSignal(_Payload):
    """A career signal: salary against market, skills, matching jobs."""

    type: Literal["career_signal"] = "career_signal"
    salary: Money | None = None
    market_rate: Money | None = None
    currency: Currency = "USD"
    field: ShortText | None = None
    skills: Annotated[list[ShortText], Field(max_length=100)] = []
    missing_skills: Annotated[list[ShortText], Field(max_length=100)] = []
    job_matches: Count = 0


#: What a trigger is about (``TriggerDefinition.category``); consent may be given per category.
TriggerCategory = Literal[
    "financial", "health", "career", "life_event", "engagement", "lead_journey"
]


class ProfileUpdate(_Payload):
    """Profile facts changed. Only the fields present and not null are updated."""

    type: Literal["profile_update"] = "profile_update"
    first_name: Annotated[str, Field(max_length=64)] | None = None
    birthday: CalendarDate | None = None
    lease_end: CalendarDate | None = None
    student_loan_grace_end: CalendarDate | None = None
    relationship_status: (
        Literal["single", "partnered", "married", "separated", "divorced", "widowed"] | None
    ) = None
    timezone: TimeZoneName | None = None
    consent: dict[Channel, bool] = {}
    category_consent: dict[TriggerCategory, bool] = {}
    """Consent to messages about a category (``{"health": true, "financial": false}``),
    merged into what was given before. A trigger of a sensitive category
    (``NUDGE_CONSENT_CATEGORIES``: health and financial) fires only for users who gave it."""
    tier: Literal["free", "standard", "premium"] | None = None
    segments: Annotated[list[SegmentId], Field(max_length=MAX_SEGMENTS)] | None = None
    """Every segment the user is in now, as the producer's segmentation sees it: the list
    replaces the last one (``[]``: none); absent or null leaves them as they were.
    Triggers with ``target.segments`` reach only their members."""


class RiskScore(_Payload):
    """A model scored the user's risk of missing payments."""

    type: Literal["risk_score"] = "risk_score"
    score: Ratio
    level: Literal["low", "medium", "high", "critical"] | None = None
    top_drivers: Annotated[list[ShortText], Field(max_length=10)] = []
    model_version: ShortText | None = None


class CommsOutcome(_Payload):
    """What happened to a command Nudge emitted, reported by the notification service."""

    type: Literal["comms_outcome"] = "comms_outcome"
    command_id: Identifier
    outcome: Literal[
        "delivered",
        "opened",
        "clicked",
        "replied",
        "converted",
        "opted_out",
        "accepted_offer",
        "engaged",
        "no_response",
    ]
    channel: Channel | None = None
    value: Money | None = None


Payload = Annotated[
    Transaction
    | IncomeDeposit
    | BalanceSnapshot
    | SavingsProgress
    | Payment
    | Purchase
    | PageView
    | SearchQuery
    | VideoPlay
    | Download
    | ScrollDepth
    | ClickOutbound
    | EmailReply
    | PhoneCall
    | SocialShare
    | FormStart
    | FormSubmit
    | FormAbandon
    | QuoteRequest
    | ApplicationStart
    | ApplicationComplete
    | AppSession
    | FeatureUsed
    | Login
    | EmailOpen
    | EmailClick
    | RecommendationInteraction
    | AlertRule
    | GoalModification
    | HealthSignal
    | CareerSignal
    | ProfileUpdate
    | RiskScore
    | CommsOutcome,
    Field(discriminator="type"),
]

#: Event type -> its payload model, in the order of ``Payload``'s members.
PAYLOADS: Mapping[str, type[BaseModel]] = MappingProxyType(
    {model.model_fields["type"].default: model for model in get_args(get_args(Payload)[0])}
)
#: Every event type, in the order of ``Payload``'s members.
EVENT_TYPES: tuple[str, ...] = tuple(PAYLOADS)


class Event(BaseModel):
    """The envelope of every input message (``behavior.events``, ``risk.scores``, ...).

    The ``type`` is read from ``payload.type``; producers send it once, inside the payload.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: Identifier
    """Unique per event, chosen by the producer (a UUID); repeats are dropped."""
    user_id: Identifier
    occurred_at: AwareDatetime
    """Event time, timezone-aware; windows and baselines use it, not arrival time."""
    source: Source
    session_id: Identifier | None = None
    context: EventContext = EventContext()
    payload: Payload

    @field_validator("occurred_at")
    @classmethod
    def _in_range(cls, value: datetime) -> datetime:
        try:
            in_range = EARLIEST_OCCURRED_AT <= value < LATEST_OCCURRED_AT
        except OverflowError:
            in_range = False
        if not in_range:
            msg = "must be between 2000-01-01 and 2100-01-01 UTC"
            raise ValueError(msg)
        return value

    @property
    def type(self) -> str:
        """The event type (``payload.type``)."""
        return self.payload.type


def parse_event(raw: bytes | str | dict[str, object]) -> Event:
    """Validate one input message.

    Args:
        raw: JSON bytes or text, or an already decoded mapping.

    Returns:
        The validated event.

    Raises:
        pydantic.ValidationError: The message is not a valid event.
    """
    if isinstance(raw, dict):
        return Event.model_validate(raw)
    return Event.model_validate_json(raw)
