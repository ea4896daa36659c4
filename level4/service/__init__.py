"""The running service: its root tree and the control surface over it."""
