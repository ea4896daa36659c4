"""Bitfinex websocket v2 dialect: info greeting, conf flags, book (P0) and
trades channels, heartbeats, ping/pong.

Like Bitfinex, a book subscription of length N shows the best N levels a
side, and a level entering or leaving that window is announced as an add or
a removal (count 0, amount 1 for a bid, -1 for an ask). Numbers are JSON
numbers, asks' amounts negative. With SEQ_ALL every data frame ends with a
connection-wide sequence number; with OB_CHECKSUM each book change is
followed by a CRC32 of the best 25 levels.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession, Markets, SimMarket, SimTrade
from level4.simulator.limits_enforcer import STREAM_CAP, STREAMS_REFUSED
from translations.protocol import Level

SEQ_ALL = 65536
OB_CHECKSUM = 131072
LENGTHS = ("1", "25", "100", "250")
CHECKSUM_DEPTH = 25
# "Failed channel subscription: reached limit of open channels"; the venue's cap is
# 25 channels a connection (https://docs.bitfinex.com/docs/ws-public).
ERR_SUB_LIMIT = 10305


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def number(text: str) -> int | float:
    """A decimal string as the JSON number the venue would write."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def js_text(text: str) -> str:
    """How JavaScript prints the number: what the venue's checksum hashes."""
    d = Decimal(text).normalize()
    if d == 0:
        return "0"
    if -7 < d.adjusted() < 21:
        return format(d, "f")
    sign, digits, _ = d.as_tuple()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    exp = d.adjusted()
    return f"{'-' if sign else ''}{mantissa}e{'+' if exp > 0 else '-'}{abs(exp)}"


@dataclass(slots=True)
class Window:
    """The part of one book a client sees: the best `length` levels a side."""

    chan: int
    length: int
    bids: dict[str, tuple[str, int]] = field(default_factory=dict)  # price -> (size, count)
    asks: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class Client:
    flags: int = 0
    sequence: int = 0
    next_chan: int = 100
    books: dict[str, Window] = field(default_factory=dict)  # symbol -> window
    trades: dict[str, int] = field(default_factory=dict)  # symbol -> channel id
    greeted: bool = False


def _visible(levels: Sequence[Level]) -> dict[str, tuple[str, int]]:
    return {lv[0]: (lv[1], lv[2] if len(lv) > 2 else 1) for lv in levels}


class BitfinexDialect:
    venue = "BITFINEX"
    heartbeat_interval: float | None = 15.0

    def _client(self, session: ClientSession) -> Client:
        client = session.extra.get("bitfinex")
        if client is None:
            client = session.extra["bitfinex"] = Client()
        return client

    def _data(self, client: Client, *body: Any) -> str:
        frame = list(body)
        if client.flags & SEQ_ALL:
            client.sequence += 1
            frame.append(client.sequence)
        return dumps(frame)

    # --- client requests -------------------------------------------------------

    def on_client_frame(self, session: ClientSession, frame: Any, markets: Markets, now: float) -> list[str]:
        client = self._client(session)
        out: list[str] = []
        if not client.greeted:
            # Bitfinex greets every connection; there is no connect hook, so on first contact.
            client.greeted = True
            out.append(dumps({"event": "info", "version": 2, "serverId": "simulator", "platform": {"status": 1}}))
        event = frame.get("event") if isinstance(frame, dict) else None
        if event == "conf":
            client.flags = int(frame.get("flags", 0))
            return [*out, dumps({"event": "conf", "status": "OK", "flags": client.flags})]
        if event == "ping":
            return [*out, dumps({"event": "pong", "ts": int(now * 1000), "cid": frame.get("cid")})]
        if event == "subscribe":
            return out + self._subscribe(session, client, frame, markets)
        if event == "unsubscribe":
            return out + self._unsubscribe(session, client, frame)
        return [*out, dumps({"event": "error", "msg": "Unknown event", "code": 10000})]

    def _subscribe(self, session: ClientSession, client: Client, frame: dict[str, Any], markets: Markets) -> list[str]:
        channel = frame.get("channel")
        symbol = frame.get("symbol")
        error = {"event": "error", "channel": channel, "symbol": symbol}
        if not isinstance(symbol, str) or symbol not in markets:
            return [dumps(error | {"msg": "symbol: invalid", "code": 10300})]
        market = markets[symbol]
        cap = session.extra.get(STREAM_CAP)
        if (
            cap is not None
            and channel in ("book", "trades")
            and len(client.books) + len(client.trades) >= cap
            and symbol not in (client.books if channel == "book" else client.trades)
        ):
            session.extra[STREAMS_REFUSED] = session.extra.get(STREAMS_REFUSED, 0) + 1
            return [dumps(error | {"msg": "subscribe: limit", "code": ERR_SUB_LIMIT})]
        if channel == "book":
            length = str(frame.get("len", "25"))
            if frame.get("prec", "P0") != "P0" or length not in LENGTHS:
                return [dumps(error | {"msg": "subscribe: invalid", "code": 10300})]
            if symbol in client.books:
                return [dumps(error | {"msg": "subscribe: dup", "code": 10301})]
            window = Window(client.next_chan, int(length))
            client.next_chan += 1
            client.books[symbol] = window
            session.subscribed.add(symbol)
            self._count(session, client)
            ack = {
                "event": "subscribed",
                "channel": "book",
                "chanId": window.chan,
                "symbol": symbol,
                "prec": "P0",
                "freq": frame.get("freq", "F0"),
                "len": length,
                "pair": symbol[1:],
            }
            bids = market.book.bids_levels(window.length)
            asks = market.book.asks_levels(window.length)
            window.bids, window.asks = _visible(bids), _visible(asks)
            levels = [[number(p), c, number(s)] for p, (s, c) in window.bids.items()]
            levels += [[number(p), c, -number(s)] for p, (s, c) in window.asks.items()]
            return [dumps(ack), self._data(client, window.chan, levels), *self._checksum(client, window, market)]
        if channel == "trades":
            if symbol in client.trades:
                return [dumps(error | {"msg": "subscribe: dup", "code": 10301})]
            chan = client.trades[symbol] = client.next_chan
            client.next_chan += 1
            session.subscribed.add(symbol)
            self._count(session, client)
            ack = {"event": "subscribed", "channel": "trades", "chanId": chan, "symbol": symbol, "pair": symbol[1:]}
            return [dumps(ack), self._data(client, chan, [])]  # no trade history to send
        return [dumps(error | {"msg": "channel: unknown", "code": 10300})]

    @staticmethod
    def _count(session: ClientSession, client: Client) -> None:
        """Channels open, which the venue's cap counts (not markets)."""
        session.extra["streams"] = [f"book:{s}" for s in client.books] + [f"trades:{s}" for s in client.trades]

    def _unsubscribe(self, session: ClientSession, client: Client, frame: dict[str, Any]) -> list[str]:
        chan = frame.get("chanId")
        for symbol, window in list(client.books.items()):
            if window.chan == chan:
                del client.books[symbol]
        for symbol, trades_chan in list(client.trades.items()):
            if trades_chan == chan:
                del client.trades[symbol]
        for symbol in list(session.subscribed):
            if symbol not in client.books and symbol not in client.trades:
                session.subscribed.discard(symbol)
        self._count(session, client)
        return [dumps({"event": "unsubscribed", "status": "OK", "chanId": chan})]

    # --- market happenings -----------------------------------------------------

    def _checksum(self, client: Client, window: Window, market: SimMarket) -> list[str]:
        if not client.flags & OB_CHECKSUM:
            return []
        depth = min(window.length, CHECKSUM_DEPTH)
        bids = market.book.bids_levels(depth)
        asks = market.book.asks_levels(depth)
        parts: list[str] = []
        for i in range(depth):
            if i < len(bids):
                parts += [js_text(bids[i][0]), js_text(bids[i][1])]
            if i < len(asks):
                parts += [js_text(asks[i][0]), "-" + js_text(asks[i][1])]
        crc = zlib.crc32(":".join(parts).encode())
        return [self._data(client, window.chan, "cs", crc - 2**32 if crc >= 2**31 else crc)]

    def on_book_change(
        self, session: ClientSession, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float
    ) -> list[str]:
        client = self._client(session)
        window = client.books.get(market.instrument.symbol)
        if window is None:
            return []
        # Whatever changed, the client must end up with the best `length` levels.
        out: list[str] = []
        new_bids = _visible(market.book.bids_levels(window.length))
        new_asks = _visible(market.book.asks_levels(window.length))
        for shown, new, sign in ((window.bids, new_bids, 1), (window.asks, new_asks, -1)):
            for price in shown.keys() - new.keys():
                out.append(self._data(client, window.chan, [number(price), 0, sign]))
            for price, (size, count) in new.items():
                if shown.get(price) != (size, count):
                    out.append(self._data(client, window.chan, [number(price), count, sign * number(size)]))
        window.bids, window.asks = new_bids, new_asks
        if out:
            out += self._checksum(client, window, market)
        return out

    @staticmethod
    def corrupt_checksum(frame: str) -> str | None:
        """The frame with a wrong checksum (fault injection), or None when it is no checksum frame."""
        parsed = orjson.loads(frame)
        if not isinstance(parsed, list) or len(parsed) < 3 or parsed[1] != "cs":
            return None
        parsed[2] = parsed[2] + 1 if parsed[2] < 2**31 - 1 else -(2**31)  # still a signed 32-bit number
        return dumps(parsed)

    def on_trade(self, session: ClientSession, market: SimMarket, trade: SimTrade, now: float) -> list[str]:
        client = self._client(session)
        chan = client.trades.get(market.instrument.symbol)
        if chan is None:
            return []
        amount = number(trade.size) if trade.taker_side == "buy" else -number(trade.size)
        fields = [trade.trade_id, int(trade.timestamp * 1000), amount, number(trade.price)]
        # "te" as the trade executes, "tu" once it is booked: the same trade twice
        return [self._data(client, chan, "te", fields), self._data(client, chan, "tu", fields)]

    def heartbeat(self, session: ClientSession, markets: Markets, now: float) -> list[str]:
        client = self._client(session)
        chans = [w.chan for w in client.books.values()] + list(client.trades.values())
        return [self._data(client, chan, "hb") for chan in sorted(chans)]

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        return None


dialect = BitfinexDialect()
