"""The ``nudge`` command line, one module per command group."""
