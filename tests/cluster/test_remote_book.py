"""A copy of another node's book from its events: levels as published, sizes of every
written form of zero removing, books read in price order."""

from __future__ import annotations

from typing import Any

from level4.cluster.remote_book import RemoteBook


def _event(sequence: int, bids: list[list[str]], asks: list[list[str]], snapshot: bool = False) -> dict[str, Any]:
    return {
        "channel": "book", "market_id": 1, "market": "COINBASE.SPOT:BTC-USD", "sequence": sequence, "epoch": 1,
        "snapshot": snapshot, "synchronised": True, "bids": bids, "asks": asks, "venue_time": None, "reason": None,
    }  # fmt: skip


def test_sizes_of_zero_in_any_form_remove_and_prices_are_matched_by_value() -> None:
    book = RemoteBook(1, "")
    bids = [["100", "1"], ["99.5", "2"], ["99", "3"], ["98", "4"], ["97", "5"], ["101", "0.5"]]
    assert book.apply(_event(1, bids, [["102", "1"], ["103.25", "2"]], snapshot=True))
    removals = [["100.0", "0"], ["99.50", "0.000"], ["99", "0E-8"], ["98", ".0"], ["96", "1e-3"]]
    assert book.apply(_event(2, removals, [["102", "1.5"]]))
    assert book.book(None) == {
        "market": "COINBASE.SPOT:BTC-USD", "synchronised": True, "reason": None,
        "bids": [["101", "0.5"], ["97", "5"], ["96", "1e-3"]], "asks": [["102", "1.5"], ["103.25", "2"]],
    }  # fmt: skip
    assert book.book(1)["bids"] == [["101", "0.5"]]


def test_an_unreadable_level_empties_the_copy_until_a_snapshot() -> None:
    book = RemoteBook(1, "")
    book.apply(_event(1, [["100", "1"]], [["101", "1"]], snapshot=True))
    for sequence, bad in enumerate((["100", "1..0"], ["100", ""], ["x", "1"], ["100"]), start=2):
        book.apply(_event(sequence, [bad], []))
        assert not book.synchronised and book.book(None)["bids"] == [] and "unreadable level" in str(book.reason)
        book.take_resync(_event(sequence, [["100", "1"]], [["101", "1"]], snapshot=True))
        assert book.synchronised
