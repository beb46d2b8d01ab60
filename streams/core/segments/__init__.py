"""Live segments: membership judged on the record (``streams.core.segments.membership``)."""
