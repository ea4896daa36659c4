"""Book deltas rebuild the book: a consumer applying every BookDelta the
BookKeeper emits holds the keeper's book, levels truncated away included."""

from __future__ import annotations

from level4.feed.bookkeeper import BookKeeper
from level4.feed.events import BookDelta, MarketEvent
from level4.market.levels import render
from tests.stream.consumer import LocalBook
from translations.protocol import Snapshot, Truncate, Update


def apply(book: LocalBook, events: list[MarketEvent]) -> None:
    for ev in events:
        if isinstance(ev, BookDelta):
            book.apply(
                {"snapshot": ev.snapshot, "synchronised": True, "bids": render(ev.bids), "asks": render(ev.asks)}
            )


def test_snapshot_updates_and_truncation() -> None:
    keeper = BookKeeper(["X"], deltas=True)
    mine = LocalBook()
    events: list[MarketEvent] = []
    bids = [(f"{100 - i}", "1") for i in range(5)]
    asks = [(f"{101 + i}", "1") for i in range(5)]
    keeper.apply([Snapshot("X", bids, asks), Truncate("X", 3)], events, [])
    apply(mine, events)
    events.clear()
    keeper.apply([Update("X", [("100.5", "2"), ("99", "0")], [("100.75", "3")]), Truncate("X", 3)], events, [])
    apply(mine, events)
    book = keeper.books["X"]
    assert mine.as_dict()["bids"] == render(book.bids_levels()) == [["100.5", "2"], ["100", "1"], ["98", "1"]]
    assert mine.as_dict()["asks"] == render(book.asks_levels()) == [["100.75", "3"], ["101", "1"], ["102", "1"]]


def test_without_deltas_nothing_is_emitted_for_the_book() -> None:
    keeper = BookKeeper(["X"])
    events: list[MarketEvent] = []
    keeper.apply([Snapshot("X", [("1", "1"), ("0.5", "1")], []), Truncate("X", 1)], events, [])
    assert not any(isinstance(ev, BookDelta) for ev in events)
