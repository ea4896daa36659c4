"""What a venue dialect implements for the simulator.

The server owns sockets, order flow and reference books; a dialect only
turns simulator happenings into the venue's frames, so a new venue is one
small module. Every hook returns the frames (str) to send to that client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from level4.book.orderbook import OrderBook
from translations.protocol import Instrument, Level


@dataclass(slots=True)
class SimTrade:
    trade_id: int
    taker_side: str  # "buy" | "sell"
    price: str
    size: str
    timestamp: float


@dataclass(slots=True)
class SimMarket:
    """One simulated market, shared by every client connection."""

    instrument: Instrument
    book: OrderBook  # the reference book: what every client's book must equal
    update_id: int = 0  # bumped once per book change, for venues with sequence numbers
    trade_id: int = 0
    tick_size: str = "0.01"  # the order flow's price step, as the venue's instrument list gives it


@dataclass(slots=True)
class ClientSession:
    """Per-connection state; dialects keep their own extras in `extra`."""

    subscribed: set[str] = field(default_factory=set)  # venue symbols
    extra: dict[str, Any] = field(default_factory=dict)


Markets = Mapping[str, SimMarket]  # venue symbol -> market


class Dialect(Protocol):
    venue: str  # catalogue name, e.g. "COINBASE"
    heartbeat_interval: float | None  # seconds between heartbeat() calls

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        """A frame the client sent (parsed JSON, or str when not JSON):
        subscribe (acknowledge, then snapshots where the venue sends them),
        ping, unknown requests (the venue's error frame)."""

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        """Levels that changed (size "0" removes) in a subscribed market; the
        market's update_id has already been bumped for this change."""

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        """A trade in a subscribed market."""

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        """Periodic keep-alive frames (may be empty)."""

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        """Answer a REST request (venues with REST snapshots), or None: 404."""
