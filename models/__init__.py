"""Machine learning for Nudge (online models and the alert recommender); later issues."""
