"""Experiments on triggered flows: arms, exposure and attribution (``schemas.experiments``)."""
