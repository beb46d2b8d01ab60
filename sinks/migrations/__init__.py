"""Alembic environment of the sink tables (run through ``sinks.migrate``)."""
