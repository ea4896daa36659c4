"""The exchange actor: the market's voice downstream.

Numbers every event with a per-market sequence (no gaps, so a consumer can
see one it missed), stamps venue and receipt time, remembers the current
top of book and recent trades, and publishes to the event hub.
"""

from __future__ import annotations

import time
from collections import deque
from decimal import Decimal
from typing import Any

from level4.feed.events import BookDelta, BookStatus, TopChange
from level4.market.base import MarketActor
from level4.market.context import MarketContext
from level4.market.messages import Crash, Events
from translations.protocol import Trade


def _level(lv: Any) -> list[str] | None:
    return None if lv is None else [lv[0], lv[1]]


class ExchangeActor(MarketActor):
    role = "exchange"

    def __init__(self, ctx: MarketContext, **supervision: Any) -> None:
        super().__init__(ctx, **supervision)
        self.sequence = 0
        self.top: dict[str, Any] | None = None
        self.trades: deque[dict[str, Any]] = deque(maxlen=1000)

    def on_start(self) -> None:
        self._publish("status", {"status": "started", "reason": None}, None, time.time())

    def on_stop(self) -> None:
        self._publish("status", {"status": "stopped", "reason": None}, None, time.time())

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Events:
            self._events(message)
        elif kind is Crash:
            raise RuntimeError(message.detail)
        elif message == "top":
            return self.top
        elif message == "trades":
            return list(self.trades)
        return None

    def _publish(self, channel: str, payload: dict[str, Any], venue_time: float | None, received_at: float) -> None:
        self.sequence += 1
        event = {
            "channel": channel,
            "market_id": self.ctx.market_id,
            "market": self.ctx.tag,
            "sequence": self.sequence,
            "venue_time": venue_time,
            "received_at": received_at,
        }
        event.update(payload)
        self.ctx.hub.publish(event)

    def _events(self, message: Events) -> None:
        received = message.received_at or time.time()
        for ev in message.items:
            kind = type(ev)
            if kind is TopChange:
                assert isinstance(ev, TopChange)
                payload = top_payload(ev)
                self.top = payload
                self._publish("top", payload, ev.timestamp, received)
            elif kind is Trade:
                assert isinstance(ev, Trade)
                trade = {
                    "side": ev.side,
                    "price": ev.price,
                    "size": ev.size,
                    "trade_id": ev.trade_id,
                }
                self.trades.append({**trade, "venue_time": ev.timestamp})
                self._publish("trade", trade, ev.timestamp, received)
            elif kind is BookStatus:
                assert isinstance(ev, BookStatus)
                status = "synchronised" if ev.synchronised else "desynchronised"
                self._publish("status", {"status": status, "reason": ev.reason}, None, received)
            elif kind is BookDelta:
                assert isinstance(ev, BookDelta)
                payload = {
                    "snapshot": ev.snapshot,
                    "bids": [[lv[0], lv[1]] for lv in ev.bids],
                    "asks": [[lv[0], lv[1]] for lv in ev.asks],
                }
                self._publish("book", payload, ev.timestamp, received)


def top_payload(ev: TopChange) -> dict[str, Any]:
    """Best bid/ask with spread and mid, computed exactly on decimal strings."""
    payload: dict[str, Any] = {"bid": _level(ev.bid), "ask": _level(ev.ask), "spread": None, "mid": None}
    if ev.bid is not None and ev.ask is not None:
        bid, ask = Decimal(ev.bid[0]), Decimal(ev.ask[0])
        payload["spread"] = str(ask - bid)
        payload["mid"] = str((ask + bid) / 2)
    return payload
