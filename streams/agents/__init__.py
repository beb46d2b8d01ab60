"""Faust agents: decode, call the pure core, send. One module per stage."""
