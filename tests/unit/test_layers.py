"""The layers hold: import-linter's contracts pass, and fail when a layer is broken.

Each case copies the packages to a temporary folder, breaks one rule in the copy (a core
module importing Faust, the contract importing the core, a cycle in the features), and
runs ``lint-imports`` with the project's own configuration on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

PACKAGES = ("schemas", "streams", "sinks", "models")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_tree_as_committed_keeps_every_contract(copy: Path) -> None:
    run = lint_imports(copy)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "BROKEN" not in run.stdout
    assert "Contracts: 7 kept, 0 broken." in run.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "streams/core/units.py",
            "import faust",
            "streams.core is pure: no Kafka, no Faust, no asyncio, no database, no outer",
        ),
        (
            "streams/core/state/record.py",
            "import asyncio",
            "streams.core is pure: no Kafka, no Faust, no asyncio, no database, no outer",
        ),
        (
            "streams/core/decisions/process.py",
            "from streams.runtime import metrics",
            "streams.core is pure: no Kafka, no Faust, no asyncio, no database, no outer",
        ),
        (
            "schemas/ids.py",
            "import streams.core.units",
            "schemas is the contract: it imports none of streams, sinks, models",
        ),
        ("sinks/tables.py", "import streams.core.units", "sinks imports no streams"),
        ("streams/runtime/lag.py", "import sinks.tables", "only cli and demo import sinks"),
        (
            "streams/core/state/fold.py",
            "import streams.core.decisions.result",
            "the core's stages build on each other, never back",
        ),
        (
            "streams/core/features/life.py",
            "from streams.core.features import registry",
            "no import cycles inside a package",
        ),
    ],
)
def test_a_broken_layer_fails_the_lint(copy: Path, module: str, line: str, broken: str) -> None:
    path = copy / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # noqa\n")
    try:
        run = lint_imports(copy)
    finally:
        path.write_text(original)
    assert run.returncode != 0
    assert "Contracts: 7 kept" not in run.stdout, run.stdout
    # The contract the line breaks is named among the broken ones (an import against the
    # layers is often a cycle too, which the acyclic contract reports as well).
    broken_section = run.stdout.split("Broken contracts", 1)[1]
    assert broken in broken_section, broken_section
