"""The alert recommender in the stream: when a user's profile is published, what is served."""
