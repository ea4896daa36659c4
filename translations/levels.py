"""Shape checks for level lists passed to the book as the venue sent them.

Passing a venue's own lists through saves a copy per level. The book reads
`[0]` and `[1]` of each as numbers and refuses a side whose levels are not
(the BookKeeper clears the book and the connection is renewed); what it
cannot tell is a level that carries more than the venue's format allows.
"""

from __future__ import annotations

from typing import Any


def price_size_pairs(raw: Any) -> list[Any]:
    """Levels that are exactly [price, size] lists (HitBTC api/3, Poloniex)."""
    if type(raw) is not list:
        raise TypeError("levels are not a list")
    for lv in raw:
        if type(lv) is not list or len(lv) != 2:
            raise ValueError(f"bad level {lv!r}")
    return raw
