"""Receipt-to-publish latency: a histogram one market's exchange actor
writes once per batch, without a lock, and a scrape sums per venue."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

# Upper bounds in seconds: sub-millisecond when keeping up, seconds when far behind.
BOUNDS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LatencyRecorder:
    """Bucket counts (the last is above every bound) and their sum.

    One writer (the market's exchange actor); readers may see an
    observation's bucket before its sum, which a scrape tolerates."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bound's bucket (Prometheus "le").
        self.counts[bisect_left(BOUNDS, seconds)] += 1
        self.total += seconds


def combined(recorders: Iterable[LatencyRecorder]) -> tuple[list[int], float]:
    """Per-bucket counts and sum over several recorders."""
    counts = [0] * (len(BOUNDS) + 1)
    total = 0.0
    for recorder in recorders:
        for i, n in enumerate(list(recorder.counts)):
            counts[i] += n
        total += recorder.total
    return counts, total


def cumulative(counts: list[int]) -> list[tuple[str, float]]:
    """Prometheus buckets: (le, observations at or below it), ending with +Inf."""
    out: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip((*(repr(b) for b in BOUNDS), "+Inf"), counts, strict=True):
        running += n
        out.append((bound, float(running)))
    return out
