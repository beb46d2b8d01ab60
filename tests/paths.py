"""Where things are in the checkout, for tests that read files rather than the package.

Kept out of the test modules so that a test's place in ``tests/`` does not change what
these paths mean.
"""

from __future__ import annotations

from pathlib import Path

#: The checkout's root: the folder holding pyproject.toml.
ROOT = Path(__file__).resolve().parents[1]
#: The shipped trigger catalogue, as the file an operator would copy and edit.
CATALOGUE_FILE = ROOT / "streams" / "catalogue" / "triggers.yaml"
