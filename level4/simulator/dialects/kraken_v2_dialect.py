"""Kraken spot websocket v2 dialect (https://docs.kraken.com/api/docs/websocket-v2/book):
a `status` greeting, `subscribe` / `unsubscribe` answered one symbol at a time
(`success`, or `error` and false), the `instrument` channel's pairs with their
precisions, book snapshots and updates of JSON-number levels each with a CRC32
checksum of the ten best levels a side written to the pair's precision
(https://docs.kraken.com/api/docs/guides/spot-ws-book-v2), trades with the
taker's side and an id, heartbeats, ping/pong.

Like Kraken, a client subscribed at depth N sees only the best N levels a
side: a level pushed beyond N is not announced (the client truncates), and a
level that comes back into range after a delete is sent as an ordinary update.
A pair's precisions are those its reference book is written in (the order
flow's tick grid and size decimals), so the JSON numbers, which lose trailing
zeros, are only right to a client that pads them back.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

DEPTHS = (10, 25, 100, 500, 1000)
DEFAULT_DEPTH = 10  # the venue's, when a subscription names none
CHANNELS = ("book", "trade", "instrument")


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _places(text: str) -> int:
    point = text.find(".")
    return 0 if point < 0 else len(text) - point - 1


def _level(price: str, qty: str) -> dict[str, float]:
    return {"price": float(price), "qty": float(qty)}


@dataclass(slots=True)
class Window:
    """The part of one book a client sees: the best `depth` levels a side."""

    depth: int
    bids: dict[str, str] = field(default_factory=dict)  # price -> qty, best first
    asks: dict[str, str] = field(default_factory=dict)


class KrakenV2Dialect:
    venue = "KRAKEN"
    heartbeat_interval: float | None = 1.0

    @staticmethod
    def _windows(session: ClientSession) -> dict[str, Window]:
        windows: dict[str, Window] = session.extra.setdefault("books", {})
        return windows

    @staticmethod
    def _trades(session: ClientSession) -> set[str]:
        trades: set[str] = session.extra.setdefault("trades", set())
        return trades

    # --- client requests -----------------------------------------------------------

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        out: list[str] = []
        if not session.extra.get("status_sent"):
            # Kraken greets every connection with its status; no connect hook here, so on first contact.
            session.extra["status_sent"] = True
            status = {"api_version": "v2", "connection_id": 1, "system": "online", "version": "2.0.10"}
            out.append(dumps({"channel": "status", "type": "update", "data": [status]}))
        stamps = {"time_in": _iso(now), "time_out": _iso(now)}
        if not isinstance(frame, dict):
            return [*out, dumps({"error": "Malformed request", "success": False, **stamps})]
        method = frame.get("method")
        if method == "ping":
            pong: dict[str, Any] = {"method": "pong"}
            if "req_id" in frame:
                pong["req_id"] = frame["req_id"]
            return [*out, dumps({**pong, **stamps})]
        if method in ("subscribe", "unsubscribe"):
            return out + self._subscription(session, frame, method == "subscribe", markets, now)
        return [*out, dumps({"error": "Method not found", "method": method, "success": False, **stamps})]

    def _subscription(
        self, session: ClientSession, frame: dict[str, Any], subscribe: bool, markets: Markets, now: float
    ) -> list[str]:
        method = "subscribe" if subscribe else "unsubscribe"
        stamps = {"time_in": _iso(now), "time_out": _iso(now)}
        params = frame.get("params")
        params = params if isinstance(params, dict) else {}
        channel = params.get("channel")
        if channel not in CHANNELS:
            return [dumps({"error": "Channel not found", "method": method, "success": False, **stamps})]
        if channel == "instrument":
            ack = {"method": method, "result": {"channel": "instrument", "snapshot": True}, "success": True}
            out = [dumps({**ack, **stamps})]
            return [*out, self._instrument_snapshot(markets)] if subscribe else out
        names = params.get("symbol")
        if not isinstance(names, list) or not names:
            return [dumps({"error": "Must specify symbol", "method": method, "success": False, **stamps})]
        depth = params.get("depth", DEFAULT_DEPTH)
        snapshot = params.get("snapshot", True) is not False
        windows, trades = self._windows(session), self._trades(session)
        out = []
        for name in names:
            error = None
            subscribed = name in windows if channel == "book" else name in trades
            if channel == "book" and depth not in DEPTHS:
                error = "Invalid depth"
            elif name not in markets:
                error = f"Currency pair not supported {name}"
            elif subscribe and subscribed:
                error = "Already subscribed"
            elif not subscribe and not subscribed:
                error = "Subscription Not Found"
            if error is not None:
                out.append(dumps({"error": error, "method": method, "success": False, "symbol": name, **stamps}))
                continue
            result: dict[str, Any] = {"channel": channel, "symbol": name}
            if channel == "book":
                result["depth"] = depth
            if subscribe:
                result["snapshot"] = snapshot
            out.append(dumps({"method": method, "result": result, "success": True, **stamps}))
            if not subscribe:
                if channel == "book":
                    windows.pop(name)
                else:
                    trades.discard(name)
            elif channel == "trade":
                trades.add(name)
                if snapshot:
                    out.append(dumps({"channel": "trade", "type": "snapshot", "data": []}))  # no past trades here
            else:
                out.append(self._book_snapshot(windows, markets[name], depth, now))
        session.subscribed = set(windows) | trades
        return out

    def _instrument_snapshot(self, markets: Markets) -> str:
        assets: dict[str, dict[str, Any]] = {}
        pairs = []
        for name, market in sorted(markets.items()):
            book = market.book
            levels = book.bids_levels() + book.asks_levels()
            places = max((_places(lv[0]) for lv in levels), default=0)
            qty_places = max((_places(lv[1]) for lv in levels), default=0)
            base, quote = name.split("/")
            for asset in (base, quote):
                assets[asset] = {"id": asset, "status": "enabled", "precision": 10, "precision_display": 5}
            pairs.append(
                {
                    "symbol": name,
                    "base": base,
                    "quote": quote,
                    "status": "online",
                    "qty_precision": qty_places,
                    "qty_increment": 10.0**-qty_places,
                    "price_precision": places,
                    "price_increment": 10.0**-places,
                    "cost_precision": places,
                    "qty_min": 10.0**-qty_places,
                    "marginable": False,
                    "has_index": True,
                }
            )
        return dumps(
            {"channel": "instrument", "type": "snapshot", "data": {"assets": list(assets.values()), "pairs": pairs}}
        )

    def _book_snapshot(self, windows: dict[str, Window], market: SimMarket, depth: int, now: float) -> str:
        name = market.instrument.symbol
        book = market.book
        window = windows[name] = Window(depth)
        window.asks = {lv[0]: lv[1] for lv in book.asks_levels(depth)}
        window.bids = {lv[0]: lv[1] for lv in book.bids_levels(depth)}
        entry = {
            "symbol": name,
            "bids": [_level(p, q) for p, q in window.bids.items()],
            "asks": [_level(p, q) for p, q in window.asks.items()],
            "checksum": self.checksum(window.asks, window.bids),
            "timestamp": _iso(now),
        }
        return dumps({"channel": "book", "type": "snapshot", "data": [entry]})

    # --- market happenings ---------------------------------------------------------

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        name = market.instrument.symbol
        window = self._windows(session).get(name)
        if window is None:
            return []
        book = market.book
        new_asks = {lv[0]: lv[1] for lv in book.asks_levels(window.depth)}
        new_bids = {lv[0]: lv[1] for lv in book.bids_levels(window.depth)}
        ask_changes = self._visible(window.asks, new_asks, asks)
        bid_changes = self._visible(window.bids, new_bids, bids)
        window.asks, window.bids = new_asks, new_bids
        if not ask_changes and not bid_changes:
            return []  # the change lies beyond what this client sees
        entry = {
            "symbol": name,
            "bids": bid_changes,
            "asks": ask_changes,
            "checksum": self.checksum(new_asks, new_bids),
            "timestamp": _iso(now),
        }
        return [dumps({"channel": "book", "type": "update", "data": [entry]})]

    @staticmethod
    def _visible(old: dict[str, str], new: dict[str, str], changed: Sequence[Level]) -> list[dict[str, float]]:
        """What Kraken publishes for one side: changes inside the window (and
        deletes of levels the client had), then levels that moved into range.
        Levels pushed out are left to the client."""
        out: list[dict[str, float]] = []
        touched = set()
        for lv in changed:
            price, qty = lv[0], lv[1]
            touched.add(price)
            if price in new or (price in old and float(qty) == 0.0):
                out.append(_level(price, qty))
        for price, qty in new.items():
            if price not in old and price not in touched:
                out.append(_level(price, qty))
        return out

    @staticmethod
    def checksum(asks: dict[str, str], bids: dict[str, str]) -> int:
        """CRC32 over the ten best asks then the ten best bids (windows are best
        first), written as the reference book writes them: to the pair's precision."""
        text = "".join(_digits(p) + _digits(q) for p, q in list(asks.items())[:10])
        text += "".join(_digits(p) + _digits(q) for p, q in list(bids.items())[:10])
        return zlib.crc32(text.encode())

    @staticmethod
    def corrupt_checksum(frame: str) -> str | None:
        """The frame with a wrong checksum (fault injection), or None when it carries none."""
        parsed = orjson.loads(frame)
        if not isinstance(parsed, dict) or parsed.get("channel") != "book":
            return None
        for entry in parsed.get("data") or []:
            if isinstance(entry, dict) and "checksum" in entry:
                entry["checksum"] = (int(entry["checksum"]) + 1) % 2**32
                return dumps(parsed)
        return None

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        name = market.instrument.symbol
        if name not in self._trades(session):
            return []
        row = {"symbol": name, "side": trade.taker_side, **_level(trade.price, trade.size)}
        row |= {"ord_type": "market", "trade_id": trade.trade_id, "timestamp": _iso(trade.timestamp)}
        return [dumps({"channel": "trade", "type": "update", "data": [row]})]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        return ['{"channel":"heartbeat"}'] if session.subscribed else []

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None


dialect = KrakenV2Dialect()
