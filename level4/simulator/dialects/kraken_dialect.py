"""Kraken websocket v1 dialect: systemStatus, subscriptionStatus, book
snapshots and updates with CRC32 checksums, trades, heartbeats, ping/pong.

Like Kraken, a client subscribed at depth N sees only the best N levels a
side: a level pushed beyond N is not announced (the client truncates), and a
level that comes back into range after a delete is republished with "r".
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from translations.protocol import Level

DEPTHS = (10, 25, 100, 500, 1000)


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


@dataclass(slots=True)
class Window:
    """The part of one book a client sees: the best `depth` levels a side."""

    channel_id: int
    depth: int
    bids: dict[str, str] = field(default_factory=dict)  # price -> size
    asks: dict[str, str] = field(default_factory=dict)


class KrakenDialect:
    venue = "KRAKEN"
    heartbeat_interval: float | None = 1.0

    # --- client requests -----------------------------------------------------------

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        out: list[str] = []
        if not session.extra.get("status_sent"):
            # Kraken greets every connection with its status; no connect hook here, so on first contact.
            session.extra["status_sent"] = True
            out.append(dumps({"connectionID": 1, "event": "systemStatus", "status": "online", "version": "1.9.5"}))
        if not isinstance(frame, dict):
            return [*out, dumps({"errorMessage": "Malformed request", "event": "error"})]
        event = frame.get("event")
        if event == "ping":
            pong: dict[str, Any] = {"event": "pong"}
            if "reqid" in frame:
                pong["reqid"] = frame["reqid"]
            return [*out, dumps(pong)]
        if event in ("subscribe", "unsubscribe"):
            return out + self._subscription(session, frame, event == "subscribe", markets, now)
        return [*out, dumps({"errorMessage": "Unsupported event", "event": "error"})]

    def _subscription(
        self, session: ClientSession, frame: dict[str, Any], subscribe: bool, markets: Markets, now: float
    ) -> list[str]:
        sub = frame.get("subscription")
        sub = sub if isinstance(sub, dict) else {}
        pairs = frame.get("pair")
        pairs = pairs if isinstance(pairs, list) else []
        name = sub.get("name")
        depth = sub.get("depth", 10)
        windows: dict[str, Window] = session.extra.setdefault("books", {})
        trades: dict[str, int] = session.extra.setdefault("trades", {})  # pair -> channel id
        symbols = sorted(markets)
        out: list[str] = []
        for pair in pairs:
            status: dict[str, Any] = {"event": "subscriptionStatus", "pair": pair, "subscription": sub}
            error = None
            if name not in ("book", "trade"):
                error = "Subscription name invalid"
            elif name == "book" and depth not in DEPTHS:
                error = "Subscription depth not supported"
            elif pair not in markets:
                error = f"Currency pair not supported {pair}"
            if error is not None:
                out.append(dumps({"errorMessage": error, **status, "status": "error"}))
                continue
            channel_id = 100 + 2 * symbols.index(pair) + (name == "trade")
            channel = f"book-{depth}" if name == "book" else "trade"
            status.update(channelID=channel_id, channelName=channel)
            if not subscribe:
                if name == "book":
                    windows.pop(pair, None)
                else:
                    trades.pop(pair, None)
                if pair not in windows and pair not in trades:
                    session.subscribed.discard(pair)
                out.append(dumps({**status, "status": "unsubscribed"}))
                continue
            out.append(dumps({**status, "status": "subscribed"}))
            session.subscribed.add(pair)
            if name == "trade":
                trades[pair] = channel_id
                continue
            book = markets[pair].book
            window = windows[pair] = Window(channel_id, depth)
            stamp = f"{now:.6f}"
            window.asks = {lv[0]: lv[1] for lv in book.asks_levels(depth)}
            window.bids = {lv[0]: lv[1] for lv in book.bids_levels(depth)}
            snapshot = {
                "as": [[p, s, stamp] for p, s in window.asks.items()],
                "bs": [[p, s, stamp] for p, s in window.bids.items()],
            }
            out.append(dumps([channel_id, snapshot, channel, pair]))
        return out

    # --- market happenings ---------------------------------------------------------

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        symbol = market.instrument.symbol
        window: Window | None = session.extra.get("books", {}).get(symbol)
        if window is None:
            return []
        stamp = f"{now:.6f}"
        book = market.book
        new_asks = {lv[0]: lv[1] for lv in book.asks_levels(window.depth)}
        new_bids = {lv[0]: lv[1] for lv in book.bids_levels(window.depth)}
        ask_changes = self._visible(window.asks, new_asks, asks, stamp)
        bid_changes = self._visible(window.bids, new_bids, bids, stamp)
        window.asks, window.bids = new_asks, new_bids
        if not ask_changes and not bid_changes:
            return []  # the change lies beyond what this client sees
        parts: list[dict[str, Any]] = []
        if ask_changes:
            parts.append({"a": ask_changes})
        if bid_changes:
            parts.append({"b": bid_changes})
        parts[-1]["c"] = str(self.checksum(new_asks, new_bids))
        return [dumps([window.channel_id, *parts, f"book-{window.depth}", symbol])]

    @staticmethod
    def _visible(old: dict[str, str], new: dict[str, str], changed: Sequence[Level], stamp: str) -> list[list[str]]:
        """What Kraken publishes for one side: changes inside the window (and
        deletes of levels the client had), then levels that moved back into
        range, flagged "r". Levels pushed out are left to the client."""
        out: list[list[str]] = []
        touched = set()
        for lv in changed:
            price, size = lv[0], lv[1]
            touched.add(price)
            if price in new or (price in old and float(size) == 0.0):
                out.append([price, size, stamp])
        for price, size in new.items():
            if price not in old and price not in touched:
                out.append([price, size, stamp, "r"])
        return out

    @staticmethod
    def checksum(asks: dict[str, str], bids: dict[str, str]) -> int:
        """CRC32 over the ten best asks then the ten best bids (windows are best first)."""
        text = "".join(_digits(p) + _digits(s) for p, s in list(asks.items())[:10])
        text += "".join(_digits(p) + _digits(s) for p, s in list(bids.items())[:10])
        return zlib.crc32(text.encode())

    @staticmethod
    def corrupt_checksum(frame: str) -> str | None:
        """The frame with a wrong checksum (fault injection), or None when it carries none."""
        parsed = orjson.loads(frame)
        if not isinstance(parsed, list):
            return None
        for part in parsed:
            if isinstance(part, dict) and "c" in part:
                part["c"] = str((int(part["c"]) + 1) % 2**32)
                return dumps(parsed)
        return None

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        symbol = market.instrument.symbol
        channel_id = session.extra.get("trades", {}).get(symbol)
        if channel_id is None:
            return []
        side = "b" if trade.taker_side == "buy" else "s"
        row = [trade.price, trade.size, f"{trade.timestamp:.6f}", side, "m", ""]
        return [dumps([channel_id, [row], "trade", symbol])]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        return ['{"event":"heartbeat"}'] if session.subscribed else []

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None


dialect = KrakenDialect()
