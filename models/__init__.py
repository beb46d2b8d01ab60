"""Machine learning for Nudge: the alert recommender (online models come later); pure, no I/O.

``features`` (a user's features, heuristic labels), ``recommender`` (scaled cosine nearest
neighbours), ``artifacts`` (saved in a safe format, loaded only with the recorded hash),
``training`` (the hash split, heuristic labels for users with none, the fingerprint) and
``evaluation`` (precision@k, recall@k and coverage on held-out users, against popularity
and the heuristics). The database side is ``sinks.model_registry``; the commands are
``nudge models`` (``streams.cli.models``).
"""
