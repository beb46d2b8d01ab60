"""Decisions: from matches to fired or suppressed decisions and commands, under the send policy."""
