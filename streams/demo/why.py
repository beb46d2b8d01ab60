"""The demo's last word: ``nudge why`` for one user whose message was held back."""

from __future__ import annotations

from sqlalchemy import text

from schemas.settings import Settings

#: The user the demo explains: one with a suppressed decision, cooldowns first (the
#: question support hears most: "I got it once, why not again?"), then the newest.
PICK = text(
    "SELECT user_id, trigger_id FROM trigger_events WHERE outcome = 'suppressed' "
    "ORDER BY (reason = 'cooldown') DESC, occurred_at DESC, decision_id LIMIT 1"
)


async def print_why(settings: Settings, *, limit: int = 4) -> bool:
    """Print ``nudge why USER TRIGGER`` for a user with a suppression; False if none."""
    from sinks.history import History, HistoryUnavailable
    from streams.core.views import render_why, why_view
    from streams.runtime.replay_input import definitions_in_force

    history = History(settings)
    try:
        with history.engine.connect() as connection:
            found = connection.execute(PICK).first()
        if found is None:
            print("\nwhy: no suppressed decision to explain")
            return False
        user_id, trigger_id = found
        decisions = history.decisions(user_id, trigger_id, limit)
    except HistoryUnavailable as exc:
        print(f"\nwhy: {exc}")
        return False
    finally:
        history.close()
    definitions = (await definitions_in_force(settings))[1]
    print(f"\n$ nudge why {user_id} {trigger_id} --limit {limit}")
    print(render_why(why_view(user_id, trigger_id, definitions, decisions)))
    return True
