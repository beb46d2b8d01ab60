"""The Faust runtime: the composition root, agents, definitions feed, metrics, logs, health."""
