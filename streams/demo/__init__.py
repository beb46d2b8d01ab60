"""The demo: the whole pipeline on synthetic users, and what fired."""
