"""The contract: every message on every topic, topic layouts, and the settings."""
