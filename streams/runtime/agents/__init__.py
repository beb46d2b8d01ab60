"""The Faust agents: ingest (events to decisions) and the timer (time-based triggers)."""
