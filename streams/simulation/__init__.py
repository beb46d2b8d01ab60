"""streams.simulation."""
