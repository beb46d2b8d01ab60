"""streams.core.decisions."""
