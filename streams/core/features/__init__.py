"""Features: the figures trigger conditions compare, computed from the record and the event."""
