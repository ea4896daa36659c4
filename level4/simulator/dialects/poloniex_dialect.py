"""Poloniex v3 public dialect: subscribe/unsubscribe events, ping/pong,
`book_lv2` and `trades`.

Like Poloniex, `book_lv2` shows a client the best 20 levels a side and
keeps exactly those current: a level pushed out of the top 20 is deleted
(size "0") and one that moves into it is sent, so a change beyond the top
20 produces no frame. Each frame's `lastId` is the `id` of the frame before
it for that symbol on this connection; `id` is the market's update id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

BOOK = "book_lv2"
TRADES = "trades"
DEPTH = 20


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def ms(now: float) -> int:
    return int(now * 1000)


@dataclass(slots=True)
class View:
    """What one client sees of one book: the best DEPTH levels a side."""

    last_id: int
    bids: dict[str, str] = field(default_factory=dict)  # price -> size, best first
    asks: dict[str, str] = field(default_factory=dict)


def _top(levels: list[Level]) -> dict[str, str]:
    return {lv[0]: lv[1] for lv in levels}


def _diff(old: dict[str, str], new: dict[str, str]) -> list[list[str]]:
    out = [[price, "0"] for price in old if price not in new]
    out.extend([price, size] for price, size in new.items() if old.get(price) != size)
    return out


class PoloniexDialect:
    venue = "POLONIEX"
    heartbeat_interval: float | None = None  # the client pings; the venue only answers

    @staticmethod
    def _views(session: ClientSession) -> dict[str, View]:
        views: dict[str, View] = session.extra.setdefault(BOOK, {})
        return views

    @staticmethod
    def _trades(session: ClientSession) -> set[str]:
        subs: set[str] = session.extra.setdefault(TRADES, set())
        return subs

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not isinstance(frame, dict):
            return [dumps({"event": "error", "message": "Invalid request"})]
        event = frame.get("event")
        if event == "ping":
            return [dumps({"event": "pong"})]
        if event not in ("subscribe", "unsubscribe"):
            return [dumps({"event": "error", "message": f"Unsupported event {event!r}"})]
        channels = frame.get("channel")
        symbols = frame.get("symbols")
        if not isinstance(channels, list) or not isinstance(symbols, list) or not channels or not symbols:
            return [dumps({"event": "error", "message": "channel and symbols are required"})]
        bad = [c for c in channels if c not in (BOOK, TRADES)]
        if bad:
            return [dumps({"event": "error", "message": f"Subscription failed, invalid channel: {bad[0]}"})]
        unknown = [s for s in symbols if s not in markets]
        if unknown:
            return [dumps({"event": "error", "message": f"Subscription failed, invalid symbol: {unknown[0]}"})]
        views, trades = self._views(session), self._trades(session)
        out: list[str] = []
        for channel in channels:
            out.append(dumps({"event": event, "channel": channel, "symbols": symbols}))
            if channel == TRADES:
                if event == "subscribe":
                    trades.update(symbols)
                else:
                    trades.difference_update(symbols)
                continue
            for symbol in symbols:
                if event == "unsubscribe":
                    views.pop(symbol, None)
                    continue
                market = markets[symbol]
                view = views[symbol] = View(
                    market.update_id, _top(market.book.bids_levels(DEPTH)), _top(market.book.asks_levels(DEPTH))
                )
                item = self._item(symbol, market.update_id - 1, view.last_id, view.bids.items(), view.asks.items(), now)
                out.append(dumps({"channel": BOOK, "data": [item], "action": "snapshot"}))
        session.subscribed = set(views) | trades
        return out

    @staticmethod
    def _item(symbol: str, last_id: int, new_id: int, bids: Any, asks: Any, now: float) -> dict[str, Any]:
        return {
            "symbol": symbol,
            "createTime": ms(now),
            "asks": [[p, s] for p, s in asks],
            "bids": [[p, s] for p, s in bids],
            "lastId": last_id,
            "id": new_id,
            "ts": ms(now) + 5,
        }

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        symbol = market.instrument.symbol
        view = self._views(session).get(symbol)
        if view is None:
            return []
        # The reference book already holds this change; what the client sees
        # is the difference between its old top 20 and the new one.
        new_bids = _top(market.book.bids_levels(DEPTH))
        new_asks = _top(market.book.asks_levels(DEPTH))
        bid_changes, ask_changes = _diff(view.bids, new_bids), _diff(view.asks, new_asks)
        view.bids, view.asks = new_bids, new_asks
        if not bid_changes and not ask_changes:
            return []  # the change lies beyond the top 20
        item = self._item(symbol, view.last_id, market.update_id, bid_changes, ask_changes, now)
        view.last_id = market.update_id
        return [dumps({"channel": BOOK, "data": [item], "action": "update"})]

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        symbol = market.instrument.symbol
        if symbol not in self._trades(session):
            return []
        row = {
            "symbol": symbol,
            "amount": str(Decimal(trade.price) * Decimal(trade.size)),
            "quantity": trade.size,
            "takerSide": trade.taker_side,
            "createTime": ms(trade.timestamp),
            "price": trade.price,
            "id": str(trade.trade_id),
            "ts": ms(trade.timestamp) + 5,
        }
        return [dumps({"channel": TRADES, "data": [row]})]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        return []

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None  # the websocket gives every snapshot


dialect = PoloniexDialect()
