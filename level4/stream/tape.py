"""What the query endpoints answer from: every market's last top of book,
recent trades and candles, kept from the published events.

A hub consumer for the life of the process, so restarts of a market's tree
lose none of it. It runs in the publishing exchange actor's thread; the
API reads from its own threads, hence a lock per market.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from level4.stream.candles import Candles

TRADES_KEPT = 1000
NOT_GOOD = {"started", "desynchronised", "stopped", "failed"}


@dataclass
class _Market:
    tag: str
    top: dict[str, Any] | None = None
    synchronised: bool = False
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=TRADES_KEPT))
    candles: Candles = field(default_factory=Candles)
    lock: threading.Lock = field(default_factory=threading.Lock)


class MarketTape:
    def __init__(self) -> None:
        self._markets: dict[int, _Market] = {}
        self._lock = threading.Lock()

    def _market(self, market_id: int, tag: str) -> _Market:
        market = self._markets.get(market_id)
        if market is None:
            with self._lock:
                market = self._markets.setdefault(market_id, _Market(tag))
        return market

    def consume(self, event: dict[str, Any]) -> None:
        channel = event["channel"]
        if channel == "book":
            return  # the most frequent event, and nothing here needs it
        market = self._market(event["market_id"], event["market"])
        if channel == "top":
            with market.lock:
                market.top = event
        elif channel == "trade":
            trade = {
                "sequence": event["sequence"],
                "trade_id": event["trade_id"],
                "side": event["side"],
                "price": event["price"],
                "size": event["size"],
                "venue_time": event["venue_time"],
                "received_at": event["received_at"],
            }
            at = event["venue_time"] or event["received_at"]
            with market.lock:
                market.trades.append(trade)
                market.candles.add(at, event["price"], event["size"])
        elif channel == "status":
            status = event["status"]
            with market.lock:
                if status == "synchronised":
                    market.synchronised = True
                elif status in NOT_GOOD:
                    market.synchronised = False
                    if status != "desynchronised":
                        market.top = None  # a desync is followed by its own (empty) top

    # --- queries (any thread) ------------------------------------------------------

    def top(self, market_id: int, tag: str) -> dict[str, Any]:
        market = self._markets.get(market_id)
        top: dict[str, Any] | None = None
        synchronised = False
        if market is not None:
            with market.lock:
                top, synchronised = market.top, market.synchronised
        body: dict[str, Any] = {"market": tag, "synchronised": synchronised}
        for key in ("bid", "ask", "spread", "mid", "sequence", "venue_time", "received_at"):
            body[key] = top[key] if top is not None else None
        return body

    def trades(self, market_id: int, limit: int) -> list[dict[str, Any]]:
        """The most recent first."""
        market = self._markets.get(market_id)
        if market is None:
            return []
        with market.lock:
            recent = list(market.trades)[-limit:]
        recent.reverse()
        return recent

    def candles(self, market_id: int, interval: str, limit: int | None) -> list[dict[str, Any]]:
        market = self._markets.get(market_id)
        if market is None:
            return []
        with market.lock:
            return market.candles.get(interval, limit)
