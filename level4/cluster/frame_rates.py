"""Each running market's smoothed frame rate: its weight in placement.

An exponentially weighted moving average of the frames a second the market's
status board counts, over a window of minutes by default: a burst of a few
seconds barely moves it, a market that stays busy shows it. The first sample
after a market starts here seeds the average outright, so a node's weights
mean something at once rather than after a window of climbing from zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable


class FrameRates:
    def __init__(self, frames: Callable[[int], int], window: float) -> None:
        if window <= 0:
            raise ValueError(f"the frame rate window must be positive, got {window}")
        self.frames = frames  # a market's frame counter
        self.window = window  # seconds: the average's time constant
        self._last: dict[int, tuple[float, int]] = {}  # market -> (when, counter) at the last sample
        self.rates: dict[int, float] = {}

    def sample(self, running: Iterable[int], now: float) -> dict[int, float]:
        """Update the rates of the markets running now (forgetting the others); returns
        the rate of every market sampled at least twice."""
        running = set(running)
        for market_id in [m for m in self._last if m not in running]:
            self._last.pop(market_id)
            self.rates.pop(market_id, None)
        for market_id in running:
            count = self.frames(market_id)
            last = self._last.get(market_id)
            self._last[market_id] = (now, count)
            if last is None or now <= last[0] or count < last[1]:
                continue  # a first look, or a counter that went back: nothing to measure yet
            elapsed = now - last[0]
            rate = (count - last[1]) / elapsed
            before = self.rates.get(market_id)
            if before is None:
                self.rates[market_id] = rate
            else:
                self.rates[market_id] = before + (1.0 - math.exp(-elapsed / self.window)) * (rate - before)
        return dict(self.rates)
