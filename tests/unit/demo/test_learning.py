"""The demo's learned-models section: the anomaly table, the send-time uplift, forecasts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from streams.demo.learning import HEADER, SHOWN, UPLIFT_MARGIN, print_learning
from streams.demo.run import DEMO_MIX


def test_the_section_shows_each_model_and_learned_times_win(capsys) -> None:
    print_learning(DEMO_MIX, users=60, seed=7, now=datetime(2026, 11, 20, 15, tzinfo=UTC))
    out = capsys.readouterr().out
    assert HEADER in out
    auc = re.search(r"ROC-AUC: per-user \(shipped\) (\S+), half-space trees (\S+), 3x the usual "
                    r"day (\S+)", out)  # fmt: skip
    assert auc and float(auc[1]) > float(auc[3])
    assert "unusual_transaction at 0.8 (shipped)" in out
    uplift = re.search(r"learned send times: (\S+)x trigger time, (\S+)x noon, (\S+)x random", out)
    assert uplift and all(float(value) >= UPLIFT_MARGIN for value in uplift.groups()), out
    forecasts = re.findall(r"^    user-7-\d+ \((\w+)\): forecast \$[\d,]+", out, re.M)
    assert len(forecasts) == SHOWN and "spender" in forecasts, out
