"""A local venue: synthetic order flow served in a venue's own dialect."""
