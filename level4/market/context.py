"""What every actor of one market's tree shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from level4.market.hub import EventHub
from level4.market.publisher import MarketPublisher
from level4.market.recorder import FeedRecorder
from level4.market.registry import Registry
from level4.market.status_board import StatusBoard
from translations.protocol import Instrument, Scheme


@dataclass
class MarketContext:
    market: dict[str, Any]  # the catalogue's market dict
    scheme: Scheme
    instrument: Instrument
    registry: Registry
    board: StatusBoard
    hub: EventHub
    ws_url: str
    rest_url: str
    log: Any = field(default=None)
    publisher: MarketPublisher | None = None  # kept by the caller across runs of the market
    journal: FeedRecorder | None = None  # records what the connection hands the mediator
    shared: bool = False  # subscribed on a connection of its venue's pool, not on one of its own
    shared_cap: int | None = None  # markets a shared connection carries at most (None: the venue's cap)
    # Read from `market` once: every frame's hops between the actors look the id up.
    market_id: int = field(init=False)
    tag: str = field(init=False)

    def __post_init__(self) -> None:
        self.market_id = int(self.market["id"])
        self.tag = str(self.market["tag"])
        if self.log is None:
            self.log = structlog.get_logger("level4.market").bind(market=self.tag)
        if self.publisher is None:
            self.publisher = MarketPublisher(self.market_id, self.tag, self.hub)
