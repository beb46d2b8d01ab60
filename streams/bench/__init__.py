"""Benchmark: the Nudge pipeline against a bare Faust pass-through and a plain aiokafka loop.

``python -m streams.bench --out reports/bench.json`` pre-loads one set of events into a
fresh topic prefix on the local broker, runs each consumer in its own process over the
same topic (own consumer group, earliest offset), writes a JSON report with same-run
throughput ratios, prints a table, and deletes the run's topics. See
``streams.bench.consumers`` for what each mode does and ``streams.bench.meter`` for how
it is timed. ``python -m streams.bench sink`` is the sink's benchmark: its write methods,
interleaved, on the same pre-loaded output messages (``streams.bench.sink_runner``).
``python -m streams.bench models`` is the alert recommender's: training time, prediction
latency and model size on synthetic users (``streams.bench.recommender``); ``python -m
streams.bench online`` the online models' cost per call and per event
(``streams.bench.online``).
"""
