"""Which behaviour changes a published history must lead to: a tally of its events.

The stories are written for triggers; behaviour change follows from every user's weekly
activity, ordinary days included (page views per session vary, so a few ordinary users
see theirs halve in some week). So the expectation is counted from the events a run
publishes, as they go out, rather than promised by the stories: per user and activity,
events by UTC week, and the first day seen. ``expected`` applies the rule
(``streams.core.behavior.change``) to those counts at the timer's time.

That the demo's worker agrees shows the whole path: the worker's own counting in each
record, the record's encoding, the timer's schedule and memory, the topic and the sink.
The story that always changes is ``login_surge`` (logins rise 200 % in the judged week);
``fading``'s sessions fall but on Sundays, ``lapsed``'s when its last sessions fall in the
baseline weeks, and ``engaged_free`` doubles its sessions when its eight busy days cover a
whole week.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from streams.core.behavior.change import BehaviorPolicy, direction, judged_week, week_change
from streams.core.state.activity_weeks import ACTIVITY_OF_EVENT, week_of_day
from streams.core.units import day_number

#: (activity, direction) -> users.
Expected = dict[tuple[str, str], set[str]]


class ActivityTally:
    """Weekly counts of the tracked activities of every user whose events went by."""

    def __init__(self) -> None:
        self._weeks: dict[str, dict[str, dict[int, int]]] = defaultdict(dict)
        self._first_day: dict[str, int] = {}

    def watch(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield ``events`` unchanged, counting each."""
        for event in events:
            self.add(event)
            yield event

    def add(self, event: dict[str, Any]) -> None:
        """Count one valid event (a dict as published)."""
        user = event["user_id"]
        day = day_number(datetime.fromisoformat(event["occurred_at"]))
        self._first_day[user] = min(self._first_day.get(user, day), day)
        activity = ACTIVITY_OF_EVENT.get(event["payload"]["type"])
        if activity is not None:
            weeks = self._weeks[user].setdefault(activity, {})
            week = week_of_day(day)
            weeks[week] = weeks.get(week, 0) + 1

    def expected(self, at: datetime, policy: BehaviorPolicy | None = None) -> Expected:
        """Return (activity, direction) -> the users the timer at ``at`` must tell."""
        policy = policy or BehaviorPolicy()
        week = judged_week(at)
        found: Expected = {}
        for user, activities in self._weeks.items():
            for activity, weeks in activities.items():
                change = week_change(weeks, week, self._first_day[user], policy.min_baseline)
                moved = direction(change.change_pct, policy) if change is not None else None
                if moved is not None:
                    found.setdefault((activity, moved), set()).add(user)
        return found
