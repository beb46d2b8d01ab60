"""The Quix Streams peer's own virtualenv, built by the bench so our pins stay untouched.

``.bench-venv/quix`` (git-ignored) gets this repository (editable, with our
``constraints.txt``), then ``quixstreams`` at ``QUIX_VERSION`` without its dependencies,
then those dependencies under our constraints. Quix 3.28.1 asks for ``pydantic<2.14`` and
``pydantic-settings<2.16``, which our contract models cannot use; the peer runs on ours
(2.14, 2.16: it starts and processes normally), so both apps decode with the same
pydantic. Built once; checked at each run, and rebuilt if the check fails.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: The Quix Streams release the peer runs (pypi ``quixstreams``).
QUIX_VERSION = "3.28.1"
#: Its requirements (``importlib.metadata.requires``), minus the pydantic pins above.
QUIX_DEPENDENCIES = (
    "confluent-kafka[avro,json,protobuf,schemaregistry]>=2.8.2,<2.13",
    "rocksdict>=0.3,<0.4",
    "typing-extensions>=4.8",
    "orjson>=3.9,<4",
    "jsonschema>=4.3.0",
    "jsonlines>=4,<5",
    "rich>=13,<16",
    "jsonpath-ng>=1.7.0,<2",
    "httpx>=0.28.1",
)
#: Where it lives, under the repository root.
VENV_DIR = Path(".bench-venv/quix")
#: What the check imports: Quix itself and the core the peer runs.
CHECK = (
    "import quixstreams, streams.bench.quix_core; "
    f"assert quixstreams.__version__ == {QUIX_VERSION!r}, quixstreams.__version__"
)
#: Longest the whole build may take.
BUILD_TIMEOUT_SECONDS = 900.0
#: Lines of a failed step's output kept in the report.
OUTPUT_TAIL_LINES = 8


@dataclass(frozen=True, slots=True)
class Peer:
    """The peer's interpreter, or why there is none.

    Attributes:
        python: The virtualenv's interpreter, or ``None`` if it could not be built.
        detail: What was done (``ready``, ``built``) or what failed, with its output.
    """

    python: Path | None
    detail: str


def repository_root() -> Path:
    """Return the repository this module belongs to (``streams/bench/`` is two below)."""
    return Path(__file__).resolve().parents[2]


def quix_python(root: Path | None = None) -> Peer:
    """Return the peer's interpreter, building its virtualenv first if needed."""
    root = root or repository_root()
    venv = root / VENV_DIR
    python = venv / "bin" / "python"
    if python.exists() and _works(python, root):
        return Peer(python, "ready")
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    constraints = ["-c", str(root / "constraints.txt")]
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [*pip, *constraints, "-e", str(root)],
        [*pip, "--no-deps", f"quixstreams=={QUIX_VERSION}"],
        [*pip, *constraints, *QUIX_DEPENDENCIES],
    ]
    for step in steps:
        try:
            done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
                step, cwd=root, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Peer(None, f"{' '.join(step[:4])} ...: {exc!r}")
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()[-OUTPUT_TAIL_LINES:]
            return Peer(None, f"{' '.join(step[:4])} ... failed: " + " | ".join(output))
    if not _works(python, root):
        return Peer(None, f"built, but `{CHECK}` fails")
    return Peer(python, "built")


def _works(python: Path, root: Path) -> bool:
    """Return whether ``python`` imports Quix at ``QUIX_VERSION`` and the peer's module."""
    done = subprocess.run(  # noqa: S603 - the peer's interpreter, fixed arguments
        [str(python), "-W", "ignore", "-c", CHECK], cwd=root, capture_output=True, timeout=120
    )
    return done.returncode == 0
