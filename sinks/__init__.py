"""Kafka -> PostgreSQL sinks: tables, migrations, the batch writer, its worker, the reports.

A sink consumes Nudge's output topics (decisions, commands, dead letters) and writes one
row per message, idempotently on the message's id, committing Kafka offsets only after
the database transaction that holds the rows has committed. It also reads two input
topics for the reports: every command outcome (``comms.outcomes``) and, from
``behavior.events``, each user's active UTC days, purchases and missed payments
(``sinks.inputs``, ``sinks.linking``, ``sinks.reports``).
"""
