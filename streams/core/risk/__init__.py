"""streams.core.risk."""
