"""HitBTC api/3 public dialect: subscribe/unsubscribe results, `orderbook/full`
snapshot then updates carrying the symbol's sequence `s`, `trades` updates
with the taker's side, JSON-RPC style errors. The venue sends no heartbeat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

BOOK = "orderbook/full"
TRADES = "trades"
CHANNELS = (BOOK, TRADES)


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def ms(now: float) -> int:
    return int(now * 1000)


def error(code: int, message: str, description: str, request_id: Any) -> str:
    return dumps({"error": {"code": code, "message": message, "description": description}, "id": request_id})


class HitbtcDialect:
    venue = "HITBTC"
    heartbeat_interval: float | None = None

    @staticmethod
    def _subs(session: ClientSession, ch: str) -> set[str]:
        subs: set[str] = session.extra.setdefault(ch, set())
        return subs

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not isinstance(frame, dict):
            return [error(-32700, "Parse error", "the request is not a JSON object", None)]
        request_id = frame.get("id")
        method = frame.get("method")
        if method not in ("subscribe", "unsubscribe"):
            return [error(-32601, "Method not found", f"unknown method {method!r}", request_id)]
        ch = frame.get("ch")
        if ch not in CHANNELS:
            return [error(2002, "Channel not found", f"unknown channel {ch!r}", request_id)]
        params = frame.get("params")
        symbols = params.get("symbols") if isinstance(params, dict) else None
        if not isinstance(symbols, list) or not symbols:
            return [error(10001, "Validation error", "params.symbols is required", request_id)]
        unknown = [s for s in symbols if s not in markets]
        if unknown:
            return [error(2001, "Symbol not found", f"unknown symbol {unknown[0]}", request_id)]
        subs = self._subs(session, ch)
        fresh = [s for s in symbols if s not in subs]
        if method == "subscribe":
            subs.update(symbols)
        else:
            subs.difference_update(symbols)
        session.subscribed = self._subs(session, BOOK) | self._subs(session, TRADES)
        out = [dumps({"result": {"ch": ch, "subscriptions": sorted(subs)}, "id": request_id})]
        if method == "subscribe" and ch == BOOK:
            for symbol in fresh:
                market = markets[symbol]
                book = market.book
                data = {
                    "t": ms(now),
                    "s": market.update_id,
                    "a": [[lv[0], lv[1]] for lv in book.asks_levels()],
                    "b": [[lv[0], lv[1]] for lv in book.bids_levels()],
                }
                out.append(dumps({"ch": BOOK, "snapshot": {symbol: data}}))
        return out

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        symbol = market.instrument.symbol
        if symbol not in self._subs(session, BOOK):
            return []
        data = {
            "t": ms(now),
            "s": market.update_id,
            "a": [[lv[0], lv[1]] for lv in asks],
            "b": [[lv[0], lv[1]] for lv in bids],
        }
        return [dumps({"ch": BOOK, "update": {symbol: data}})]

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        symbol = market.instrument.symbol
        if symbol not in self._subs(session, TRADES):
            return []
        row = {"t": ms(trade.timestamp), "i": trade.trade_id, "p": trade.price, "q": trade.size, "s": trade.taker_side}
        return [dumps({"ch": TRADES, "update": {symbol: [row]}})]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        return []

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None  # the websocket gives every snapshot


dialect = HitbtcDialect()
