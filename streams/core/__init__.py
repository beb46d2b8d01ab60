"""streams.core."""
