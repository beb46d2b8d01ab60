"""streams.runtime.agents."""
