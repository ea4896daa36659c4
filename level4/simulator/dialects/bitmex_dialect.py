"""BitMEX realtime dialect: subscribe acks, `orderBookL2` partial and
insert / update / delete rows keyed by id, `trade` inserts, "ping" -> "pong".

Rows carry price and size as JSON numbers and, as today's feed does, the
price and a timestamp on every action. Ids are arbitrary and per connection.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

BOOK = "orderBookL2"
TABLES = (BOOK, "trade")
BOOK_KEYS = ["symbol", "id", "side"]
BOOK_TYPES = {
    "symbol": "symbol",
    "id": "long",
    "side": "symbol",
    "size": "long",
    "price": "float",
    "timestamp": "timestamp",
}


def iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def number(text: str) -> int | float:
    """A decimal string as the venue's JSON number: whole values as integers."""
    if "." not in text and "e" not in text and "E" not in text:
        return int(text)
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


class BitmexDialect:
    venue = "BITMEX"
    heartbeat_interval: float | None = None  # clients ping; the venue only answers

    # --- per-connection state ----------------------------------------------------

    @staticmethod
    def _topics(session: ClientSession) -> set[str]:
        topics: set[str] = session.extra.setdefault("topics", set())
        return topics

    @staticmethod
    def _ids(session: ClientSession, symbol: str) -> tuple[dict[float, int], dict[float, int]]:
        """The row id of every level this client was told of, per side, by price."""
        books: dict[str, tuple[dict[float, int], dict[float, int]]] = session.extra.setdefault("ids", {})
        return books.setdefault(symbol, ({}, {}))

    @staticmethod
    def _next_id(session: ClientSession) -> int:
        counter: itertools.count[int] = session.extra.setdefault("id_counter", itertools.count(8_700_000_000))
        return next(counter)

    # --- client frames -------------------------------------------------------------

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if frame == "ping":
            return ["pong"]
        if not isinstance(frame, dict) or frame.get("op") not in ("subscribe", "unsubscribe"):
            return [dumps({"status": 400, "error": "Unknown or expired command.", "meta": {}, "request": frame})]
        args = frame.get("args", [])
        out: list[str] = []
        for topic in [args] if isinstance(args, str) else args:
            table, _, symbol = str(topic).partition(":")
            if table not in TABLES:
                out.append(self._error(f"Unknown table: {table}", frame))
            elif symbol not in markets:
                out.append(self._error(f"Unknown or expired symbol: {symbol}", frame))
            elif frame["op"] == "subscribe":
                out.extend(self._subscribe(session, table, markets[symbol], frame, now))
            else:
                self._topics(session).discard(topic)
                if not any(f"{t}:{symbol}" in self._topics(session) for t in TABLES):
                    session.subscribed.discard(symbol)
                out.append(dumps({"success": True, "unsubscribe": topic, "request": frame}))
        return out

    def _error(self, message: str, request: Any) -> str:
        return dumps({"status": 400, "error": message, "meta": {}, "request": request})

    def _subscribe(self, session: ClientSession, table: str, market: SimMarket, request: Any, now: float) -> list[str]:
        symbol = market.instrument.symbol
        topic = f"{table}:{symbol}"
        topics = self._topics(session)
        if topic in topics:
            return [self._error(f"You are already subscribed to this topic: {topic}", request)]
        topics.add(topic)
        session.subscribed.add(symbol)
        out = [dumps({"success": True, "subscribe": topic, "request": request})]
        stamp = iso(now)
        if table == BOOK:
            bid_ids, ask_ids = self._ids(session, symbol)
            bid_ids.clear()
            ask_ids.clear()
            rows: list[dict[str, Any]] = []
            # The venue lists asks from the top of the book down, then bids.
            for lv in reversed(market.book.asks_levels()):
                rid = ask_ids[float(lv[0])] = self._next_id(session)
                rows.append(self._row(symbol, rid, "Sell", lv[0], lv[1], stamp))
            for lv in market.book.bids_levels():
                rid = bid_ids[float(lv[0])] = self._next_id(session)
                rows.append(self._row(symbol, rid, "Buy", lv[0], lv[1], stamp))
            image = {
                "table": BOOK,
                "action": "partial",
                "keys": BOOK_KEYS,
                "types": BOOK_TYPES,
                "filter": {"symbol": symbol},
                "data": rows,
            }
        else:
            image = {"table": "trade", "action": "partial", "keys": [], "filter": {"symbol": symbol}, "data": []}
        out.append(dumps(image))
        return out

    @staticmethod
    def _row(symbol: str, rid: int, side: str, price: str, size: str | None, stamp: str) -> dict[str, Any]:
        row: dict[str, Any] = {"symbol": symbol, "id": rid, "side": side}
        if size is not None:
            row["size"] = number(size)
        row["price"] = number(price)
        row["timestamp"] = stamp
        return row

    # --- market happenings ---------------------------------------------------------

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        symbol = market.instrument.symbol
        if f"{BOOK}:{symbol}" not in self._topics(session):
            return []
        stamp = iso(now)
        bid_ids, ask_ids = self._ids(session, symbol)
        rows: dict[str, list[dict[str, Any]]] = {"delete": [], "update": [], "insert": []}
        for side, levels, ids in (("Buy", bids, bid_ids), ("Sell", asks, ask_ids)):
            for lv in levels:
                price, size = lv[0], lv[1]
                key = float(price)
                if float(size) == 0.0:
                    rid = ids.pop(key, None)
                    if rid is not None:
                        rows["delete"].append(self._row(symbol, rid, side, price, None, stamp))
                elif key in ids:
                    rows["update"].append(self._row(symbol, ids[key], side, price, size, stamp))
                else:
                    rid = ids[key] = self._next_id(session)
                    rows["insert"].append(self._row(symbol, rid, side, price, size, stamp))
        return [dumps({"table": BOOK, "action": action, "data": data}) for action, data in rows.items() if data]

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        symbol = market.instrument.symbol
        if f"trade:{symbol}" not in self._topics(session):
            return []
        row = {
            "timestamp": iso(trade.timestamp),
            "symbol": symbol,
            "side": "Buy" if trade.taker_side == "buy" else "Sell",
            "size": number(trade.size),
            "price": number(trade.price),
            "tickDirection": "ZeroPlusTick",
            "trdMatchID": f"00000000-0000-0000-0000-{trade.trade_id:012d}",
            "trdType": "Regular",
        }
        return [dumps({"table": "trade", "action": "insert", "data": [row]})]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        return []

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None  # the partial comes in band


dialect = BitmexDialect()
