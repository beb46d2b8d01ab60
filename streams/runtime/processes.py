"""Run ``nudge`` sub-commands as child processes configured by a ``Settings`` object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr

from schemas.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """Return this process's environment with ``NUDGE_*`` replaced by ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUDGE_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"NUDGE_{name.upper()}"] = str(value)
    return env


class NudgeProcess:
    """One ``nudge <command>`` child process, its output appended to a log file."""

    def __init__(self, settings: Settings, command: str, log_path: Path) -> None:
        self.settings = settings
        self.command = command
        self.log_path = log_path
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        """Return the environment the process runs with."""
        return settings_env(self.settings)

    def start(self) -> NudgeProcess:
        """Start the process."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "streams.cli", self.command],
            env=self.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def running(self) -> bool:
        """Return whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """Stop gracefully (SIGTERM: finish the batch, commit) and return the exit code."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> int:
        """Crash it (SIGKILL): no flush, no commit."""
        return self._end(signal.SIGKILL, 10.0)

    def _end(self, how: signal.Signals, timeout: float) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(how)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(10)
        if self._log:
            self._log.close()
        return code

    def log_text(self) -> str:
        """Return what the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def log_entries(self) -> list[dict[str, Any]]:
        """Return the JSON log lines so far, decoded (a library's plain-text lines skipped)."""
        entries = []
        for line in self.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries
