"""Nudge's stream worker: Faust app, agents, and the pure decision core they call."""
