"""Bitstamp websocket v2 dialect: bts:subscribe per channel,
`diff_order_book_<pair>` diffs and `live_trades_<pair>` trades stamped with
microtimestamps, bts:heartbeat answers, and the REST order book.

Clients join the REST snapshot to the diffs by microtimestamp alone, so
each market keeps one clock: every book change gets a stamp later than the
one before (the same stamp for every client), and a snapshot carries the
stamp of the last change it holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

BOOK = "diff_order_book_"
TRADES = "live_trades_"


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def error(message: str) -> str:
    return dumps({"event": "bts:error", "channel": "", "data": {"code": None, "message": message}})


class BitstampDialect:
    venue = "BITSTAMP"
    heartbeat_interval: float | None = None  # the client asks with bts:heartbeat

    def __init__(self) -> None:
        # venue symbol -> (update id, microtimestamp of that book state)
        self._stamps: dict[str, tuple[int, int]] = {}

    def stamp(self, market: SimMarket, now: float) -> int:
        """The microtimestamp of the market's current book state."""
        symbol = market.instrument.symbol
        known = self._stamps.get(symbol)
        if known is not None and known[0] == market.update_id:
            return known[1]
        mts = int(now * 1_000_000)
        if known is not None and mts <= known[1]:
            mts = known[1] + 1  # strictly later than the state before, whatever the clock says
        self._stamps[symbol] = (market.update_id, mts)
        return mts

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not isinstance(frame, dict):
            return [error("Incorrect JSON format.")]
        event = frame.get("event")
        if event == "bts:heartbeat":
            return [dumps({"event": "bts:heartbeat", "channel": "", "data": {"status": "success"}})]
        if event not in ("bts:subscribe", "bts:unsubscribe"):
            return [error("Bad subscription string.")]
        data = frame.get("data")
        channel = data.get("channel") if isinstance(data, dict) else None
        if not isinstance(channel, str):
            return [error("Bad subscription string.")]
        prefix = BOOK if channel.startswith(BOOK) else TRADES if channel.startswith(TRADES) else None
        if prefix is None or channel[len(prefix) :] not in markets:
            return [error("Bad subscription string.")]
        channels: set[str] = session.extra.setdefault("channels", set())
        if event == "bts:subscribe":
            channels.add(channel)
            reply = "bts:subscription_succeeded"
        else:
            channels.discard(channel)
            reply = "bts:unsubscription_succeeded"
        session.subscribed.clear()
        session.subscribed.update(c.removeprefix(BOOK).removeprefix(TRADES) for c in channels)
        return [dumps({"event": reply, "channel": channel, "data": {}})]

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        channel = BOOK + market.instrument.symbol
        if channel not in session.extra.get("channels", ()):
            return []
        mts = self.stamp(market, now)
        data = {
            "timestamp": str(mts // 1_000_000),
            "microtimestamp": str(mts),
            "bids": [[lv[0], lv[1]] for lv in bids],
            "asks": [[lv[0], lv[1]] for lv in asks],
        }
        return [dumps({"data": data, "channel": channel, "event": "data"})]

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        channel = TRADES + market.instrument.symbol
        if channel not in session.extra.get("channels", ()):
            return []
        mts = int(trade.timestamp * 1_000_000)
        # Order ids are not modelled; the taker's is the newer one, as on the venue.
        maker, taker = 2 * trade.trade_id, 2 * trade.trade_id + 1
        buy, sell = (taker, maker) if trade.taker_side == "buy" else (maker, taker)
        data = {
            "id": trade.trade_id,
            "timestamp": str(mts // 1_000_000),
            "amount": float(trade.size),
            "amount_str": trade.size,
            "price": float(trade.price),
            "price_str": trade.price,
            "type": 0 if trade.taker_side == "buy" else 1,
            "microtimestamp": str(mts),
            "buy_order_id": buy,
            "sell_order_id": sell,
        }
        return [dumps({"data": data, "channel": channel, "event": "trade"})]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        return []

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        head, _, pair = path.rstrip("/").rpartition("/")
        if head != "/api/v2/order_book":
            return None
        market = markets.get(pair)
        if market is None:
            return 404, {"status": "error", "reason": "Invalid currency pair.", "code": "API0001"}
        mts = self.stamp(market, now)
        book = market.book
        return 200, {
            "timestamp": str(mts // 1_000_000),
            "microtimestamp": str(mts),
            "bids": [[lv[0], lv[1]] for lv in book.bids_levels()],
            "asks": [[lv[0], lv[1]] for lv in book.asks_levels()],
        }


dialect = BitstampDialect()
