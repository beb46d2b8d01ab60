"""sinks.reports."""
