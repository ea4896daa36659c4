"""level4's benchmarks: `python -m benchmarks` (see README.org, Performance)."""
