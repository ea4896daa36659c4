"""A running market: its actors, its status, its events."""
