"""Replay: retained input history through the pure core, for ``nudge triggers simulate``.

``history`` turns input messages into the time-ordered events the worker would have
processed (decoded as it decodes them, dead letters counted and left out); ``replay``
runs them through ``process`` and the timer's ``process_idle`` with one definition set;
``comparison`` runs two sets over the same history and says what differs per trigger.
Pure: no Kafka, no clock, no database; the CLI reads the topics and prints.
"""

from streams.core.replay.comparison import Simulation, TriggerComparison, simulate
from streams.core.replay.history import History, InputMessage, Window, take_in
from streams.core.replay.replay import CoreSetup, Tally, TimerPolicy, TriggerTally, replay

__all__ = [
    "CoreSetup",
    "History",
    "InputMessage",
    "Simulation",
    "Tally",
    "TimerPolicy",
    "TriggerComparison",
    "TriggerTally",
    "Window",
    "replay",
    "simulate",
    "take_in",
]
