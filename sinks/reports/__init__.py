"""Reports read from PostgreSQL: effectiveness and interventions, and the demo's queries."""
