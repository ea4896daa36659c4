"""Shape checks for level lists passed to the book as the venue sent them.

Passing a venue's own lists through saves a copy per level, but a bad level
must then fail in the scheme, where it costs a Malformed and a resync, and
never in the book. Which check a venue needs depends on what its levels
carry, so there are two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def price_size_pairs(raw: Any) -> list[Any]:
    """Levels that are exactly [price, size] lists (HitBTC api/3, Poloniex)."""
    if type(raw) is not list:
        raise TypeError("levels are not a list")
    for lv in raw:
        if type(lv) is not list or len(lv) != 2:
            raise ValueError(f"bad level {lv!r}")
    return raw


def numeric_levels(levels: Any) -> Sequence[Any]:
    """Levels whose first two entries are numbers, whatever follows them
    (Kraken adds a timestamp, OKX order counts)."""
    for lv in levels:
        float(lv[0])
        float(lv[1])
    return levels  # type: ignore[no-any-return]
