"""Machine learning for Nudge: the alert recommender and the online models; pure, no I/O.

The online models are ``online`` (per-user arithmetic the worker's core runs) and their
evidence ``online_evaluation`` (docs/learning.md). The rest is the alert recommender:

``features`` (a user's features, heuristic labels), ``recommender`` (scaled cosine nearest
neighbours), ``artifacts`` (saved in a safe format, loaded only with the recorded hash),
``training`` (the hash split, heuristic labels for users with none, the fingerprint) and
``evaluation`` (precision@k, recall@k and coverage on held-out users, against popularity
and the heuristics). The database side is ``sinks.model_registry``; the commands are
``nudge models`` (``streams.cli.models``).
"""
