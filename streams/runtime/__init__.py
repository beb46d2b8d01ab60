"""streams.runtime."""
