"""Behaviour change: a user's weekly activity against their own baseline (pure, no Faust)."""
