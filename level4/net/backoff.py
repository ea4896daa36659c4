"""When to reconnect: at once after a synchronised connection was cut,
otherwise exponential backoff with jitter and a cap.

A connection that had its market synchronised and then was cut lost nothing
but the connection: waiting would only leave the book unsynchronised longer,
so it reconnects after a small jitter (that many markets cut by one outage
do not all arrive in the same instant). Failing to connect, or connecting
and failing to synchronise, says the venue (or the way to it) is in trouble:
each such failure doubles the wait, up to a cap, with full jitter so that
many markets do not stampede it. The waits start afresh once the market is
synchronised again.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None, jitter: float = 0.1
    ) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter  # the longest wait after a synchronised connection was cut
        self.attempts = 0  # failures since the market was last synchronised
        self._rng = rng or random.Random()

    def next_delay(self, was_synchronised: bool = False) -> float:
        """The wait before the next attempt; `was_synchronised`: the connection
        that ended had its market synchronised (and nothing asked to back off)."""
        if was_synchronised:
            return self._rng.uniform(0.0, self.jitter)
        ceiling = min(self.cap, self.base * (2**self.attempts))
        self.attempts += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """The market is synchronised: the next failure waits `base` again."""
        self.attempts = 0
