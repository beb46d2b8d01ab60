"""Kafka -> PostgreSQL sinks: tables, migrations, the batch writer and its worker.

A sink consumes Nudge's output topics (decisions, commands, dead letters) and writes one
row per message, idempotently on the message's id, committing Kafka offsets only after
the database transaction that holds the rows has committed.
"""
