"""The recommender's benchmark part: its synthetic users, its quantiles, its report section."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.bench.__main__ import main
from streams.bench.recommender import (
    SEED_FIGURES,
    ModelBenchOptions,
    quantiles,
    run_models_bench,
    synthetic_users,
)


def test_synthetic_users_are_reproducible_and_a_third_chose_no_alert() -> None:
    users = synthetic_users(300, seed=3)
    assert users == synthetic_users(300, seed=3) != synthetic_users(300, seed=4)
    assert not any(u.enabled for u in users[::3])
    assert sum(1 for u in users if u.enabled) > 180  # the rest, but for a few unlucky draws
    assert all(0 <= u.features.credit_utilisation <= 1 for u in users)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([2.0], {"p50": 2.0, "p99": 2.0, "max": 2.0, "mean": 2.0}),
        # 100 values 1..100: rank int(q * n) of the sorted values
        ([float(v) for v in range(100, 0, -1)], {"p50": 51.0, "p99": 100.0, "max": 100.0,
                                                  "mean": 50.5}),
    ],
)  # fmt: skip
def test_quantiles_by_rank(values: list[float], expected: dict[str, float]) -> None:
    assert quantiles(values) == expected


def test_the_models_section_is_added_to_the_report_keeping_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    out.write_bytes(orjson.dumps({"report_version": 2, "sink": {"runs": []}}))
    assert run_models_bench(ModelBenchOptions(sizes=(200,), predictions=20, out=out)) == 0
    report = orjson.loads(out.read_bytes())
    assert report["report_version"] == 2 and report["sink"] == {"runs": []}
    section = report["models"]
    assert section["seed_figures"] == SEED_FIGURES
    assert section["parameters"] == {"sizes": [200], "predictions": 20, "seed": 7, "k": 5,
                                     "threshold": 0.4}  # fmt: skip
    (run,) = section["runs"]
    assert set(run) == {
        "users", "fit_seconds", "train_seconds", "train_seconds_per_1000_users", "predictions",
        "predict_ms", "model_bytes", "held_out_precision_at_k",
    }  # fmt: skip
    assert run["users"] == 200 and run["predictions"] == 20
    assert set(run["predict_ms"]) == {"p50", "p99", "max", "mean"}
    assert 0 < run["predict_ms"]["p50"] <= run["predict_ms"]["p99"] <= run["predict_ms"]["max"]
    assert run["model_bytes"] > 0 and run["fit_seconds"] > 0


@pytest.mark.parametrize("argv", [["--sizes", "10"], ["--sizes", "x"], ["--predictions", "0"]])
def test_the_command_refuses_sizes_it_cannot_run(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["models", *argv])
    assert exited.value.code == 2
