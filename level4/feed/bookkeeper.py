"""Applies a scheme's book instructions to books: the orderbook's core.

Pure and synchronous, so the orderbook actor and `level4 replay` run the
very same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from level4.book.orderbook import OrderBook
from level4.feed.events import BookDelta, BookStatus, MarketEvent, TopChange
from translations.protocol import (
    ChecksumMismatch,
    Desync,
    Instruction,
    Snapshot,
    Trade,
    Truncate,
    Update,
    Verify,
)

ChecksumFn = Callable[[OrderBook, str], int | None]


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

    def apply(
        self, instructions: Sequence[Instruction], events: list[MarketEvent], mismatches: list[ChecksumMismatch]
    ) -> None:
        """Apply in order; append events and checksum mismatches found."""
        touched: dict[str, tuple[object, object, float | None]] = {}
        for ins in instructions:
            kind = type(ins)
            if kind is Update:
                assert isinstance(ins, Update)
                book = self.book(ins.symbol)
                if not book.synchronised:
                    continue  # nothing to update until a snapshot makes it whole
                if ins.symbol not in touched:
                    touched[ins.symbol] = (book.best_bid(), book.best_ask(), ins.timestamp)
                book.update(ins.bids, ins.asks)
                if ins.sequence is not None:
                    book.sequence = ins.sequence
                if ins.timestamp is not None:
                    book.timestamp = ins.timestamp
                if self.deltas:
                    events.append(BookDelta(ins.symbol, list(ins.bids), list(ins.asks), False, ins.timestamp))
            elif kind is Trade:
                assert isinstance(ins, Trade)
                events.append(ins)
            elif kind is Snapshot:
                assert isinstance(ins, Snapshot)
                book = self.book(ins.symbol)
                was = book.synchronised
                if ins.symbol not in touched:
                    touched[ins.symbol] = (book.best_bid(), book.best_ask(), ins.timestamp)
                book.replace(ins.bids, ins.asks)
                book.sequence = ins.sequence
                book.timestamp = ins.timestamp
                if not was:
                    events.append(BookStatus(ins.symbol, True, None))
                if self.deltas:
                    events.append(BookDelta(ins.symbol, book.bids_levels(), book.asks_levels(), True, ins.timestamp))
            elif kind is Verify:
                assert isinstance(ins, Verify)
                book = self.book(ins.symbol)
                if not book.synchronised or self._checksum is None:
                    continue
                actual = self._checksum(book, ins.symbol)
                if actual is None:
                    continue  # the scheme says this book cannot be compared now
                self.checksums_verified += 1
                if actual != ins.expected:
                    self.checksum_failures += 1
                    mismatches.append(ChecksumMismatch(ins.symbol, ins.expected, actual))
            elif kind is Truncate:
                assert isinstance(ins, Truncate)
                self.book(ins.symbol).truncate(ins.depth)
            elif kind is Desync:
                assert isinstance(ins, Desync)
                book = self.book(ins.symbol)
                if ins.symbol not in touched:
                    touched[ins.symbol] = (book.best_bid(), book.best_ask(), None)
                was = book.synchronised
                book.clear(ins.reason)
                if was:
                    events.append(BookStatus(ins.symbol, False, ins.reason))
        for symbol, (bid, ask, ts) in touched.items():
            book = self.books[symbol]
            new_bid, new_ask = book.best_bid(), book.best_ask()
            if new_bid != bid or new_ask != ask:
                events.append(TopChange(symbol, new_bid, new_ask, book.timestamp or ts))
