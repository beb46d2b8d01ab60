"""A worker whose batch handling fails once: the fail-stop path through a real broker.

Run as ``python -m tests.integration.runtime.faulty_worker MARKER EVENT_ID``: the first batch
that holds the event ``EVENT_ID`` raises, as a bug in the stage or a producer failure
would, as long as the file ``MARKER`` does not exist (it is created then, so a restarted
worker of the same test runs normally).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from schemas.settings import Settings
from streams.runtime.agents.ingest import IngestStage
from streams.runtime.worker import run_worker


def main(marker: Path, event_id: str) -> None:
    """Patch the stage to fail once on the batch holding ``event_id``, then run."""
    process_batch = IngestStage.process_batch

    def failing(self: IngestStage, batch: Any) -> Any:
        if not marker.exists() and any(event_id.encode() in message.value for message in batch):
            marker.touch()
            msg = "the producer refused the batch"
            raise BufferError(msg)
        return process_batch(self, batch)

    IngestStage.process_batch = failing  # type: ignore[method-assign]
    run_worker(Settings())


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
