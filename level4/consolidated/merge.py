"""Merging venues' books into one ladder, exactly.

Levels of different venues are the same level when their prices are equal
as decimals ("100.5" and "100.50"); the price is written as the first venue
(by tag) wrote it. Totals are decimal sums, never floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import Any

# Enough digits that no sum of venue sizes is ever rounded.
PRECISION = 80

Side = Sequence[Sequence[Any]]  # best first, [price, size, ...] decimal strings


def plain(value: Decimal) -> str:
    return format(value, "f")  # never exponent notation


def merge_side(books: Sequence[tuple[str, Side]], depth: int | None, bids: bool) -> list[dict[str, Any]]:
    """The best `depth` merged levels of one side: price, total size and each
    venue's size. Each venue's best `depth` levels suffice."""
    levels: dict[Decimal, tuple[str, dict[str, str]]] = {}
    for tag, side in books:
        for lv in side[:depth] if depth is not None else side:
            price = Decimal(lv[0])
            entry = levels.get(price)
            if entry is None:
                entry = levels[price] = (lv[0], {})
            entry[1][tag] = lv[1]
    best = sorted(levels, reverse=bids)
    if depth is not None:
        best = best[:depth]
    out = []
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for price in best:
            text, venues = levels[price]
            total = sum((Decimal(size) for size in venues.values()), Decimal(0))
            out.append({"price": text, "size": plain(total), "venues": venues})
    return out


def crossings(tops: Sequence[tuple[str, Any, Any]]) -> list[dict[str, str]]:
    """Where one venue's best bid is at or above another's best ask.
    `tops`: (tag, best bid [price, ...] or None, best ask or None)."""
    found = []
    for bid_tag, bid, _ in tops:
        if bid is None:
            continue
        bid_price = Decimal(bid[0])
        for ask_tag, _, ask in tops:
            if ask is None or ask_tag == bid_tag:
                continue
            if bid_price >= Decimal(ask[0]):
                found.append({"bid_market": bid_tag, "bid": bid[0], "ask_market": ask_tag, "ask": ask[0]})
    return found


def consolidate(books: Sequence[tuple[str, dict[str, Any]]], depth: int | None) -> dict[str, Any]:
    """Books (tag, {"bids", "asks"}), all synchronised, into one ladder."""
    ordered = sorted(books, key=lambda item: item[0])
    bids = merge_side([(tag, book["bids"]) for tag, book in ordered], depth, bids=True)
    asks = merge_side([(tag, book["asks"]) for tag, book in ordered], depth, bids=False)
    tops = [
        (tag, book["bids"][0] if book["bids"] else None, book["asks"][0] if book["asks"] else None)
        for tag, book in ordered
    ]
    crossed = crossings(tops)
    return {
        "best_bid": bids[0] if bids else None,
        "best_ask": asks[0] if asks else None,
        "crossed": bool(crossed),
        "crossings": crossed,
        "bids": bids,
        "asks": asks,
    }
