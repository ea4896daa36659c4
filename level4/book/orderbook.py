"""An exact level-2 book.

Levels are keyed by the float value of their price, which orders them and
makes "1.50" and "1.5" the same level; the venue's own price and size
strings are kept as the level's value, so nothing is ever rounded. Floats
represent every decimal of up to 15 significant digits distinctly, which
covers every price a venue quotes. Bids are keyed by the negated price so
that both sides iterate best first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from sortedcontainers import SortedDict

from translations.protocol import Level


class OrderBook:
    __slots__ = ("asks", "bids", "reason", "sequence", "symbol", "synchronised", "timestamp")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.synchronised = False
        self.sequence: int | None = None
        self.timestamp: float | None = None
        self.reason: str | None = "no snapshot yet"

    # --- changes -------------------------------------------------------------

    def replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.bids = SortedDict({-float(lv[0]): lv for lv in bids if float(lv[1]) != 0.0})
        self.asks = SortedDict({float(lv[0]): lv for lv in asks if float(lv[1]) != 0.0})
        self.synchronised = True
        self.reason = None

    def update(self, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        side = self.bids
        for lv in bids:
            key = -float(lv[0])
            if float(lv[1]) == 0.0:
                side.pop(key, None)
            else:
                side[key] = lv
        side = self.asks
        for lv in asks:
            key = float(lv[0])
            if float(lv[1]) == 0.0:
                side.pop(key, None)
            else:
                side[key] = lv

    def truncate(self, depth: int) -> None:
        for side in (self.bids, self.asks):
            while len(side) > depth:
                side.popitem()

    def clear(self, reason: str) -> None:
        self.bids = SortedDict()
        self.asks = SortedDict()
        self.synchronised = False
        self.sequence = None
        self.reason = reason

    # --- reads ---------------------------------------------------------------

    def best_bid(self) -> Level | None:
        return self.bids.peekitem(0)[1] if self.bids else None

    def best_ask(self) -> Level | None:
        return self.asks.peekitem(0)[1] if self.asks else None

    def bids_levels(self, depth: int | None = None) -> list[Level]:
        values = self.bids.values()
        return list(values if depth is None else islice(values, depth))

    def asks_levels(self, depth: int | None = None) -> list[Level]:
        values = self.asks.values()
        return list(values if depth is None else islice(values, depth))

    def crossed(self) -> bool:
        if not self.bids or not self.asks:
            return False
        return -self.bids.peekitem(0)[0] >= self.asks.peekitem(0)[0]

    def as_dict(self, depth: int | None = None) -> dict[str, object]:
        """The public JSON shape: best first, [price, size] decimal strings."""
        return {
            "synchronised": self.synchronised,
            "bids": [[lv[0], lv[1]] for lv in self.bids_levels(depth)],
            "asks": [[lv[0], lv[1]] for lv in self.asks_levels(depth)],
        }
