"""Messages between a market's actors (told, never asked, on the hot path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from level4.feed.events import MarketEvent
from level4.net.feed import Batch
from translations.protocol import ChecksumMismatch, Instruction, RestAnswer


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
    items: list[ChecksumMismatch]


# orderbook -> exchange
@dataclass(slots=True)
class Events:
    items: list[MarketEvent]
    received_at: float


# queries (asked)
@dataclass(slots=True)
class BookQuery:
    depth: int | None


@dataclass(slots=True)
class Crash:
    """Test hook: makes the receiving actor raise, as a bug would."""

    detail: str = "crash requested"


Message = Any
