"""Outcome columns of the command rows, kept in step with outcomes and missed payments.

The reports read ``outcomes`` and ``missed_payments`` through views that join them to the
commands, so they are right whatever order messages arrive in. The command rows' own
outcome columns (``communications.opened_at`` ..., ``interventions.response``,
``responded_at``, ``missed_payment_at``) are filled too, for people and models that read
rows: after a batch commits, the sink recomputes them for every command and user the
batch holds, from the views ``command_outcomes`` and ``intervention_follow_ups`` (update on
arrival of either: an outcome fills its command's row if the row is there; a command row
picks up the outcomes that came before it).

Why a second transaction after the batch's commit: two sink replicas can store a command
and its outcome at the same moment, each in a transaction the other cannot see. Each one
recomputes after its own commit, so whichever commits second sees both, without locks.
Each update names its rows twice, through the view and directly (``c.command_id =
ANY(...)``): the join implies it, but without it the planner reads the whole command
table to join it to the view (a time that grows with the table: 2.6 ms a batch at 4,000
communications); with it, the primary key or user index finds the batch's rows. The
recomputation is idempotent (the earliest time wins: ``LEAST``), so a replay, or a
retry after a crash between the two transactions, only repeats it; a row that would not
change is not written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from sinks.messages import Row

COMMUNICATIONS = "communications"
INTERVENTIONS = "interventions"
OUTCOMES = "outcomes"
MISSED_PAYMENTS = "missed_payments"
#: Rows linked by command id: outcomes to their commands.
BY_COMMAND = frozenset({COMMUNICATIONS, INTERVENTIONS, OUTCOMES})
#: Rows linked by user: missed payments to the user's interventions before them.
BY_USER = frozenset({INTERVENTIONS, MISSED_PAYMENTS})
#: Tables whose rows need linking; a batch without them needs no second transaction.
LINKED_TABLES = BY_COMMAND | BY_USER

FILL_COMMUNICATIONS = text("""
UPDATE communications AS c SET
    delivered_at = least(c.delivered_at, o.delivered_at),
    opened_at = least(c.opened_at, o.opened_at),
    clicked_at = least(c.clicked_at, o.clicked_at),
    replied_at = least(c.replied_at, o.replied_at),
    converted_at = least(c.converted_at, o.converted_at),
    opted_out_at = least(c.opted_out_at, o.opted_out_at),
    conversion_value = coalesce(o.conversion_value, c.conversion_value)
FROM command_outcomes AS o
WHERE o.command_id = ANY(:command_ids) AND c.command_id = o.command_id
  AND c.command_id = ANY(:command_ids)
  AND (c.delivered_at, c.opened_at, c.clicked_at, c.replied_at, c.converted_at,
       c.opted_out_at, c.conversion_value)
  IS DISTINCT FROM
      (least(c.delivered_at, o.delivered_at), least(c.opened_at, o.opened_at),
       least(c.clicked_at, o.clicked_at), least(c.replied_at, o.replied_at),
       least(c.converted_at, o.converted_at), least(c.opted_out_at, o.opted_out_at),
       coalesce(o.conversion_value, c.conversion_value))
""")

FILL_RESPONSES = text("""
UPDATE interventions AS i SET response = o.response, responded_at = o.responded_at
FROM command_outcomes AS o
WHERE o.command_id = ANY(:command_ids) AND i.command_id = o.command_id
  AND i.command_id = ANY(:command_ids)
  AND o.response IS NOT NULL
  AND (i.response, i.responded_at) IS DISTINCT FROM (o.response, o.responded_at)
""")

FILL_MISSED_PAYMENTS = text("""
UPDATE interventions AS i SET missed_payment_at = f.missed_payment_at
FROM intervention_follow_ups AS f
WHERE f.user_id = ANY(:user_ids) AND i.command_id = f.command_id
  AND i.user_id = ANY(:user_ids)
  AND i.missed_payment_at IS DISTINCT FROM f.missed_payment_at
""")

STORED_COMMANDS = text("""
SELECT command_id FROM communications WHERE command_id = ANY(:command_ids)
UNION ALL
SELECT command_id FROM interventions WHERE command_id = ANY(:command_ids)
""")

#: Outcomes of the given commands stored before this batch: all but the batch's new ones,
#: which are told apart by their key, ``(user_id, event_id)`` (an event id alone is only
#: unique per user).
EARLIER_OUTCOMES = text("""
SELECT outcome, count(*) AS n FROM outcomes
WHERE command_id = ANY(:command_ids)
  AND (user_id, event_id) NOT IN (
      SELECT * FROM unnest(CAST(:user_ids AS text[]), CAST(:event_ids AS text[]))
  )
GROUP BY outcome
""")


@dataclass
class LinkResult:
    """What linking did to new outcomes, by outcome type.

    Attributes:
        applied: Outcomes whose command row was there (on arrival, or it arrived now).
        orphaned: New outcomes whose command row is not there yet; stored, applied later.
        matched: Earlier orphans whose command row arrived in this batch.
    """

    applied: Counter[str] = field(default_factory=Counter)
    orphaned: Counter[str] = field(default_factory=Counter)
    matched: Counter[str] = field(default_factory=Counter)


def needs_linking(rows: Iterable[Row]) -> bool:
    """Return whether any row is a command, an outcome or a missed payment."""
    return any(row.table.name in LINKED_TABLES for row in rows)


def link(
    connection: Connection, rows: Sequence[Row], new: dict[str, list[dict[str, Any]]]
) -> LinkResult:
    """Recompute the outcome columns of the rows' commands and users, on an open transaction.

    Args:
        connection: In a transaction that starts after the rows' own has committed.
        rows: The stored rows of the batch, new and already present (a replay still
            links: the batch may have died between its commit and this one).
        new: Values of the rows that were new, by table name (counted as applied,
            orphaned or matched).
    """
    command_ids = sorted({str(r.values["command_id"]) for r in rows if r.table.name in BY_COMMAND})
    user_ids = sorted({str(r.values["user_id"]) for r in rows if r.table.name in BY_USER})
    if command_ids:
        connection.execute(FILL_COMMUNICATIONS, {"command_ids": command_ids})
        connection.execute(FILL_RESPONSES, {"command_ids": command_ids})
    if user_ids:
        connection.execute(FILL_MISSED_PAYMENTS, {"user_ids": user_ids})
    return _count(connection, new)


def _count(connection: Connection, new: dict[str, list[dict[str, Any]]]) -> LinkResult:
    result = LinkResult()
    outcomes = new.get(OUTCOMES, [])
    if outcomes:
        wanted = sorted({o["command_id"] for o in outcomes})
        stored = set(connection.scalars(STORED_COMMANDS, {"command_ids": wanted}))
        for outcome in outcomes:
            found = outcome["command_id"] in stored
            (result.applied if found else result.orphaned)[outcome["outcome"]] += 1
    commands = [c["command_id"] for t in (COMMUNICATIONS, INTERVENTIONS) for c in new.get(t, [])]
    if commands:
        params = {
            "command_ids": commands,
            "user_ids": [o["user_id"] for o in outcomes],
            "event_ids": [o["event_id"] for o in outcomes],
        }
        for outcome, count in connection.execute(EARLIER_OUTCOMES, params):
            result.matched[outcome] += count
            result.applied[outcome] += count
    return result
