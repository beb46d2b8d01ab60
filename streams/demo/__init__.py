"""streams.demo.run."""
