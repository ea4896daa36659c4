"""The orderbook actor: the market's book; applies batches, verifies
checksums, detects top-of-book changes and answers queries.

Book deltas are always produced, whoever listens: the event sequence of a
market then depends on its frames alone (a journal replays to the same
sequence), and they cost little next to applying the frames.
"""

from __future__ import annotations

from typing import Any

from level4.feed.bookkeeper import BookKeeper, Report
from level4.feed.events import BookStatus, MarketEvent
from level4.market.context import MarketContext
from level4.market.levels import has_counts, render
from level4.market.market_actor import MarketActor
from level4.market.messages import (
    ApplyBatch,
    BookGone,
    BookQuery,
    BookState,
    Crash,
    Events,
    Mismatches,
    SnapshotRequest,
    StatusNotice,
    Synchronised,
)
from level4.market.status_board import Status
from translations.protocol import ChecksumMismatch


class OrderBookActor(MarketActor):
    hostable = True  # never blocks nor waits: may run where a frame was read
    role = "orderbook"

    def __init__(self, ctx: MarketContext, **supervision: Any) -> None:
        super().__init__(ctx, **supervision)
        checksum = getattr(ctx.scheme, "checksum", None)
        self.keeper = BookKeeper([ctx.instrument.symbol], checksum, deltas=True)
        self.book = self.keeper.books[ctx.instrument.symbol]
        self.counts = has_counts(ctx.scheme)

    def on_start(self) -> None:
        # A restarted orderbook starts empty: consumers must hear that the book they hold is gone.
        self.ctx.registry.tell(self.ctx.market_id, "exchange", BookGone("order book restarted"))

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is ApplyBatch:
            self._apply(message)
            return None
        if kind is BookQuery:
            return self.query(message.depth)
        if kind is SnapshotRequest:
            book = self.book
            state = BookState(
                book.bids_levels(), book.asks_levels(), book.synchronised, book.reason, book.timestamp, message.deliver
            )
            self.ctx.registry.tell(self.ctx.market_id, "exchange", state)
            return None
        if kind is StatusNotice:
            self.ctx.registry.tell(self.ctx.market_id, "exchange", message)  # in line with the book's events
            return None
        if kind is Crash:
            raise RuntimeError(message.detail)
        return None

    def query(self, depth: int | None) -> dict[str, Any]:
        book = self.book
        return {
            "market": self.ctx.tag,
            "synchronised": book.synchronised,
            "bids": render(book.bids_levels(depth), self.counts),
            "asks": render(book.asks_levels(depth), self.counts),
            "reason": book.reason,
        }

    def _apply(self, message: ApplyBatch) -> None:
        events: list[MarketEvent] = []
        mismatches: list[Report] = []
        self.keeper.apply(message.instructions, events, mismatches)
        if mismatches:
            failures = sum(1 for m in mismatches if type(m) is ChecksumMismatch)
            if failures:
                self.ctx.board.count(self.ctx.market_id, checksum_failures=failures)
            self.ctx.registry.tell(self.ctx.market_id, "mediator", Mismatches(mismatches))
        if events:
            for event in events:
                if type(event) is BookStatus:
                    assert isinstance(event, BookStatus)
                    mid = self.ctx.market_id
                    if event.synchronised:
                        self.ctx.board.set(mid, Status.LIVE)
                        self.ctx.registry.tell(mid, "websocket", Synchronised())
                    elif self.ctx.board.status(mid) is Status.LIVE:
                        self.ctx.board.set(mid, Status.SYNCHRONISING, event.reason)
            self.ctx.registry.tell(self.ctx.market_id, "exchange", Events(events, message.received_at))
