"""The `book_snapshots` dataset: a market's book, rebuilt from its `book`
events as a consumer does (README.org, Events), sampled at fixed instants.

A sample at instant T is the book after every event received at or before
T, so its rows join the other datasets on time without look-ahead. Every
instant from the market's first event to its last gets a sample, the book's
bad stretches included (one row, `synchronised` false): a gap in the data is
a row that says so, never a missing row. The stretch between a tree's last
event and the next `started` (a process killed, a tree restarted) is such a
stretch too: nothing is known of the book there.
"""

from __future__ import annotations

from decimal import Decimal
from operator import neg
from typing import Any

from sortedcontainers import SortedDict

from level4.export.export_schema import DAY_NS
from level4.export.parquet_writer import DatasetWriter

_ZERO = Decimal(0)
_PRICES_REMEMBERED = 65_536


class BookSampler:
    def __init__(self, tag: str, depth: int, interval_ns: int, out: DatasetWriter) -> None:
        self.tag = tag
        self.depth = depth
        self.interval = interval_ns
        self.out = out
        # price as a decimal -> (price, size) as the venue wrote them; bids best (highest) first
        self.bids: SortedDict = SortedDict(neg)
        self.asks: SortedDict = SortedDict()
        self.synchronised = False
        self.sequence = 0  # of the last event of the market taken in
        self.next_ns: int | None = None  # the next instant to sample
        self.last_ns: int | None = None  # the last event's receipt time
        self._prices: dict[str, Decimal] = {}  # a book's prices recur: parsed once

    def advance(self, now_ns: int) -> None:
        """Sample every instant before `now_ns`: the event received then is not in them."""
        if self.next_ns is None:
            self.next_ns = -(-now_ns // self.interval) * self.interval
        while self.next_ns < now_ns:
            self._emit(self.next_ns)
            self.next_ns += self.interval
        if self.last_ns is None or now_ns > self.last_ns:
            self.last_ns = now_ns

    def tree_started(self, now_ns: int) -> None:
        """A new tree of the market's actors: the book was known up to the last event, no further."""
        if self.last_ns is not None:
            self.advance(self.last_ns + 1)
        self.bids.clear()
        self.asks.clear()
        self.synchronised = False
        self.advance(now_ns)

    def apply(self, event: dict[str, Any]) -> None:
        """A `book` event: replace the book on a snapshot, then set each level (size zero removes)."""
        bids, asks, prices = self.bids, self.asks, self._prices
        if event["snapshot"]:
            bids.clear()
            asks.clear()
            self.synchronised = bool(event["synchronised"])
        if len(prices) > _PRICES_REMEMBERED:
            prices.clear()
        for side, levels in ((bids, event["bids"]), (asks, event["asks"])):
            for lv in levels:
                text = lv[0]
                price = prices.get(text)
                if price is None:
                    price = prices[text] = Decimal(text)
                if Decimal(lv[1]) == _ZERO:
                    side.pop(price, None)
                else:
                    side[price] = (text, lv[1])

    def finish(self) -> None:
        """The market's journal ended: sample the instants up to its last event."""
        if self.last_ns is not None:
            self.advance(self.last_ns + 1)

    def _emit(self, at_ns: int) -> None:
        tag, add = self.tag, self.out.add
        key = (tag, at_ns // DAY_NS)
        bids, asks = self.bids, self.asks
        if not self.synchronised or (not bids and not asks):
            add(key, (tag, at_ns, self.sequence, self.synchronised, None, None, None, None, None))
            return
        top_bids = bids.values()[: self.depth]
        top_asks = asks.values()[: self.depth]
        nb, na = len(top_bids), len(top_asks)
        for i in range(max(nb, na)):
            bid = top_bids[i] if i < nb else (None, None)
            ask = top_asks[i] if i < na else (None, None)
            add(key, (tag, at_ns, self.sequence, True, i, bid[0], bid[1], ask[0], ask[1]))
