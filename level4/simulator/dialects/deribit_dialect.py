"""Deribit json-rpc v2 dialect: public/subscribe to book and trades channels,
book snapshot then changes chained by change ids, trades with the taker's
direction, heartbeats that ask the client for a public/test request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

MIN_HEARTBEAT = 10  # the venue refuses shorter heartbeat intervals


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def answer(rid: Any, result: Any) -> str:
    return dumps({"jsonrpc": "2.0", "id": rid, "result": result, "usIn": 0, "usOut": 0, "usDiff": 0, "testnet": False})


def error(rid: Any, code: int, message: str) -> str:
    return dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}, "testnet": False})


def notification(channel: str, data: Any) -> str:
    return dumps({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})


class DeribitDialect:
    venue = "DERIBIT"
    # Called often; each client gets heartbeats at the interval it asked for.
    heartbeat_interval: float | None = 1.0

    # --- per-client bookkeeping (kept in session.extra) ---------------------------

    @staticmethod
    def _books(session: ClientSession) -> dict[str, str]:
        """Instrument -> interval of its book subscription."""
        books: dict[str, str] = session.extra.setdefault("book", {})
        return books

    @staticmethod
    def _trades(session: ClientSession) -> dict[str, str]:
        trades: dict[str, str] = session.extra.setdefault("trades", {})
        return trades

    @staticmethod
    def _known(session: ClientSession, symbol: str) -> tuple[set[float], set[float]]:
        """Bid and ask prices this client holds, so changes say new/change/delete."""
        known: dict[str, tuple[set[float], set[float]]] = session.extra.setdefault("known", {})
        return known.setdefault(symbol, (set(), set()))

    # --- client frames -------------------------------------------------------------

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        if not isinstance(frame, dict):
            return [error(None, -32700, "Parse error")]
        rid = frame.get("id")
        method = frame.get("method")
        params = frame.get("params") or {}
        if method == "public/subscribe":
            return self._subscribe(session, rid, params.get("channels") or [], markets, now)
        if method == "public/unsubscribe":
            return self._unsubscribe(session, rid, params.get("channels") or [])
        if method == "public/set_heartbeat":
            interval = params.get("interval")
            if not isinstance(interval, (int, float)) or interval < MIN_HEARTBEAT:
                return [error(rid, 10001, "invalid_arguments")]
            session.extra["heartbeat"] = float(interval)
            session.extra["heartbeat_sent"] = now
            return [answer(rid, "ok")]
        if method == "public/disable_heartbeat":
            session.extra.pop("heartbeat", None)
            return [answer(rid, "ok")]
        if method == "public/test":
            session.extra["unanswered"] = 0
            return [answer(rid, {"version": "1.2.26"})]
        return [error(rid, -32601, "Method not found")]

    def _subscribe(
        self, session: ClientSession, rid: Any, channels: list[Any], markets: Markets, now: float
    ) -> list[str]:
        accepted: list[str] = []
        snapshots: list[str] = []
        for channel in channels:
            parts = channel.split(".") if isinstance(channel, str) else []
            if len(parts) != 3 or parts[0] not in ("book", "trades") or parts[1] not in markets:
                continue  # the venue leaves out channels it does not know
            kind, symbol, interval = parts
            accepted.append(channel)
            session.subscribed.add(symbol)
            if kind == "trades":
                self._trades(session)[symbol] = interval
                continue
            self._books(session)[symbol] = interval
            snapshots.append(self._snapshot(session, markets[symbol], interval, now))
        return [answer(rid, accepted), *snapshots]

    def _unsubscribe(self, session: ClientSession, rid: Any, channels: list[Any]) -> list[str]:
        removed: list[str] = []
        books, trades = self._books(session), self._trades(session)
        for channel in channels:
            parts = channel.split(".") if isinstance(channel, str) else []
            if len(parts) != 3:
                continue
            kind, symbol, _ = parts
            table = books if kind == "book" else trades if kind == "trades" else None
            if table is not None and table.pop(symbol, None) is not None:
                removed.append(channel)
            if symbol not in books and symbol not in trades:
                session.subscribed.discard(symbol)
        return [answer(rid, removed)]

    def _snapshot(self, session: ClientSession, market: SimMarket, interval: str, now: float) -> str:
        symbol = market.instrument.symbol
        book = market.book
        bids, asks = book.bids_levels(), book.asks_levels()
        known = self._known(session, symbol)
        known[0].clear()
        known[0].update(float(lv[0]) for lv in bids)
        known[1].clear()
        known[1].update(float(lv[0]) for lv in asks)
        session.extra.setdefault("change_id", {})[symbol] = market.update_id
        data = {
            "type": "snapshot",
            "timestamp": int(now * 1000),
            "instrument_name": symbol,
            "change_id": market.update_id,
            "bids": [["new", float(lv[0]), float(lv[1])] for lv in bids],
            "asks": [["new", float(lv[0]), float(lv[1])] for lv in asks],
        }
        return notification(f"book.{symbol}.{interval}", data)

    # --- market happenings -----------------------------------------------------------

    @staticmethod
    def _changes(levels: Sequence[Level], known: set[float]) -> list[list[Any]]:
        out: list[list[Any]] = []
        for lv in levels:
            price = float(lv[0])
            size = float(lv[1])
            if size == 0.0:
                known.discard(price)
                out.append(["delete", price, 0.0])
            elif price in known:
                out.append(["change", price, size])
            else:
                known.add(price)
                out.append(["new", price, size])
        return out

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        symbol = market.instrument.symbol
        interval = self._books(session).get(symbol)
        if interval is None:
            return []
        ids: dict[str, int] = session.extra["change_id"]
        known = self._known(session, symbol)
        data = {
            "type": "change",
            "timestamp": int(now * 1000),
            "prev_change_id": ids[symbol],
            "instrument_name": symbol,
            "change_id": market.update_id,
            "bids": self._changes(bids, known[0]),
            "asks": self._changes(asks, known[1]),
        }
        ids[symbol] = market.update_id
        return [notification(f"book.{symbol}.{interval}", data)]

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        symbol = market.instrument.symbol
        interval = self._trades(session).get(symbol)
        if interval is None:
            return []
        price = float(trade.price)
        data = [
            {
                "trade_seq": trade.trade_id,
                "trade_id": str(trade.trade_id),
                "timestamp": int(trade.timestamp * 1000),
                "tick_direction": 0 if trade.taker_side == "buy" else 2,
                "price": price,
                "mark_price": price,
                "index_price": price,
                "instrument_name": symbol,
                "direction": trade.taker_side,
                "amount": float(trade.size),
            }
        ]
        return [notification(f"trades.{symbol}.{interval}", data)]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        interval = session.extra.get("heartbeat")
        if interval is None or now - session.extra.get("heartbeat_sent", 0.0) < interval:
            return []
        session.extra["heartbeat_sent"] = now
        # The venue would close a connection whose client leaves these unanswered.
        session.extra["unanswered"] = session.extra.get("unanswered", 0) + 1
        return [dumps({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}})]

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None  # books come over the websocket only


dialect = DeribitDialect()
