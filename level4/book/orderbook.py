"""An exact level-2 book.

Levels are keyed by the float value of their price, which orders them and
makes "1.50" and "1.5" the same level; the venue's own price and size
strings are kept as the level's value, so nothing is ever rounded. Floats
represent every decimal of up to 15 significant digits distinctly, which
covers every price a venue quotes.

Each side is a dict (rank -> level) beside a plain ascending list of its
ranks, searched and changed with the C `bisect` functions. A bid's rank is
its price and an ask's the negated price, so that on both sides a greater
rank is a better level and the best level is the list's last item. Almost every change a venue sends is
near the top of the book, so inserting or removing there moves only the few
items after it, and the best level or the top N is a slice of the tail.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from typing import Any

from translations.protocol import Level


def _side(levels: Iterable[Level], sign: float) -> tuple[dict[float, Level], list[float]]:
    side = {sign * float(lv[0]): lv for lv in levels if float(lv[1]) != 0.0}
    return side, sorted(side)


def _apply(side: dict[float, Level], ranks: list[float], levels: Iterable[Level], sign: float) -> None:
    for lv in levels:
        rank = sign * float(lv[0])
        if float(lv[1]) == 0.0:
            if side.pop(rank, None) is not None:
                del ranks[bisect_left(ranks, rank)]
        else:
            if rank not in side:
                insort(ranks, rank)
            side[rank] = lv


def _levels(side: dict[float, Level], ranks: list[float], depth: int | None) -> list[Level]:
    if depth is not None:
        ranks = ranks[-depth:] if depth > 0 else []
    return [side[rank] for rank in reversed(ranks)]


class OrderBook:
    __slots__ = (
        "ask_ranks",
        "asks",
        "bid_ranks",
        "bids",
        "derived",
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
        # rank (bids: price, asks: -price) -> level; the ranks ascending, best last
        self.bids: dict[float, Level] = {}
        self.asks: dict[float, Level] = {}
        self.bid_ranks: list[float] = []
        self.ask_ranks: list[float] = []
        self.synchronised = False
        self.sequence: int | None = None
        self.timestamp: float | None = None
        self.reason: str | None = "no snapshot yet"
        # The top of book last announced (by the BookKeeper's TopChange events).
        self.top_bid: Level | None = None
        self.top_ask: Level | None = None
        # Scratch space for what a scheme derives from the levels (a checksum's
        # text of the top levels); whatever is kept is checked against the
        # levels it came from before it is used, so it can never go stale.
        self.derived: dict[str, Any] = {}

    # --- changes -------------------------------------------------------------

    def replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.bids, self.bid_ranks = _side(bids, 1.0)
        self.asks, self.ask_ranks = _side(asks, -1.0)
        self.synchronised = True
        self.reason = None

    def update(self, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        if bids:
            _apply(self.bids, self.bid_ranks, bids, 1.0)
        if asks:
            _apply(self.asks, self.ask_ranks, asks, -1.0)

    def truncate(self, depth: int) -> None:
        for side, ranks in ((self.bids, self.bid_ranks), (self.asks, self.ask_ranks)):
            extra = len(ranks) - depth
            if extra > 0:
                for rank in ranks[:extra]:
                    del side[rank]
                del ranks[:extra]

    def clear(self, reason: str) -> None:
        self.bids, self.bid_ranks = {}, []
        self.asks, self.ask_ranks = {}, []
        self.synchronised = False
        self.sequence = None
        self.reason = reason

    # --- reads ---------------------------------------------------------------

    def best_bid(self) -> Level | None:
        ranks = self.bid_ranks
        return self.bids[ranks[-1]] if ranks else None

    def best_ask(self) -> Level | None:
        ranks = self.ask_ranks
        return self.asks[ranks[-1]] if ranks else None

    def bids_levels(self, depth: int | None = None) -> list[Level]:
        return _levels(self.bids, self.bid_ranks, depth)

    def asks_levels(self, depth: int | None = None) -> list[Level]:
        return _levels(self.asks, self.ask_ranks, depth)

    def crossed(self) -> bool:
        if not self.bid_ranks or not self.ask_ranks:
            return False
        return self.bid_ranks[-1] >= -self.ask_ranks[-1]

    def as_dict(self, depth: int | None = None) -> dict[str, object]:
        """The public JSON shape: best first, [price, size] decimal strings."""
        return {
            "synchronised": self.synchronised,
            "bids": [[lv[0], lv[1]] for lv in self.bids_levels(depth)],
            "asks": [[lv[0], lv[1]] for lv in self.asks_levels(depth)],
        }
