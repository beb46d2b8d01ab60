"""Risk interventions: policy, trend, the intervention decision and its messages."""
