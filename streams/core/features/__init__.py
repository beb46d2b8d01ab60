"""streams.core.features."""
