"""Merging ladders exactly: same price in any spelling is one level, sizes
add as decimals, crossings are between venues."""

from __future__ import annotations

from level4.consolidated.merge import consolidate, crossings, merge_side


def test_same_price_in_any_spelling_is_one_level_with_exact_totals() -> None:
    books = [
        ("B.SPOT:BTC-USD", [["100.50", "0.2"], ["100.4", "1"]]),
        ("A.SPOT:BTC-USD", [["100.5", "0.1"], ["100.3", "0.00000001"]]),
    ]
    merged = merge_side(sorted(books), None, bids=True)
    assert merged == [
        # written as the first venue by tag wrote it; 0.1 + 0.2 is 0.3, not 0.30000000000000004
        {"price": "100.5", "size": "0.3", "venues": {"A.SPOT:BTC-USD": "0.1", "B.SPOT:BTC-USD": "0.2"}},
        {"price": "100.4", "size": "1", "venues": {"B.SPOT:BTC-USD": "1"}},
        {"price": "100.3", "size": "0.00000001", "venues": {"A.SPOT:BTC-USD": "0.00000001"}},  # never 1E-8
    ]


def test_depth_keeps_the_best_levels_of_each_side() -> None:
    asks = [("A", [["10", "1"], ["11", "1"], ["12", "1"]]), ("B", [["10.5", "2"], ["11", "2"]])]
    merged = merge_side(asks, 3, bids=False)
    assert [(lv["price"], lv["size"]) for lv in merged] == [("10", "1"), ("10.5", "2"), ("11", "3")]
    bids = [("A", [["9", "1"], ["8", "1"]]), ("B", [["9.5", "2"]])]
    assert [lv["price"] for lv in merge_side(bids, 2, bids=True)] == ["9.5", "9"]


def test_sums_beyond_the_default_decimal_precision_stay_exact() -> None:
    big = "12345678901234567890.123456789012345678"
    merged = merge_side([("A", [["1", big]]), ("B", [["1", big]])], None, bids=True)
    assert merged[0]["size"] == "24691357802469135780.246913578024691356"


def test_crossed_when_one_venues_bid_reaches_anothers_ask() -> None:
    tops = [("A", ["101", "1"], ["102", "1"]), ("B", ["99", "1"], ["101", "1"]), ("C", None, None)]
    assert crossings(tops) == [{"bid_market": "A", "bid": "101", "ask_market": "B", "ask": "101"}]
    assert crossings([("A", ["101", "1"], ["100", "1"])]) == []  # a venue against itself is not counted


def test_consolidate_names_the_best_levels_and_handles_nothing() -> None:
    body = consolidate(
        [("B", {"bids": [["100", "1"]], "asks": [["101", "1"]]}), ("A", {"bids": [["100", "2"]], "asks": []})], 5
    )
    assert body["best_bid"] == {"price": "100", "size": "3", "venues": {"A": "2", "B": "1"}}
    assert body["best_ask"] == {"price": "101", "size": "1", "venues": {"B": "1"}}
    assert body["crossed"] is False and body["crossings"] == []
    empty = consolidate([], 5)
    assert empty["bids"] == [] and empty["best_bid"] is None and empty["crossed"] is False
