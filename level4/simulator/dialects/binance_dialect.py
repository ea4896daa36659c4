"""Binance spot stream dialect: SUBSCRIBE / LIST_SUBSCRIPTIONS requests,
combined-stream `depthUpdate` diffs numbered by the market's update id,
`trade` and `aggTrade` events, and the REST depth snapshot.

Every book change is one update id, so each diff covers `U == u`; the REST
snapshot's `lastUpdateId` is the id of the last change it contains, which
is what lets a client join the two exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
DEFAULT_LIMIT = 100
MAX_LIMIT = 5000


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def error(code: int, msg: str, request_id: Any) -> str:
    return dumps({"error": {"code": code, "msg": msg}, "id": request_id})


class BinanceDialect:
    venue = "BINANCE"
    # The venue pings at the websocket level only; the server's websocket layer covers that.
    heartbeat_interval: float | None = None

    @staticmethod
    def _streams(session: ClientSession) -> list[str]:
        streams: list[str] = session.extra.setdefault("streams", [])
        return streams

    @staticmethod
    def _route(session: ClientSession, markets: Markets) -> None:
        """Which markets each kind of event goes to, from the stream names."""
        kinds: dict[str, dict[str, str]] = {"depth": {}, "trade": {}, "aggTrade": {}}
        for name in session.extra.get("streams", []):
            low, _, kind = name.partition("@")
            symbol = low.upper()
            if symbol not in markets:
                continue  # the venue accepts any name and simply never sends for it
            key = "depth" if kind.startswith("depth") else kind
            if key in kinds:
                kinds[key][symbol] = name
        session.extra["route"] = kinds
        session.subscribed.clear()
        for names in kinds.values():
            session.subscribed.update(names)

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not isinstance(frame, dict):
            return [error(3, "Invalid JSON: expected value at line 1 column 1", None)]
        request_id = frame.get("id")
        if type(request_id) is not int or request_id < 0:
            return [error(2, "Invalid request: request ID must be an unsigned integer", None)]
        method = frame.get("method")
        if method not in METHODS:
            return [
                error(2, f"Invalid request: unknown variant {method}, expected one of {', '.join(METHODS)}", request_id)
            ]
        streams = self._streams(session)
        if method == "LIST_SUBSCRIPTIONS":
            return [dumps({"result": list(streams), "id": request_id})]
        if method == "GET_PROPERTY":
            return [dumps({"result": True, "id": request_id})]  # combined payloads: /stream connections
        if method == "SET_PROPERTY":
            return [dumps({"result": None, "id": request_id})]
        params = frame.get("params")
        if not isinstance(params, list) or not all(isinstance(p, str) and "@" in p for p in params):
            return [error(2, "Invalid request: params must be stream names", request_id)]
        if method == "SUBSCRIBE":
            streams.extend(p for p in params if p not in streams)
        else:
            streams[:] = [s for s in streams if s not in params]
        self._route(session, markets)
        return [dumps({"result": None, "id": request_id})]

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        symbol = market.instrument.symbol
        stream = session.extra.get("route", {}).get("depth", {}).get(symbol)
        if stream is None:
            return []
        return [dumps({"stream": stream, "data": self.depth_event(market, bids, asks, now)})]

    def depth_event(self, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float) -> dict:
        """One `depthUpdate` as the venue numbers it: here every change is one update id."""
        return {
            "e": "depthUpdate",
            "E": int(now * 1000),
            "s": market.instrument.symbol,
            "U": market.update_id,
            "u": market.update_id,
            "b": [[lv[0], lv[1]] for lv in bids],
            "a": [[lv[0], lv[1]] for lv in asks],
        }

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        symbol = market.instrument.symbol
        route = session.extra.get("route", {})
        millis = int(trade.timestamp * 1000)
        maker_buys = trade.taker_side == "sell"
        out: list[str] = []
        stream = route.get("trade", {}).get(symbol)
        if stream is not None:
            data = {"e": "trade", "E": int(now * 1000), "s": symbol, "t": trade.trade_id, "p": trade.price}
            data |= {"q": trade.size, "T": millis, "m": maker_buys, "M": True}
            out.append(dumps({"stream": stream, "data": data}))
        stream = route.get("aggTrade", {}).get(symbol)
        if stream is not None:
            data = {"e": "aggTrade", "E": int(now * 1000), "s": symbol, "a": trade.trade_id, "p": trade.price}
            data |= {"q": trade.size, "f": trade.trade_id, "l": trade.trade_id, "T": millis, "m": maker_buys, "M": True}
            out.append(dumps({"stream": stream, "data": data}))
        return out

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        return []

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        if path != "/api/v3/depth":
            return None
        market = markets.get(query.get("symbol", ""))
        if market is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return 400, {"code": -1100, "msg": "Illegal characters found in parameter 'limit'."}
        limit = max(1, min(limit, MAX_LIMIT))
        book = market.book
        return 200, {
            "lastUpdateId": market.update_id,
            "bids": [[lv[0], lv[1]] for lv in book.bids_levels(limit)],
            "asks": [[lv[0], lv[1]] for lv in book.asks_levels(limit)],
        }


dialect = BinanceDialect()
