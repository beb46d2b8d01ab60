"""streams.core.triggers."""
