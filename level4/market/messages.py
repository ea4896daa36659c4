"""Messages between a market's actors (told, never asked, on the hot path)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from level4.feed.bookkeeper import Report
from level4.feed.events import MarketEvent
from level4.net.venue_connection import Batch
from translations.protocol import Instruction, Level, RestAnswer


# websocket -> mediator
@dataclass(slots=True)
class Connected:
    generation: int


@dataclass(slots=True)
class Frames:
    generation: int
    batch: Batch


@dataclass(slots=True)
class Disconnected:
    generation: int
    reason: str


@dataclass(slots=True)
class RestReply:
    answer: RestAnswer


@dataclass(slots=True)
class PingDue:
    generation: int


# mediator -> websocket
@dataclass(slots=True)
class SendFrames:
    generation: int
    frames: list[str | bytes]


@dataclass(slots=True)
class DoReconnect:
    reason: str


@dataclass(slots=True)
class DoFetch:
    symbol: str
    path: str


# mediator -> orderbook
@dataclass(slots=True)
class ApplyBatch:
    instructions: list[Instruction]
    received_at: float


# orderbook -> mediator
@dataclass(slots=True)
class Mismatches:
    items: list[Report]


# orderbook -> exchange
@dataclass(slots=True)
class Events:
    items: list[MarketEvent]
    received_at: float


# mediator -> orderbook -> exchange: connection states that are events too (through the
# orderbook, so they follow the events of the frames received before them)
@dataclass(slots=True)
class StatusNotice:
    status: str  # "reconnecting"
    reason: str | None
    at: float


# orderbook -> exchange: the book a new orderbook replaced is gone
@dataclass(slots=True)
class BookGone:
    reason: str


# a consumer's book snapshot: asked of the orderbook, which hands its book to
# the exchange behind the events already sent, so the snapshot is numbered in
# line with them; the exchange calls `deliver` with it
Deliver = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class SnapshotRequest:
    deliver: Deliver


@dataclass(slots=True)
class BookState:
    bids: list[Level]
    asks: list[Level]
    synchronised: bool
    reason: str | None
    timestamp: float | None
    deliver: Deliver


# queries (asked)
@dataclass(slots=True)
class BookQuery:
    depth: int | None


@dataclass(slots=True)
class Crash:
    """Test hook: makes the receiving actor raise, as a bug would."""

    detail: str = "crash requested"


Message = Any
