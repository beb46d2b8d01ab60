"""Triggers: conditions, evaluation, time-based due rules, the catalogue and its live overlay."""
