"""Models that learn one event at a time, inside the worker: pure arithmetic, no I/O.

Each model here keeps its per-user state as a short list of numbers in the user's record
(``streams.core.state.record.UserState``), so the record's changelog is the model's
checkpoint and a replayed event (deduplicated by the record) never counts twice. The core
calls them from its fold and its features; ``streams.core`` may import this package and no
other part of ``models`` (``pyproject.toml``'s import contracts), and this package imports
only the standard library and ``schemas``, never river, numpy or scikit-learn: the hot path
stays cheap. river is used where it earns its place: the drift detectors
(``models.drift``), and as the reference the unit tests pin these updates against and the
evaluations compare with (``models.online_evaluation``).

- ``anomaly``: an anomaly score for each debit from the user's own spending.
- ``send_time``: a Thompson-sampling bandit over local send hours, learning from outcomes.
- ``forecast``: next week's spending, exponentially weighted over the past weeks.
- ``goals``: the probability of reaching a savings goal by its deadline.
- ``prior``: the population's open rate per local hour, the bandit's prior.
"""
