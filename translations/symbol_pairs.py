"""Splitting a venue symbol that runs base and quote together (`BTCUSDT`).

Nothing in such a symbol marks where the base ends, so the quote is the
first of the venue's known quote currencies that ends it and leaves a base
before it. Which quotes a venue knows, and in what order they are tried,
stay the venue's own rules; only the search is shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def longest_first(quotes: Iterable[str]) -> tuple[str, ...]:
    """Quotes ordered so that one is tried before any it ends with (USDT
    before USD, FDUSD before USD); equal lengths keep their order."""
    return tuple(sorted(quotes, key=len, reverse=True))


def split_quote(symbol: str, quotes: Sequence[str]) -> tuple[str, str] | None:
    """(base, quote) for the first of `quotes` that ends `symbol` with a
    non-empty base before it; None when none does."""
    for quote in quotes:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    return None
