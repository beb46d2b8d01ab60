"""Funnels: each user's progress through ordered steps (``schemas.funnels``)."""
