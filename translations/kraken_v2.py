"""Kraken spot websocket, API v2 (`wss://ws.kraken.com/v2`): the live default.

Dialect (https://docs.kraken.com/api/docs/websocket-v2/book,
https://docs.kraken.com/api/docs/websocket-v2/trade,
https://docs.kraken.com/api/docs/websocket-v2/instrument,
https://docs.kraken.com/api/docs/guides/spot-ws-book-v2 and
https://docs.kraken.com/exchange/guides/websockets/book-checksum-v2.md (the checksum)):
JSON objects; requests are `{"method": "subscribe" | "unsubscribe", "params":
{"channel", "symbol": [...], ...}}`, answered one symbol at a time with
`success` true, or false and an `error`. Symbols are `BTC/USD` (BTC, not v1's
XBT). Data comes as `{"channel", "type": "snapshot" | "update", "data": [...]}`;
`heartbeat` and `status` carry nothing for a book.

Book: a snapshot at the subscribed depth, then updates of levels
(`{"price", "qty"}`, qty 0 removes), each message with a CRC32 `checksum` of
the ten best asks (low to high) then the ten best bids (high to low), every
price and qty written with the pair's full precision, its point and leading
zeros removed. Prices and quantities are JSON numbers, which lose trailing
zeros, so the pair's `price_precision` and `qty_precision` are read from the
`instrument` channel, subscribed first on the same connection (no REST), and
every level is kept as an exact decimal string of that many places
(translations/numbers.py `to_places`). Book data of a pair whose precisions
have not arrived yet waits for them. As in v1, levels pushed beyond the
subscribed depth are never deleted by the venue: each update is followed by a
Truncate to that depth, then a Verify.

A checksum that stops matching, or a book message that cannot be read, costs
that pair alone a Desync and a resubscribe of its book (unsubscribe then
subscribe, which brings a fresh snapshot); the connection's other pairs are
untouched. A refused subscription breaks the connection, as in v1.

Trades: `trade` updates (`side` is the taker's, `trade_id` a number per
book); subscribed without the snapshot of past trades, which would repeat
trades as new ones.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import kraken as kraken_v1
from translations import symbols
from translations.instrument_listing import Listing
from translations.numbers import to_places
from translations.protocol import (
    EVERY_MARKET,
    BookView,
    ChecksumMismatch,
    Desync,
    Instruction,
    Instrument,
    KeepAlive,
    Level,
    Loss,
    Lost,
    Malformed,
    MarketType,
    Reconnect,
    Remedy,
    RestAnswer,
    Snapshot,
    Trade,
    Truncate,
    Update,
    Verify,
)
from translations.scheme_defaults import SchemeDefaults
from translations.timeparse import iso_seconds
from translations.venue_limits import VenueLimits

DEPTHS = (10, 25, 100, 500, 1000)
CHECKSUM_DEPTH = 10
# Book messages of one pair held while its precisions are unknown; the instrument
# snapshot answers the first request on the connection, so a handful at most is normal.
MAX_WAITING = 1000
QUIET_CHANNELS = frozenset({"heartbeat", "status"})
BAD_FRAME = (KeyError, TypeError, ValueError, IndexError, AttributeError)


@dataclass(slots=True)
class Pair:
    instrument: Instrument
    depth: int
    price_places: int = -1  # -1: not known yet (the instrument channel has not named the pair)
    qty_places: int = -1
    snapshot_seen: bool = False
    resyncing: bool = False  # a resubscribe is on its way: old updates are expected, not faults
    waiting: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (type, book data) before precisions


@dataclass(slots=True)
class State:
    pairs: dict[str, Pair]
    depth: int
    by_name: dict[str, Pair] = field(default_factory=dict)  # BASE-QUOTE -> pair, for other spellings
    broken: str | None = None


class KrakenV2Scheme(SchemeDefaults):
    name = "KRAKEN"
    api = ""  # the venue's first API: what a Kraken spot market runs on
    ws_url = "wss://ws.kraken.com/v2"
    rest_url = ""
    market_types: tuple[MarketType, ...] = (MarketType.SPOT,)
    remedies = frozenset({Remedy.RESUBSCRIBE})
    ping_interval: float | None = 30.0
    stale_after = 10.0  # heartbeats come every second when a channel is quiet
    keepalive = KeepAlive('{"channel":"heartbeat"}')

    def __init__(self, depth: int = 1000) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"Kraken book depth must be one of {DEPTHS}")
        self.depth = depth

    # --- instruments -------------------------------------------------------------

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        # v2 names assets by their common codes: BTC/USD, DOGE/USD, never v1's XBT or XDG
        # (https://github.com/nautechsystems/nautilus_trader/issues/3960: XDG/USD is refused).
        return f"{symbols.normalise(base)}/{symbols.normalise(quote)}"

    def from_symbol(self, pair: str) -> Instrument:
        # Both versions write a pair as BASE/QUOTE; reading either spelling is v1's rule.
        return kraken_v1.scheme.from_symbol(pair)

    # --- connection --------------------------------------------------------------

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        pairs = {i.symbol: Pair(i, self.depth) for i in instruments}
        return State(pairs, self.depth, {p.instrument.pair: p for p in pairs.values()})

    def subscribe_msg(self, state: State) -> list[str]:
        names = list(state.pairs)
        return [
            # First: its snapshot names every pair's precisions before the books need them.
            _request("subscribe", {"channel": "instrument", "snapshot": True}),
            _request("subscribe", {"channel": "book", "symbol": names, "depth": state.depth, "snapshot": True}),
            _request("subscribe", {"channel": "trade", "symbol": names, "snapshot": False}),
        ]

    def ping_msg(self, state: State) -> list[str]:
        return ['{"method":"ping"}']

    def checksum(self, book: BookView, symbol: str) -> int:
        """CRC32 of the ten best asks then the ten best bids, each level as its
        price then its qty (written to the pair's precision) without the point
        and leading zeros."""
        return zlib.crc32(book.checksum_text(CHECKSUM_DEPTH, asks_first=True, digits=True))

    # --- translate ---------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if isinstance(frame, dict):
            channel = frame.get("channel")
            if channel is None:
                return self._answer(frame, state), state
            if channel == "book":
                return self._book(frame, state), state
            if channel in QUIET_CHANNELS:
                return [], state
            try:
                if channel == "trade":
                    return self._trades(frame, state), state
                if channel == "instrument":
                    return self._instruments(frame, state), state
            except BAD_FRAME as exc:
                return [Malformed(f"{channel}: {type(exc).__name__} {exc}", frame)], state
            return [Malformed(f"unknown channel {channel!r}", frame)], state
        if isinstance(frame, ChecksumMismatch):
            pair = state.pairs.get(frame.symbol)
            if pair is None:
                return [], state
            reason = f"checksum mismatch: venue {frame.expected}, book {frame.actual}"
            return self._resync(pair, reason, Loss.CHECKSUM), state
        if isinstance(frame, RestAnswer):
            return [], state
        return [Malformed("not a JSON object", frame)], state

    def _pair(self, name: Any, state: State) -> Pair | None:
        pair = state.pairs.get(name) if isinstance(name, str) else None
        if pair is None and isinstance(name, str) and "/" in name:
            # XBT/USD and BTC/USD name one pair: match on normalised names.
            try:
                pair = state.by_name.get(self.from_symbol(name).pair)
            except ValueError:
                return None
        return pair

    def _resync(self, pair: Pair, reason: str, kind: Loss = Loss.GAP) -> list[Instruction]:
        """That pair's book waits for a fresh snapshot; the resync policy picks the remedy
        (level4/feed/resync_policy.py: here, resubscribing the pair alone)."""
        pair.snapshot_seen = False
        pair.resyncing = True
        pair.waiting.clear()
        return [Lost(pair.instrument.symbol, kind, reason)]

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        """The pair's book unsubscribed and subscribed again: a fresh snapshot, the
        connection's other books untouched."""
        pair = state.pairs[symbol]
        name = [symbol]
        return [
            _request("unsubscribe", {"channel": "book", "symbol": name, "depth": pair.depth}),
            _request("subscribe", {"channel": "book", "symbol": name, "depth": pair.depth, "snapshot": True}),
        ]

    # --- book ----------------------------------------------------------------------

    def _book(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        kind = frame.get("type")
        data = frame.get("data")
        if kind not in ("snapshot", "update") or type(data) is not list:
            return [Malformed("book message without a snapshot or update type and a data list", frame)]
        out: list[Instruction] = []
        for entry in data:
            name = entry.get("symbol") if isinstance(entry, dict) else None
            pair = self._pair(name, state)
            if pair is None:
                out.append(Malformed(f"book data for unsubscribed pair {name!r}", frame))
                continue
            if pair.price_places < 0:
                if len(pair.waiting) >= MAX_WAITING:
                    reason = f"no precisions for {pair.instrument.symbol} after {MAX_WAITING} book messages"
                    state.broken = reason
                    return [*out, Malformed(reason, None), Reconnect(reason)]
                pair.waiting.append((kind, entry))
                continue
            self._apply(pair, kind, entry, out)
        return out

    def _apply(self, pair: Pair, kind: str, entry: dict[str, Any], out: list[Instruction]) -> None:
        try:
            bids = _levels(entry["bids"], pair.price_places, pair.qty_places)
            asks = _levels(entry["asks"], pair.price_places, pair.qty_places)
            expected = entry["checksum"]
            if type(expected) is not int:
                raise ValueError("checksum must be an integer")
            stamp = entry.get("timestamp")
            seconds = iso_seconds(stamp) if isinstance(stamp, str) else None
        except BAD_FRAME as exc:
            reason = f"book: {type(exc).__name__} {exc}"
            out.append(Malformed(reason, entry))
            out.extend(self._resync(pair, f"unreadable book message: {reason}", Loss.MALFORMED))
            return
        symbol = pair.instrument.symbol
        if kind == "snapshot":
            pair.snapshot_seen = True
            pair.resyncing = False
            out.append(Snapshot(symbol, bids, asks, None, seconds))
            out.append(Verify(symbol, expected))
            return
        if not pair.snapshot_seen:
            if not pair.resyncing:  # else the old subscription's tail, before the new snapshot
                out.extend(self._resync(pair, "book update before snapshot"))
            return
        out.append(Update(symbol, bids, asks, None, seconds))
        out.append(Truncate(symbol, pair.depth))
        out.append(Verify(symbol, expected))

    # --- instruments ---------------------------------------------------------------

    def _instruments(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        """Precisions of the subscribed pairs; the book data that waited for them."""
        data = frame["data"]
        listed = data.get("pairs") if isinstance(data, dict) else None
        if type(listed) is not list:
            raise ValueError("instrument data without a pairs list")
        out: list[Instruction] = []
        for info in listed:
            pair = self._pair(info.get("symbol"), state) if isinstance(info, dict) else None
            if pair is None:
                continue
            places, qty_places = info["price_precision"], info["qty_precision"]
            if type(places) is not int or type(qty_places) is not int or places < 0 or qty_places < 0:
                out.append(Malformed(f"{pair.instrument.symbol}: precisions must be whole numbers", info))
                continue
            known = pair.price_places >= 0
            if known and (places, qty_places) == (pair.price_places, pair.qty_places):
                continue
            pair.price_places, pair.qty_places = places, qty_places
            if known and pair.snapshot_seen:
                # The book's levels are written to the old precisions: a fresh snapshot rewrites them.
                out.extend(self._resync(pair, "the pair's precisions changed"))
            waiting, pair.waiting = pair.waiting, []
            for kind, entry in waiting:
                self._apply(pair, kind, entry, out)
        if frame.get("type") == "snapshot":
            unnamed = sorted(s for s, p in state.pairs.items() if p.price_places < 0)
            if unnamed:
                reason = f"the venue's instrument list has no {', '.join(unnamed)}"
                state.broken = reason
                out.append(Malformed(reason, None))
                out.extend(Desync(s, reason) for s in unnamed)
                out.append(Reconnect(reason))
        return out

    # --- trades ----------------------------------------------------------------------

    def _trades(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        if frame.get("type") == "snapshot":
            return []  # past trades, not new ones
        out: list[Instruction] = []
        for t in frame["data"]:
            pair = self._pair(t["symbol"], state)
            if pair is None:
                continue
            side = t["side"]
            if side not in ("buy", "sell"):
                raise ValueError("side must be buy or sell")
            price, qty = _trade_number(t["price"], pair.price_places), _trade_number(t["qty"], pair.qty_places)
            tid = t.get("trade_id")
            stamp = t.get("timestamp")
            seconds = iso_seconds(stamp) if isinstance(stamp, str) else None
            out.append(Trade(pair.instrument.symbol, side, price, qty, None if tid is None else str(tid), seconds))
        return out

    # --- answers to requests -------------------------------------------------------------

    def _answer(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        method = frame.get("method")
        if frame.get("success") is False or "error" in frame:
            result = frame.get("result")
            name = frame.get("symbol") or (result.get("symbol") if isinstance(result, dict) else None)
            reason = f"venue refused {method or 'a request'}: {frame.get('error')}" + (f" ({name})" if name else "")
            if method == "unsubscribe":
                return [Malformed(reason, frame)]  # the subscribe that follows it decides
            out: list[Instruction] = [Malformed(reason, frame)]
            pair = self._pair(name, state)
            if pair is not None:
                pair.snapshot_seen = False
                out.append(Desync(pair.instrument.symbol, reason))
            state.broken = reason
            out.append(Reconnect(reason))
            return out
        if method in ("subscribe", "unsubscribe", "pong"):
            return []
        return [Malformed(f"unknown message (method {method!r})", frame)]

    # --- instrument list (translations/instrument_listing.py) ------------------------
    # The same AssetPairs list as v1 (translations/kraken.py); v2 names each pair by its
    # normalised codes (BTC/USD where v1's wsname says XBT/USD).
    list_url = "https://api.kraken.com"
    list_paths: tuple[str, ...] = ("/0/public/AssetPairs",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        out: list[Listing] = []
        for listed in kraken_v1.scheme.instruments_from_list(path, body):
            i = listed.instrument
            v2 = Instrument(i.base, i.quote, i.market_type, self.venue_symbol(i.base, i.quote, i.market_type))
            out.append(Listing(v2, listed.tick_size, listed.lot_size, listed.expiry, listed.trading))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("method") != "subscribe":
            return []
        params = frame.get("params")
        if not isinstance(params, dict) or params.get("channel") not in ("book", "trade"):
            return []
        return [s for s in params.get("symbol") or [] if isinstance(s, str)]

    # --- shared connections ----------------------------------------------------------
    # Several pairs on one connection, added and removed by subscribe / unsubscribe
    # requests naming them (https://docs.kraken.com/api/docs/websocket-v2/book). Book and
    # trade messages name their pairs in `data`; the instrument list serves every pair.

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is not dict:
            return None, conn_state
        channel = frame.get("channel")
        if channel == "book" or channel == "trade":
            data = frame.get("data")
            if type(data) is list:
                names = tuple(e["symbol"] for e in data if type(e) is dict and type(e.get("symbol")) is str)
                return (names or None), conn_state
            return None, conn_state
        if channel == "instrument":
            return EVERY_MARKET, conn_state
        if channel is None:
            result = frame.get("result")
            name = frame.get("symbol") or (result.get("symbol") if type(result) is dict else None)
            return ((name,) if type(name) is str else None), conn_state
        return None, conn_state  # heartbeats and status: the connection's own

    def unsubscribe_msg(self, state: State) -> list[str]:
        names = list(state.pairs)
        return [
            _request("unsubscribe", {"channel": "book", "symbol": names, "depth": state.depth}),
            _request("unsubscribe", {"channel": "trade", "symbol": names}),
        ]


def _request(method: str, params: dict[str, Any]) -> str:
    return orjson.dumps({"method": method, "params": params}).decode()


def _levels(raw: Any, places: int, qty_places: int) -> list[Level]:
    if type(raw) is not list:
        raise ValueError("bids and asks must be lists")
    return [(to_places(lv["price"], places), to_places(lv["qty"], qty_places)) for lv in raw]


def _trade_number(value: Any, places: int) -> str:
    """A trade's price or qty as the book writes it where it can be (a trade's
    price is an average and may carry more decimals than the pair's)."""
    if places >= 0:
        try:
            return to_places(value, places)
        except ValueError:
            pass
    return to_places(value, -1)


# v1 and v2 are served by the same spot websocket service, under the same limits (translations/kraken.py).
limits: VenueLimits = kraken_v1.limits

scheme = KrakenV2Scheme()
