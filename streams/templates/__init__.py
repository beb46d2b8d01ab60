"""Message templates shipped with Nudge (``catalogue.yaml``)."""
