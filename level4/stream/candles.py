"""OHLCV candles from trades, per interval, for a recent window in memory.

Candles exist only for intervals that saw trades (no filling of quiet
ones). A trade is placed by its venue time (its receipt time when the venue
gives none); one that belongs to a candle older than the window is dropped.
Prices keep the venue's strings; volumes are exact decimal sums.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

INTERVALS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}
KEPT = 720  # candles per interval: 12 hours of 1m, 30 days of 1h


@dataclass(slots=True)
class Candle:
    start: int
    open: str
    high: str
    low: str
    close: str
    high_value: Decimal
    low_value: Decimal
    volume: Decimal
    trades: int

    def add(self, price: str, value: Decimal, size: Decimal) -> None:
        if value > self.high_value:
            self.high, self.high_value = price, value
        if value < self.low_value:
            self.low, self.low_value = price, value
        self.close = price
        self.volume += size
        self.trades += 1

    def as_dict(self, seconds: int) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.start + seconds,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": format(self.volume, "f"),
            "trades": self.trades,
        }


class Candles:
    def __init__(self, kept: int = KEPT) -> None:
        self.series: dict[str, deque[Candle]] = {name: deque(maxlen=kept) for name in INTERVALS}

    def add(self, at: float, price: str, size: str) -> None:
        value, amount = Decimal(price), Decimal(size)
        for name, seconds in INTERVALS.items():
            start = int(at // seconds) * seconds
            series = self.series[name]
            candle = self._find(series, start)
            if candle is not None:
                candle.add(price, value, amount)
                continue
            new = Candle(start, price, price, price, price, value, value, amount, 1)
            if not series or start > series[-1].start:
                series.append(new)  # the usual case; a full window drops its oldest
            elif start > series[0].start or len(series) < (series.maxlen or 0):
                self._insert(series, new)
            # else: older than the whole window, dropped

    @staticmethod
    def _find(series: deque[Candle], start: int) -> Candle | None:
        # Trades arrive nearly in time order: look from the newest back.
        for candle in reversed(series):
            if candle.start == start:
                return candle
            if candle.start < start:
                return None
        return None

    @staticmethod
    def _insert(series: deque[Candle], candle: Candle) -> None:
        if len(series) == series.maxlen:
            series.popleft()
        at = len(series)
        while at > 0 and series[at - 1].start > candle.start:
            at -= 1
        series.insert(at, candle)

    def get(self, interval: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Oldest first; the last candle may still be open."""
        seconds = INTERVALS[interval]
        series = list(self.series[interval])
        if limit is not None:
            series = series[-limit:]
        return [c.as_dict(seconds) for c in series]
