"""Bitfinex websocket API v2, public channels.

A connection first sends `conf` to turn on two integrity flags: SEQ_ALL
appends a connection-wide sequence number to every data frame (so any lost
frame shows as a gap, whatever channel it belonged to), and OB_CHECKSUM adds
`[chanId, "cs", crc]` frames after book changes (CRC32 over the top 25 levels).
Then one `book` (P0, F0) and one `trades` subscription per market; the
venue answers each with a `subscribed` event naming the channel id that
tags every later frame of that channel.

Numbers arrive as JSON numbers. They become decimal strings through their
shortest round-trip form, which is also what the venue's own (JavaScript)
serialiser produced, and a negative amount is turned into a size by removing
its sign as text, never by arithmetic.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError
from translations.numbers import to_decimal_str
from translations.protocol import (
    BookView,
    ChecksumMismatch,
    Desync,
    Instruction,
    Instrument,
    Level,
    Loss,
    Lost,
    Malformed,
    MarketType,
    Reconnect,
    Remedy,
    Renew,
    RestAnswer,
    Snapshot,
    Targets,
    Trade,
    Update,
    Verify,
)
from translations.scheme_defaults import SchemeDefaults
from translations.venue_limits import VenueLimits

SEQ_ALL = 65536
OB_CHECKSUM = 131072
FLAGS = SEQ_ALL | OB_CHECKSUM
CONF = orjson.dumps({"event": "conf", "flags": FLAGS}).decode()
BOOK_LEN = "100"
CHECKSUM_DEPTH = 25

# Bitfinex calls Tether UST (elsewhere UST is TerraUSD).
ALIASES = {"UST": "USDT"}
VENUE_CODES = {"USDT": "UST"}

# info event codes
RESTARTING = 20051
MAINTENANCE_END = 20061

_NO_LEVELS: tuple[Level, ...] = ()
_RECENT_TRADES = 256  # "te" ids remembered so the matching "tu" is not a second trade


@dataclass(slots=True)
class Market:
    instrument: Instrument
    book_chan: int | None = None
    snapshot_seen: bool = False
    # ids of trades already reported from "te", waiting for their "tu"
    reported: dict[int, None] = field(default_factory=dict)


@dataclass(slots=True)
class Channel:
    kind: str  # "book", "trades", or another channel the connection carries (ticker)
    market: Market | None


@dataclass(slots=True)
class Connection:
    """What routing needs of one connection: the channel ids the venue assigned
    (each to its market's symbol), the flags it acknowledged and the
    connection-wide sequence. Only `route`, `subscribe_on` and `unsubscribe_on` change it."""

    channels: dict[int, str] = field(default_factory=dict)  # chanId -> venue symbol
    retired: set[int] = field(default_factory=set)  # unsubscribed; their last frames are dropped
    flags: int = 0
    configured: bool = False  # its `conf` has gone out (one a connection: `subscribe_on`)
    sequence: int | None = None
    broken: str | None = None  # renewing: nothing more is routed


@dataclass(slots=True)
class State:
    markets: dict[str, Market] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    retired: set[int] = field(default_factory=set)  # unsubscribed; their last frames are dropped
    flags: int = 0  # as the venue acknowledged them
    sequence: int | None = None
    broken: str | None = None


def js_number(text: str) -> str:
    """A decimal string as JavaScript's Number#toString writes it, which is
    how the venue writes the values its checksum covers: shortest digits,
    no trailing zeros, exponent form below 1e-6 ("2e-8") and from 1e21."""
    if not (
        "e" in text or "E" in text or text.startswith(("0.000000", "-0.000000")) or ("." in text and text[-1] == "0")
    ):
        return text  # already the shortest form, as every value the venue sent is
    r = repr(float(text))
    mantissa, _, exp_text = r.partition("e")
    if not exp_text:
        return r[:-2] if r.endswith(".0") else r
    exp = int(exp_text)
    if not -7 < exp < 21:
        return f"{mantissa}e{'+' if exp > 0 else '-'}{abs(exp)}"
    # Python writes exponents outside [1e-4, 1e16), JavaScript only outside [1e-6, 1e21).
    sign = "-" if mantissa.startswith("-") else ""
    unsigned = mantissa.lstrip("-")
    point = unsigned.find(".")
    digits = unsigned.replace(".", "")
    position = (len(unsigned) if point < 0 else point) + exp
    if position <= 0:
        return f"{sign}0.{'0' * -position}{digits}"
    if position >= len(digits):
        return sign + digits + "0" * (position - len(digits))
    return f"{sign}{digits[:position]}.{digits[position:]}"


def book_checksum(bids: Sequence[Level], asks: Sequence[Level]) -> int:
    """Bitfinex's book checksum: CRC32 of "price:amount" of the top 25 bids and
    asks interleaved (bid 1, ask 1, bid 2, ...), asks' amounts negative, as a
    signed 32-bit integer."""
    parts: list[str] = []
    for i in range(CHECKSUM_DEPTH):
        if i < len(bids):
            parts.append(js_number(bids[i][0]))
            parts.append(js_number(bids[i][1]))
        if i < len(asks):
            parts.append(js_number(asks[i][0]))
            parts.append("-" + js_number(asks[i][1]))
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class BitfinexScheme(SchemeDefaults):
    name = "BITFINEX"
    ws_url = "wss://api-pub.bitfinex.com/ws/2"
    rest_url = ""  # the websocket sends its own snapshots
    market_types: tuple[MarketType, ...] = (MarketType.SPOT, MarketType.PERP)
    ping_interval: float | None = None  # every channel sends a heartbeat when it has been quiet
    stale_after = 35.0  # heartbeats come every 15 seconds
    remedies = frozenset({Remedy.RESUBSCRIBE})
    level_counts = True  # levels are (price, size, orders): P0 books count the orders at each price

    # --- instruments -------------------------------------------------------------

    aliases: dict[str, str] | None = ALIASES

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        b, q = VENUE_CODES.get(base, base), VENUE_CODES.get(quote, quote)
        if market_type is MarketType.PERP:
            return f"t{b}F0:{q}F0"
        return f"t{b}{q}" if len(b) == 3 and len(q) == 3 else f"t{b}:{q}"

    def from_symbol(self, symbol: str) -> Instrument:
        if not symbol.startswith("t"):
            raise ValueError(f"not a Bitfinex trading symbol: {symbol!r}")
        body = symbol[1:]
        if ":" in body:
            base, _, quote = body.partition(":")
        elif len(body) == 6:
            base, quote = body[:3], body[3:]
        else:
            raise ValueError(f"not a Bitfinex trading symbol: {symbol!r}")
        if not base or not quote:
            raise ValueError(f"not a Bitfinex trading symbol: {symbol!r}")
        market_type = MarketType.SPOT
        if base.endswith("F0") and quote.endswith("F0"):
            market_type, base, quote = MarketType.PERP, base[:-2], quote[:-2]
        return Instrument(symbols.normalise(base, ALIASES), symbols.normalise(quote, ALIASES), market_type, symbol)

    # --- connection --------------------------------------------------------------

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Market(i) for i in instruments})

    def _book_subscribe(self, symbol: str) -> str:
        return orjson.dumps(
            {"event": "subscribe", "channel": "book", "symbol": symbol, "prec": "P0", "freq": "F0", "len": BOOK_LEN}
        ).decode()

    def subscribe_msg(self, state: State) -> list[str]:
        return [CONF, *self._subscribes(state)]

    def _subscribes(self, state: State) -> list[str]:
        out: list[str] = []
        for symbol in state.markets:
            out.append(self._book_subscribe(symbol))
            out.append(orjson.dumps({"event": "subscribe", "channel": "trades", "symbol": symbol}).decode())
        return out

    def checksum(self, book: BookView, symbol: str) -> int:
        return book_checksum(book.bids_levels(CHECKSUM_DEPTH), book.asks_levels(CHECKSUM_DEPTH))

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if type(frame) is list:
            try:
                return self._data(frame, state), state
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                return self._bad(frame, state, f"{type(exc).__name__} {exc}"), state
        if isinstance(frame, dict):
            try:
                return self._event(frame, state), state
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                return [Malformed(f"event: {type(exc).__name__} {exc}", frame)], state
        if isinstance(frame, ChecksumMismatch):
            market = state.markets.get(frame.symbol)
            if market is None:
                return [], state
            return [self._lost(market, Loss.CHECKSUM, f"checksum {frame.actual} != venue's {frame.expected}")], state
        if isinstance(frame, RestAnswer):
            return [], state
        return [Malformed("not a JSON array or object", frame)], state

    def _data(self, frame: list[Any], state: State) -> list[Instruction]:
        data = frame[1]
        sequence: int | None = None
        if state.flags & SEQ_ALL:
            sequence = frame[-1]
            if type(sequence) is not int:
                raise ValueError("no sequence number")
            last = state.sequence
            if last is not None and sequence != last + 1:
                if sequence <= last:
                    return [Malformed(f"sequence {sequence} after {last}: dropped as a repeat", frame)]
                state.sequence = sequence
                return self._gap(state, f"sequence gap {last} -> {sequence}")
            state.sequence = sequence
        if state.broken is not None:
            return []  # the connection is being replaced; its books wait for the new one
        channel = state.channels.get(frame[0])
        if channel is None:
            # Heartbeats may precede a channel's `subscribed` event.
            if data == "hb" or frame[0] in state.retired:
                return []
            return [Malformed(f"data on unknown channel {frame[0]}", frame)]
        market = channel.market
        if market is None:
            return []
        kind = channel.kind
        if kind == "book":
            if type(data) is list:
                if data and type(data[0]) is not list:
                    return self._level(market, data, sequence, state)
                return self._snapshot(market, data, sequence)
            if data == "cs":
                if not market.snapshot_seen:
                    return []
                expected = frame[2]
                if type(expected) is not int:
                    raise ValueError("checksum is not an integer")
                return [Verify(market.instrument.symbol, expected)]
            if data == "hb":
                return []
            raise ValueError(f"unknown book frame {data!r}")
        if kind == "trades":
            if data == "te" or data == "tu":
                return self._trade(market, frame[2], data == "te")
            # the list sent on subscribing is history, not new trades
            return []
        return []

    def _snapshot(self, market: Market, levels: list[Any], sequence: int | None) -> list[Instruction]:
        bids: list[Level] = []
        asks: list[Level] = []
        for price, count, amount in levels:
            size = to_decimal_str(amount)
            if size[0] == "-":
                asks.append((to_decimal_str(price), size[1:], count))
            else:
                bids.append((to_decimal_str(price), size, count))
        market.snapshot_seen = True
        return [Snapshot(market.instrument.symbol, bids, asks, sequence)]

    def _level(self, market: Market, level: list[Any], sequence: int | None, state: State) -> list[Instruction]:
        price, count, amount = level
        symbol = market.instrument.symbol
        if not market.snapshot_seen:
            return [self._lost(market, Loss.GAP, "book change before its snapshot")]
        if count == 0:
            # a removal: the amount is 1 for a bid, -1 for an ask
            gone: tuple[Level, ...] = ((to_decimal_str(price), "0", 0),)
            if amount > 0:
                return [Update(symbol, gone, _NO_LEVELS, sequence)]
            return [Update(symbol, _NO_LEVELS, gone, sequence)]
        size = to_decimal_str(amount)
        if size[0] == "-":
            return [Update(symbol, _NO_LEVELS, ((to_decimal_str(price), size[1:], count),), sequence)]
        return [Update(symbol, ((to_decimal_str(price), size, count),), _NO_LEVELS, sequence)]

    def _trade(self, market: Market, fields: list[Any], executed: bool) -> list[Instruction]:
        trade_id, mts, amount, price = fields[0], fields[1], fields[2], fields[3]
        reported = market.reported
        if executed:
            reported[trade_id] = None
            if len(reported) > _RECENT_TRADES:
                del reported[next(iter(reported))]
        elif trade_id in reported:
            del reported[trade_id]  # the update of a trade already reported
            return []
        size = to_decimal_str(amount)
        side = "buy"
        if size[0] == "-":
            side, size = "sell", size[1:]
        return [Trade(market.instrument.symbol, side, to_decimal_str(price), size, str(trade_id), mts / 1000.0)]

    # --- integrity -------------------------------------------------------------

    def _gap(self, state: State, reason: str) -> list[Instruction]:
        """The sequence spans every channel, so a lost frame may have belonged
        to any market: all of them resync, on a new connection."""
        state.broken = reason
        out: list[Instruction] = [Desync(symbol, reason) for symbol in state.markets]
        for market in state.markets.values():
            market.snapshot_seen = False
        out.append(Reconnect(reason))
        return out

    def _lost(self, market: Market, kind: Loss, reason: str) -> Lost:
        market.snapshot_seen = False
        return Lost(market.instrument.symbol, kind, reason)

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        """A fresh subscription brings a fresh snapshot; none without a
        channel to renew (only a new connection can help then)."""
        market = state.markets[symbol]
        chan = market.book_chan
        if chan is None:
            return []
        state.channels.pop(chan, None)
        state.retired.add(chan)
        market.book_chan = None
        return [orjson.dumps({"event": "unsubscribe", "chanId": chan}).decode(), self._book_subscribe(symbol)]

    def _bad(self, frame: list[Any], state: State, reason: str) -> list[Instruction]:
        """A book frame we could not read may have carried a change: resync it."""
        out: list[Instruction] = [Malformed(reason, frame)]
        channel = state.channels.get(frame[0]) if frame and type(frame[0]) is int else None
        if channel is not None and channel.kind == "book" and channel.market is not None:
            out.append(self._lost(channel.market, Loss.MALFORMED, f"unreadable book frame: {reason}"))
        return out

    # --- events ------------------------------------------------------------------

    def _event(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        event = frame.get("event")
        if event == "subscribed":
            chan = frame["chanId"]
            kind = frame.get("channel", "")
            symbol = frame.get("symbol") or ""
            market = state.markets.get(symbol)
            if kind == "book" and market is not None:
                if frame.get("prec", "P0") != "P0":
                    # other precisions aggregate levels; raw books key by order id
                    state.channels[chan] = Channel("unusable book", None)
                    return [Malformed(f"book {symbol} subscribed at precision {frame.get('prec')}", frame)]
                market.book_chan = chan
                market.snapshot_seen = False
            state.channels[chan] = Channel(kind, market)
            return []
        if event == "conf":
            if frame.get("status") != "OK":
                return [Malformed(f"conf refused: {frame}", frame)]
            state.flags = int(frame.get("flags", 0))
            return []
        if event == "info":
            code = frame.get("code")
            if code in (RESTARTING, MAINTENANCE_END):
                reason = f"venue info {code}: {frame.get('msg', '')}".strip()
                return self._gap(state, reason)
            return []
        if event in ("unsubscribed", "pong"):
            if event == "unsubscribed":
                state.channels.pop(frame.get("chanId", -1), None)
            return []
        if event == "error":
            reason = f"venue error {frame.get('code')}: {frame.get('msg')}"
            out: list[Instruction] = [Malformed(reason, frame)]
            market = state.markets.get(frame.get("symbol") or "")
            if market is not None and frame.get("channel") == "book" and market.book_chan is None:
                # the book subscription failed: without it the book stays empty
                out.append(self._lost(market, Loss.VENUE_ERROR, reason))
            return out
        return [Malformed(f"unknown event {event!r}", frame)]

    # --- shared connections (translations.protocol.Routing) ----------------------------
    #
    # Channel ids tag every data frame, so routing is a lookup of the ids the
    # `subscribed` events assigned. The SEQ_ALL sequence spans every channel of
    # the connection: route checks it, and a gap renews the connection, since
    # the lost frame may have belonged to any market on it. A market's own state
    # never sees the `conf` answer, so it reads no sequence and checks none;
    # its checksum failure resubscribes that market alone.

    def connection_state(self) -> Connection:
        return Connection()

    def route(self, frame: Any, conn: Connection) -> tuple[Targets, Connection]:
        if type(frame) is list:
            return self._route_data(frame, conn), conn
        if not isinstance(frame, dict):
            return None, conn
        event = frame.get("event")
        if event == "subscribed":
            symbol = frame.get("symbol")
            chan = frame.get("chanId")
            if not isinstance(symbol, str) or type(chan) is not int:
                return None, conn
            conn.channels[chan] = symbol
            conn.retired.discard(chan)
            return (symbol,), conn
        if event == "unsubscribed":
            chan = frame.get("chanId")
            conn.channels.pop(chan, None)  # type: ignore[arg-type]
            conn.retired.discard(chan)  # type: ignore[arg-type]  # nothing more comes on it
            return (), conn  # its market has already left, or resubscribes afresh
        if event == "conf":
            if frame.get("status") == "OK":
                conn.flags = int(frame.get("flags", 0))
            return None, conn
        if event == "info" and frame.get("code") in (RESTARTING, MAINTENANCE_END):
            reason = f"venue info {frame.get('code')}: {frame.get('msg', '')}".strip()
            conn.broken = reason
            return Renew(reason), conn
        if event == "error":
            symbol = frame.get("symbol")
            return ((symbol,) if isinstance(symbol, str) and symbol else None), conn
        return None, conn  # the greeting, pongs, other notices: the connection's

    def _route_data(self, frame: list[Any], conn: Connection) -> Targets:
        if not frame:
            return None
        if conn.flags & SEQ_ALL:
            sequence = frame[-1]
            if type(sequence) is int:
                last = conn.sequence
                if last is not None and sequence != last + 1:
                    if sequence <= last:
                        return ()  # a repeat: already routed once
                    conn.sequence = sequence
                    conn.broken = f"sequence gap {last} -> {sequence}"
                    return Renew(conn.broken)
                conn.sequence = sequence
        if conn.broken is not None:
            return ()
        chan = frame[0]
        symbol = conn.channels.get(chan) if type(chan) is int else None
        if symbol is None:
            # Frames of a channel being left still come until its `unsubscribed`.
            return () if chan in conn.retired else None
        return (symbol,)

    def unsubscribe_msg(self, state: State) -> list[str]:
        """Unsubscribes of the channels this state knows (a connection's own state)."""
        return [orjson.dumps({"event": "unsubscribe", "chanId": chan}).decode() for chan in sorted(state.channels)]

    def subscribe_on(self, conn: Connection, state: State) -> tuple[list[str], Connection]:
        """The markets of `state` subscribed on the connection: the flags are a setting of
        the connection, sent when it opens ("sending a 'conf' event ... when opening your
        WebSocket connection": https://docs.bitfinex.com/docs/ws-websocket-checksum),
        so only its first subscribe request carries them."""
        frames = self._subscribes(state)
        if not conn.configured:
            conn.configured = True
            frames.insert(0, CONF)
        return frames, conn

    def unsubscribe_on(self, conn: Connection, symbols: Sequence[str]) -> tuple[list[str], Connection]:
        """Unsubscribes of every channel of these markets on the connection."""
        leaving = set(symbols)
        frames: list[str] = []
        for chan, symbol in sorted(conn.channels.items()):
            if symbol in leaving:
                del conn.channels[chan]
                conn.retired.add(chan)
                frames.append(orjson.dumps({"event": "unsubscribe", "chanId": chan}).decode())
        return frames, conn

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # The configuration lists of trading pairs, spot and perpetual ("F0" pairs); names
    # only: no tick or lot sizes, and every listed pair trades
    # (https://docs.bitfinex.com/reference/rest-public-conf).
    list_url = "https://api-pub.bitfinex.com"
    list_paths: tuple[str, ...] = ("/v2/conf/pub:list:pair:exchange", "/v2/conf/pub:list:pair:future")

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        if not (isinstance(body, list) and len(body) == 1 and isinstance(body[0], list)):
            raise ListingError("a Bitfinex pair list is one list of pair names")
        out: list[Listing] = []
        for pair in body[0]:
            if not isinstance(pair, str):
                raise ListingError(f"not a Bitfinex pair: {pair!r}")
            try:
                out.append(Listing(self.from_symbol("t" + pair)))
            except ValueError:
                continue  # a pair of a spelling level4 cannot read: left out
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("event") != "subscribe" or frame.get("channel") != "book":
            return []
        symbol = frame.get("symbol") or frame.get("pair")
        if not isinstance(symbol, str):
            return []
        return [symbol if symbol.startswith("t") else "t" + symbol]


# Bitfinex public websocket: 20 connections a minute, 25 channels per connection
# (a market takes two, book and trades: twelve markets a connection).
# https://docs.bitfinex.com/docs/ws-public
# No number is published for messages sent per connection: 5 a second is assumed. REST limits
# run from 10 to 90 requests a minute by endpoint (the scheme makes no REST calls): the lowest.
# https://docs.bitfinex.com/docs/requirements-and-limitations
limits = VenueLimits(
    connects=20,
    connect_window=60.0,
    streams_per_connection=25,
    sends_per_second=5,
    rest_budget=10,
    rest_window=60.0,
)

scheme = BitfinexScheme()
