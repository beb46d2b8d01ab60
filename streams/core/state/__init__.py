"""streams.core.state."""
