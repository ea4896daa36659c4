"""An exact level-2 book: two ladders (level4/book/ladder.py), bids and asks.

Levels are keyed by the value of their price, so "1.50" and "1.5" are the
same level, and keep the venue's own price and size strings, so nothing is
ever rounded. A level reads back as `(price, size)`, or `(price, size,
count)` where the scheme built its level as such a tuple.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from level4.book.ladder import Ladder, checksum_text
from translations.protocol import Level


class OrderBook:
    __slots__ = (
        "asks",
        "bids",
        "reason",
        "sequence",
        "symbol",
        "synchronised",
        "timestamp",
        "top_ask",
        "top_bid",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = Ladder(1.0)
        self.asks = Ladder(-1.0)
        self.synchronised = False
        self.sequence: int | None = None
        self.timestamp: float | None = None
        self.reason: str | None = "no snapshot yet"
        # The top of book last announced (by the BookKeeper's TopChange events).
        self.top_bid: Level | None = None
        self.top_ask: Level | None = None

    # --- changes -------------------------------------------------------------

    def replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.bids.replace(bids)
        self.asks.replace(asks)
        self.synchronised = True
        self.reason = None

    def update(self, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        if bids:
            self.bids.apply(bids)
        if asks:
            self.asks.apply(asks)

    def truncate(self, depth: int) -> None:
        self.bids.truncate(depth)
        self.asks.truncate(depth)

    def clear(self, reason: str) -> None:
        self.bids.clear()
        self.asks.clear()
        self.synchronised = False
        self.sequence = None
        self.reason = reason

    # --- reads ---------------------------------------------------------------

    def best_bid(self) -> Level | None:
        return self.bids.best()

    def best_ask(self) -> Level | None:
        return self.asks.best()

    def bids_levels(self, depth: int | None = None) -> list[Level]:
        return self.bids.levels(depth)

    def asks_levels(self, depth: int | None = None) -> list[Level]:
        return self.asks.levels(depth)

    def crossed(self) -> bool:
        bid, ask = self.bids.best_rank(), self.asks.best_rank()
        if bid is None or ask is None:
            return False
        return bid >= -ask

    def checksum_text(
        self, depth: int, asks_first: bool = False, interleave: bool = False, sep: str = "", digits: bool = False
    ) -> bytes:
        """The text venues compute book checksums over, from the best `depth`
        levels of each side: bids then asks (`asks_first`: asks then bids), or
        one of each in turn (`interleave`); each level as price `sep` size,
        all joined by `sep`; `digits` keeps only each number's digits,
        without leading zeros."""
        first, second = (self.asks, self.bids) if asks_first else (self.bids, self.asks)
        return checksum_text(first, second, depth, interleave, sep, digits)

    def as_dict(self, depth: int | None = None) -> dict[str, object]:
        """The public JSON shape: best first, [price, size] decimal strings."""
        return {
            "synchronised": self.synchronised,
            "bids": [[lv[0], lv[1]] for lv in self.bids_levels(depth)],
            "asks": [[lv[0], lv[1]] for lv in self.asks_levels(depth)],
        }
