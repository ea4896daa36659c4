"""One side of an order book in Python: the twin of the C ladder (_ladder.c).

Both keep a side's levels by rank, best last: a bid's rank is its price, an
ask's the negated price, so that on both sides a greater rank is a better
level. Levels are keyed by the float value of their price, which orders
them and makes "1.50" and "1.5" the same level; the venue's own price and
size objects are kept, so nothing is ever rounded. Floats represent every
decimal of up to 15 significant digits distinctly, which covers every
price a venue quotes.

Here a side is a dict (rank -> level) beside a plain ascending list of its
ranks, searched and changed with the C `bisect` functions. The C twin is a
single sorted array and is what a compiled install runs; this one is what
an install without a C compiler runs, and what the C one is tested against.
A level comes back as `(price, size)`, or `(price, size, count)` where the
scheme built it as such a tuple.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from math import isfinite
from typing import Any

from translations.protocol import Level

Stored = Level  # always a tuple here: (price, size) or (price, size, count)


def _parsed(levels: Iterable[Any], sign: float) -> list[tuple[float, bool, Stored]]:
    """Every level read before any is applied: a bad one changes nothing.
    A venue's own list may carry anything after its size; a tuple's third
    item is the order count its scheme built it with."""
    out: list[tuple[float, bool, Stored]] = []
    for lv in levels:
        kind = type(lv)
        if kind is not list and kind is not tuple:
            # not even "12", which as a sequence would read as price 1, size 2
            raise TypeError(f"a level is a list or a tuple, not {kind.__name__}")
        if len(lv) < 2:
            raise ValueError(f"a level needs a price and a size: {lv!r}")
        price, size = lv[0], lv[1]
        stored: Stored = (price, size, lv[2]) if kind is tuple and len(lv) > 2 else (price, size)
        value, amount = float(price), float(size)
        # a NaN would break the order of the ranks; no venue quotes an infinite or negative size
        if not (isfinite(value) and isfinite(amount) and amount >= 0.0):
            raise ValueError(f"not a price and a size: {lv!r}")
        out.append((sign * value, amount == 0.0, stored))
    return out


class Ladder:
    __slots__ = ("ranks", "side", "sign")

    def __init__(self, sign: float) -> None:
        if sign not in (1.0, -1.0):
            raise ValueError("sign must be 1.0 (bids) or -1.0 (asks)")
        self.sign = sign
        self.side: dict[float, Stored] = {}
        self.ranks: list[float] = []  # ascending, best last

    def __len__(self) -> int:
        return len(self.ranks)

    def replace(self, levels: Iterable[Any]) -> None:
        """Hold exactly these levels; zero sizes are skipped, the last of two equal prices kept."""
        parsed = _parsed(levels, self.sign)
        self.side = {rank: stored for rank, zero, stored in parsed if not zero}
        self.ranks = sorted(self.side)

    def apply(self, levels: Sequence[Any]) -> None:
        """Set these levels; a zero size removes the level."""
        side, ranks = self.side, self.ranks
        for rank, zero, stored in _parsed(levels, self.sign):
            if zero:
                if side.pop(rank, None) is not None:
                    del ranks[bisect_left(ranks, rank)]
            else:
                if rank not in side:
                    insort(ranks, rank)
                side[rank] = stored

    def best(self) -> Stored | None:
        ranks = self.ranks
        return self.side[ranks[-1]] if ranks else None

    def best_rank(self) -> float | None:
        ranks = self.ranks
        return ranks[-1] if ranks else None

    def levels(self, depth: int | None = None) -> list[Stored]:
        ranks = self.ranks
        if depth is not None:
            ranks = ranks[-depth:] if depth > 0 else []
        side = self.side
        return [side[rank] for rank in reversed(ranks)]

    def truncate(self, depth: int) -> None:
        extra = len(self.ranks) - max(depth, 0)
        if extra > 0:
            for rank in self.ranks[:extra]:
                del self.side[rank]
            del self.ranks[:extra]

    def clear(self) -> None:
        self.side = {}
        self.ranks = []


def _digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def checksum_text(
    first: Ladder, second: Ladder, depth: int, interleave: bool = False, sep: str = "", digits: bool = False
) -> bytes:
    """The text a venue's book checksum is computed over: the best `depth`
    levels of `first` then of `second` (or, with `interleave`, one of each in
    turn), each as price `sep` size, all joined by `sep`; with `digits` each
    number keeps only its digits, without leading zeros."""
    a, z = first.levels(depth), second.levels(depth)
    order = [lv for i in range(max(len(a), len(z))) for lv in (a[i : i + 1] + z[i : i + 1])] if interleave else a + z
    parts: list[str] = []
    for lv in order:
        price, size = str(lv[0]), str(lv[1])
        if digits:
            price, size = _digits(price), _digits(size)
        parts.append(price)
        parts.append(size)
    return sep.join(parts).encode()
