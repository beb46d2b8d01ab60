"""streams.cli.main."""
