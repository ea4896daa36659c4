"""Applies a scheme's book instructions to books: the orderbook's core.

Pure and synchronous, so the orderbook actor and `level4 replay` run the
very same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from level4.book.orderbook import OrderBook
from level4.feed.events import BookDelta, BookStatus, MarketEvent, TopChange
from translations.protocol import (
    BookFault,
    ChecksumMismatch,
    Desync,
    Instruction,
    Level,
    Snapshot,
    Trade,
    Truncate,
    Update,
    Verify,
)

ChecksumFn = Callable[[OrderBook, str], int | None]
# What the books report back to the scheme's translator.
Report = ChecksumMismatch | BookFault
# A level the book cannot read (its price or size is no number) raises one of these,
# before any level of that side is applied.
BAD_LEVEL = (ValueError, TypeError, IndexError)


class BookKeeper:
    def __init__(self, symbols: Iterable[str], checksum: ChecksumFn | None = None, deltas: bool = False) -> None:
        self.books: dict[str, OrderBook] = {s: OrderBook(s) for s in symbols}
        self._checksum = checksum
        # BookDelta events cost allocations; only produced when a consumer wants them.
        self.deltas = deltas
        self.checksums_verified = 0
        self.checksum_failures = 0

    def book(self, symbol: str) -> OrderBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = OrderBook(symbol)
        return book

    def apply(self, instructions: Sequence[Instruction], events: list[MarketEvent], mismatches: list[Report]) -> None:
        """Apply in order; append events, and checksum mismatches and levels
        refused (a scheme checks the shape of what it passes on, the book that
        every price and size is a number: a bad one clears the book).

        The top of book is compared once per batch with the one last
        announced, so a batch yields at most one TopChange per book."""
        books = self.books
        touched: list[OrderBook] = []
        last: OrderBook | None = None  # most batches touch one book: skip the membership test
        for ins in instructions:
            kind = type(ins)
            if kind is Update:
                assert isinstance(ins, Update)
                book = books.get(ins.symbol) or self.book(ins.symbol)
                if not book.synchronised:
                    continue  # nothing to update until a snapshot makes it whole
                try:
                    book.update(ins.bids, ins.asks)
                except BAD_LEVEL as exc:
                    self._refuse(book, exc, events, mismatches, touched)
                    continue
                if ins.sequence is not None:
                    book.sequence = ins.sequence
                if ins.timestamp is not None:
                    book.timestamp = ins.timestamp
                if book is not last:
                    if book not in touched:
                        touched.append(book)
                    last = book
                if self.deltas:
                    events.append(BookDelta(ins.symbol, list(ins.bids), list(ins.asks), False, ins.timestamp))
            elif kind is Trade:
                assert isinstance(ins, Trade)
                events.append(ins)
            elif kind is Verify:
                assert isinstance(ins, Verify)
                self._verify(ins, mismatches)
            elif kind is Snapshot:
                assert isinstance(ins, Snapshot)
                book = self.book(ins.symbol)
                was = book.synchronised
                try:
                    book.replace(ins.bids, ins.asks)
                except BAD_LEVEL as exc:
                    self._refuse(book, exc, events, mismatches, touched)
                    continue
                book.sequence = ins.sequence
                book.timestamp = ins.timestamp
                if not was:
                    events.append(BookStatus(ins.symbol, True, None))
                if self.deltas:
                    events.append(BookDelta(ins.symbol, book.bids_levels(), book.asks_levels(), True, ins.timestamp))
                if book is not last:
                    if book not in touched:
                        touched.append(book)
                    last = book
            elif kind is Truncate:
                assert isinstance(ins, Truncate)
                book = self.book(ins.symbol)
                depth = ins.depth
                if self.deltas and book.synchronised and (len(book.bids) > depth or len(book.asks) > depth):
                    # consumers applying deltas must drop the same levels
                    gone_bids: list[Level] = [(lv[0], "0") for lv in book.bids_levels()[depth:]]
                    gone_asks: list[Level] = [(lv[0], "0") for lv in book.asks_levels()[depth:]]
                    events.append(BookDelta(ins.symbol, gone_bids, gone_asks, False, book.timestamp))
                book.truncate(depth)
            elif kind is Desync:
                assert isinstance(ins, Desync)
                book = self.book(ins.symbol)
                was = book.synchronised
                book.clear(ins.reason)
                if was:
                    events.append(BookStatus(ins.symbol, False, ins.reason))
                if book is not last:
                    if book not in touched:
                        touched.append(book)
                    last = book
        for book in touched:
            bid, ask = book.bids.best(), book.asks.best()
            if bid != book.top_bid or ask != book.top_ask:
                book.top_bid, book.top_ask = bid, ask
                events.append(TopChange(book.symbol, bid, ask, book.timestamp))

    def _refuse(
        self,
        book: OrderBook,
        exc: Exception,
        events: list[MarketEvent],
        reports: list[Report],
        touched: list[OrderBook],
    ) -> None:
        reason = f"bad level from the venue: {type(exc).__name__} {exc}"
        if book not in touched:
            touched.append(book)  # its top is gone
        was = book.synchronised
        book.clear(reason)
        if was:
            events.append(BookStatus(book.symbol, False, reason))
        reports.append(BookFault(book.symbol, reason))

    def _verify(self, ins: Verify, mismatches: list[Report]) -> None:
        book = self.book(ins.symbol)
        if not book.synchronised or self._checksum is None:
            return
        actual = self._checksum(book, ins.symbol)
        if actual is None:
            return  # the scheme says this book cannot be compared now
        self.checksums_verified += 1
        if actual != ins.expected:
            self.checksum_failures += 1
            mismatches.append(ChecksumMismatch(ins.symbol, ins.expected, actual))
