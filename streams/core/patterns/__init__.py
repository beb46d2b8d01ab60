"""Pattern labels: which one describes a user now, and the insight when it changes."""
