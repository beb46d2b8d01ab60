"""Each role has its own metrics port: a worker and a sink run on one host as they are."""

from __future__ import annotations

from schemas.settings import Settings

#: The port settings of the long-running processes, by role.
PORT_FIELDS = {"worker": "metrics_port", "sink": "sink_metrics_port"}


def test_the_worker_and_the_sink_default_to_different_ports() -> None:
    defaults = {role: Settings.model_fields[name].default for role, name in PORT_FIELDS.items()}
    assert defaults == {"worker": 9464, "sink": 9465}
    assert len(set(defaults.values())) == len(defaults)
    assert Settings.model_fields["web_port"].default not in defaults.values()
