"""Simulated users and services: the synthetic population, stories, malformed input, publisher."""
