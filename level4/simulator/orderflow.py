"""Synthetic order flow around a drifting mid: limit adds, cancels and
market orders that take liquidity, applied to a reference book.

Prices live on an integer tick grid and are rendered as exact decimal
strings, so the reference book is as exact as any venue's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from level4.simulator.dialects.dialect_base import SimMarket, SimTrade


@dataclass(slots=True)
class Step:
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    trade: SimTrade | None


class OrderFlow:
    def __init__(self, market: SimMarket, seed: int, mid_ticks: int = 5_000_000, tick_decimals: int = 2) -> None:
        self.market = market
        self.rng = random.Random(seed)
        self.decimals = tick_decimals
        self.size_decimals = 8
        self.mid = mid_ticks  # in ticks
        self.levels = 20
        market.tick_size = self.price(1)

    def price(self, ticks: int) -> str:
        text = str(ticks).rjust(self.decimals + 1, "0")
        return f"{text[: -self.decimals]}.{text[-self.decimals :]}" if self.decimals else text

    def size(self, units: int) -> str:
        text = str(units).rjust(self.size_decimals + 1, "0")
        return f"{text[: -self.size_decimals]}.{text[-self.size_decimals :]}"

    def _size_units(self) -> int:
        return self.rng.randint(1, 500) * 1_000_000  # 0.01 .. 5.00

    def seed_book(self) -> None:
        """A full book to start from, a few ticks either side of mid."""
        book = self.market.book
        bids = [(self.price(self.mid - i), self.size(self._size_units())) for i in range(1, self.levels + 1)]
        asks = [(self.price(self.mid + i), self.size(self._size_units())) for i in range(1, self.levels + 1)]
        book.replace(bids, asks)

    def step(self, now: float) -> Step:
        """One happening: an add/resize, a cancel, or a market order."""
        book = self.market.book
        roll = self.rng.random()
        if roll < 0.1 and book.bids and book.asks:
            return self._market_order(now)
        side_is_bid = self.rng.random() < 0.5
        side = book.bids if side_is_bid else book.asks
        if roll < 0.35 and len(side) > self.levels:
            # cancel a whole level somewhere in the book (by rank from the best)
            level = (book.bids_levels() if side_is_bid else book.asks_levels())[self.rng.randrange(len(side))]
            change = (level[0], "0")
        else:
            best = self._best_ticks(side_is_bid)
            offset = self.rng.randint(0, self.levels)
            ticks = best - offset if side_is_bid else best + offset
            change = (self.price(max(ticks, 1)), self.size(self._size_units()))
        bids = [change] if side_is_bid else []
        asks = [] if side_is_bid else [change]
        book.update(bids, asks)
        self.market.update_id += 1
        return Step(bids, asks, None)

    def _best_ticks(self, bid: bool) -> int:
        book = self.market.book
        other = book.best_ask() if bid else book.best_bid()
        own = book.best_bid() if bid else book.best_ask()
        ticks = int(own[0].replace(".", "")) if own is not None else (self.mid - 1 if bid else self.mid + 1)
        if other is not None:
            other_ticks = int(other[0].replace(".", ""))
            # never cross the book: keep at least one tick inside the other side
            ticks = min(ticks, other_ticks - 1) if bid else max(ticks, other_ticks + 1)
        return ticks

    def _market_order(self, now: float) -> Step:
        book = self.market.book
        taker_buys = self.rng.random() < 0.5
        best = book.best_ask() if taker_buys else book.best_bid()
        assert best is not None
        price, size = best[0], best[1]
        units = int(size.replace(".", ""))
        take = min(units, self._size_units())
        left = units - take
        change = (price, self.size(left) if left else "0")
        bids, asks = ([], [change]) if taker_buys else ([change], [])
        book.update(bids, asks)
        self.market.update_id += 1
        self.market.trade_id += 1
        trade = SimTrade(self.market.trade_id, "buy" if taker_buys else "sell", price, self.size(take), now)
        return Step(bids, asks, trade)
