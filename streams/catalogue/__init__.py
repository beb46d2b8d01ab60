"""The default trigger catalogue shipped with Nudge (``triggers.yaml``)."""
