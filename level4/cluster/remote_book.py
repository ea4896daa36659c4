"""An exact copy of a market another node runs, kept from that node's events.

The owner's events number the market within an epoch; its `book` events are
a snapshot (the whole book) or deltas (levels to set, size 0 removes). The
copy holds the levels as the owner published them (the venue's own strings)
and is good only while it holds a snapshot of the current epoch and every
book event since: a missing sequence, or a new epoch that does not open with
a snapshot, empties it until the next snapshot.
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any

NO_SNAPSHOT = "no book from the owning node yet"
PRICE_CACHE = 4096  # price strings read per copy before the cache starts afresh (prices near the top repeat)


class RemoteBook:
    def __init__(self, market_id: int, tag: str) -> None:
        self.market_id = market_id
        self.tag = tag
        self.epoch: int | None = None
        self.sequence: int | None = None
        self.venue_time: float | None = None
        # price -> level as published. Plain dicts, sorted only when the book is read:
        # a copy takes every event of its market and is read far less often.
        self._bids: dict[Decimal, list[Any]] = {}
        self._asks: dict[Decimal, list[Any]] = {}
        self._sorted: tuple[list[list[Any]], list[list[Any]]] | None = None  # best first, until the next change
        self._prices: dict[Any, Decimal] = {}  # price string -> its value
        self._held = False  # a snapshot of this epoch and every event since
        self._good = False  # what the last book event said of the owner's book
        self.reason: str | None = NO_SNAPSHOT
        self.gaps = 0

    @property
    def synchronised(self) -> bool:
        return self._held and self._good

    @property
    def needs_snapshot(self) -> bool:
        """No snapshot of the current epoch holds: only one from the owner repairs the copy."""
        return not self._held

    def apply(self, event: dict[str, Any]) -> bool:
        """Take the owner's next event (the caller dropped older epochs); False when
        it showed events were lost, and the copy waits for a snapshot."""
        epoch = int(event.get("epoch", 0))
        sequence = int(event["sequence"])
        tag = event.get("market")
        if tag and tag != self.tag:
            self.tag = str(tag)
        is_book = event["channel"] == "book"
        opens = is_book and bool(event.get("snapshot"))
        in_line = True
        if epoch != self.epoch:
            self.epoch = epoch
            if not opens and self.sequence is not None:
                in_line = self._lost(f"epoch {epoch} did not open with a snapshot")
        elif self.sequence is not None and sequence != self.sequence + 1 and not opens:
            in_line = self._lost(f"events lost: sequence {self.sequence} -> {sequence}")
        self.sequence = sequence
        if not is_book:
            return in_line
        if opens:
            self._take_snapshot(event)
        elif self._held:
            if not event.get("synchronised", True):
                self._good = False
                self.reason = event.get("reason") or "the owner's book is not synchronised"
            self._set(self._bids, event["bids"])
            self._set(self._asks, event["asks"])
            self.venue_time = event.get("venue_time")
        return in_line

    def take_resync(self, event: dict[str, Any]) -> None:
        """A snapshot the owner sent on request: the book as of its sequence, in line
        with the events that follow it on the bus."""
        self.epoch = int(event.get("epoch", 0))
        self.sequence = int(event["sequence"])
        self._take_snapshot(event)

    def book(self, depth: int | None) -> dict[str, Any]:
        """The copy in the shape of GET /markets/{id}/book."""
        good = self.synchronised
        bids, asks = self._ladders() if good else ([], [])
        return {
            "market": self.tag,
            "synchronised": good,
            "bids": bids[:depth],
            "asks": asks[:depth],
            "reason": None if good else self.reason,
        }

    def _ladders(self) -> tuple[list[list[Any]], list[list[Any]]]:
        if self._sorted is None:
            bids, asks = self._bids, self._asks
            self._sorted = (
                [list(bids[p]) for p in sorted(bids, reverse=True)],
                [list(asks[p]) for p in sorted(asks)],
            )
        return self._sorted

    def snapshot_event(self) -> dict[str, Any]:
        """A `book` snapshot as of the last event taken, for one /stream subscriber."""
        book = self.book(None)
        return {
            "channel": "book",
            "market_id": self.market_id,
            "market": self.tag,
            "sequence": self.sequence or 0,
            "epoch": self.epoch or 0,
            "venue_time": self.venue_time,
            "received_at": time.time(),
            "snapshot": True,
            "synchronised": book["synchronised"],
            "bids": book["bids"],
            "asks": book["asks"],
            "reason": book["reason"],
        }

    # --- internals ----------------------------------------------------------------------

    def _take_snapshot(self, event: dict[str, Any]) -> None:
        self._bids.clear()
        self._asks.clear()
        self._held = True
        self._good = bool(event.get("synchronised"))
        self.reason = None if self._good else (event.get("reason") or "the owner's book is not synchronised")
        self.venue_time = event.get("venue_time")
        self._set(self._bids, event["bids"])
        self._set(self._asks, event["asks"])

    def lose(self, reason: str) -> None:
        """Events of the copy could not be read: it waits for a snapshot."""
        self._lost(reason)

    def _lost(self, reason: str) -> bool:
        self.gaps += 1
        self._held = False
        self.reason = reason
        self._sorted = None
        self._bids.clear()
        self._asks.clear()
        return False

    def _set(self, ladder: dict[Decimal, list[Any]], levels: list[list[Any]]) -> None:
        self._sorted = None
        prices = self._prices
        for level in levels:
            try:
                text, size = level[0], level[1]
                price = prices.get(text)
                if price is None:
                    price = Decimal(text)
                    if len(prices) >= PRICE_CACHE:
                        prices.clear()
                    prices[text] = price
                # A plain decimal string (what the owner's books publish) is read without a
                # Decimal: zero when it holds no digit but 0. Anything else is read as a number.
                if type(size) is str and size and not size.strip("0123456789.") and size.count(".") <= 1:
                    zero = not size.strip("0.")
                else:
                    zero = Decimal(size) == 0
            except (InvalidOperation, TypeError, ValueError, IndexError, KeyError):
                self._lost(f"unreadable level {level!r}")
                return
            if zero:
                ladder.pop(price, None)
            else:
                ladder[price] = level
