"""``nudge report personalization``: per rule, users matched, messages sent, engaged, converted.

- **matched**: users whose latest snapshot (``user_analytics``) names the rule and who
  were active in the window;
- **sent**: messages created in the window that used the rule's content (their
  ``variables`` name it as ``personalization.rule``: ``schemas.personalization``);
- **engaged** and **converted**: of those messages, the ones opened, clicked or replied
  to, and the ones converted (``command_outcomes``, as the effectiveness report counts
  them), with the conversion value.

Relative to the database's clock, like the other reports.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from schemas.personalization import PERSONALIZATION_RULE
from sinks.reports.layout import Column, Section

RULES = text(
    f"""
WITH matched AS (
    SELECT personalization AS rule_id, count(*) AS matched
    FROM user_analytics
    WHERE personalization IS NOT NULL
      AND last_activity_at > now() - make_interval(days => :days)
    GROUP BY personalization
), messages AS (
    SELECT
        c.variables ->> '{PERSONALIZATION_RULE}' AS rule_id,
        count(*) AS sent,
        count(*) FILTER (
            WHERE num_nonnulls(o.opened_at, o.clicked_at, o.replied_at) > 0
        ) AS engaged,
        count(o.converted_at) AS converted,
        coalesce(sum(o.conversion_value), 0) AS conversion_value
    FROM communications AS c
    LEFT JOIN command_outcomes AS o ON o.command_id = c.command_id
    WHERE c.variables ? '{PERSONALIZATION_RULE}'
      AND c.created_at > now() - make_interval(days => :days)
    GROUP BY 1
)
SELECT
    rule_id,
    coalesce(m.matched, 0) AS matched,
    coalesce(s.sent, 0) AS sent,
    coalesce(s.engaged, 0) AS engaged,
    s.engaged::float8 / nullif(s.sent, 0) AS engagement_rate,
    coalesce(s.converted, 0) AS converted,
    s.converted::float8 / nullif(s.sent, 0) AS conversion_rate,
    coalesce(s.conversion_value, 0) AS conversion_value
FROM matched AS m
FULL JOIN messages AS s USING (rule_id)
ORDER BY rule_id
"""  # noqa: S608 (a constant of this package; the window is a bound parameter)
)

COLUMNS = (
    Column("rule_id", "rule", "text"),
    Column("matched", "users matched"),
    Column("sent", "sent"),
    Column("engaged", "engaged"),
    Column("engagement_rate", "engagement", "rate"),
    Column("converted", "converted"),
    Column("conversion_rate", "conversion", "rate"),
    Column("conversion_value", "value", "money"),
)


def personalization_sections(
    connection: Connection, days: int, pattern: str | None
) -> tuple[Section, ...]:
    """Return the report's one section, read on ``connection`` (``pattern`` is not used)."""
    rows: list[dict[str, Any]] = [
        dict(row) for row in connection.execute(RULES, {"days": days}).mappings()
    ]
    return (Section("rules", "Personalization rules", COLUMNS, rows),)
