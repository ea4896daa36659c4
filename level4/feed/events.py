"""Normalised events a market produces, before they get a sequence number."""

from __future__ import annotations

from dataclasses import dataclass

from translations.protocol import Level, Trade


@dataclass(slots=True)
class TopChange:
    symbol: str
    bid: Level | None
    ask: Level | None
    timestamp: float | None


@dataclass(slots=True)
class BookStatus:
    """A book became synchronised (reason None) or lost sync (with reason)."""

    symbol: str
    synchronised: bool
    reason: str | None


@dataclass(slots=True)
class BookDelta:
    """Levels that changed in one step; snapshot=True means the book was
    replaced and these are all of its levels."""

    symbol: str
    bids: list[Level]
    asks: list[Level]
    snapshot: bool
    timestamp: float | None


MarketEvent = TopChange | BookStatus | BookDelta | Trade
