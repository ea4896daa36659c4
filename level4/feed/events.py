"""Normalised events a market produces, before they get a sequence number."""

from __future__ import annotations

from dataclasses import dataclass

from translations.protocol import Level, Trade


# Made for every batch: an explicit __init__ compiles to native code (translations.protocol).
@dataclass(slots=True, init=False)
class TopChange:
    symbol: str
    bid: Level | None
    ask: Level | None
    timestamp: float | None

    def __init__(self, symbol: str, bid: Level | None, ask: Level | None, timestamp: float | None) -> None:
        self.symbol = symbol
        self.bid = bid
        self.ask = ask
        self.timestamp = timestamp


@dataclass(slots=True)
class BookStatus:
    """A book became synchronised (reason None) or lost sync (with reason)."""

    symbol: str
    synchronised: bool
    reason: str | None


@dataclass(slots=True, init=False)
class BookDelta:
    """Levels that changed in one step; snapshot=True means the book was
    replaced and these are all of its levels."""

    symbol: str
    bids: list[Level]
    asks: list[Level]
    snapshot: bool
    timestamp: float | None

    def __init__(
        self, symbol: str, bids: list[Level], asks: list[Level], snapshot: bool, timestamp: float | None
    ) -> None:
        self.symbol = symbol
        self.bids = bids
        self.asks = asks
        self.snapshot = snapshot
        self.timestamp = timestamp


MarketEvent = TopChange | BookStatus | BookDelta | Trade
