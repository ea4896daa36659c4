"""Kraken spot websocket, API v1 (wss://ws.kraken.com).

Channels: `book` (a snapshot at the subscribed depth, then level updates, each
carrying a CRC32 of the top ten levels a side) and `trade`. The book feed has
no sequence numbers; the checksum is its integrity signal, so every update is
followed by a Verify. Kraken never sends deletes for levels that an insert
pushes beyond the subscribed depth, so each update is followed by a Truncate
to that depth before the Verify. A level that moves back into range after a
delete is republished with an "r" flag: an ordinary set.

A checksum that stops matching costs that pair a Desync and a resubscribe
(unsubscribe then subscribe, which brings a fresh snapshot); the other pairs
on the connection are untouched.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimal_text, decimals_step
from translations.protocol import (
    BookView,
    ChecksumMismatch,
    Instruction,
    Instrument,
    KeepAlive,
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
    refused,
)
from translations.scheme_defaults import SchemeDefaults
from translations.venue_limits import VenueLimits

# Kraken's websocket names for assets whose normalised code differs.
VENUE_CODES = {"BTC": "XBT", "DOGE": "XDG"}
TAKER = {"b": "buy", "s": "sell", "buy": "buy", "sell": "sell"}
DEPTHS = (10, 25, 100, 500, 1000)
CHECKSUM_DEPTH = 10


@dataclass(slots=True)
class Pair:
    instrument: Instrument
    depth: int
    snapshot_seen: bool = False
    resyncing: bool = False  # a resubscribe is on its way: old updates are expected, not faults


@dataclass(slots=True)
class State:
    pairs: dict[str, Pair]
    depth: int
    by_name: dict[str, Pair] = field(default_factory=dict)  # BASE-QUOTE -> pair, for other spellings
    broken: str | None = None


class KrakenScheme(SchemeDefaults):
    name = "KRAKEN"
    api = "v1"  # frozen: kept to replay sessions recorded with it (translations/kraken_v2.py is live)
    ws_url = "wss://ws.kraken.com"
    rest_url = ""
    market_types: tuple[MarketType, ...] = (MarketType.SPOT,)
    ping_interval: float | None = 30.0
    stale_after = 10.0  # heartbeats come every second when a channel is quiet
    remedies = frozenset({Remedy.RESUBSCRIBE})
    keepalive = KeepAlive('{"event":"heartbeat"}')

    def __init__(self, depth: int = 1000) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"Kraken book depth must be one of {DEPTHS}")
        self.depth = depth

    # --- instruments -------------------------------------------------------------

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        base, quote = symbols.normalise(base), symbols.normalise(quote)
        return f"{VENUE_CODES.get(base, base)}/{VENUE_CODES.get(quote, quote)}"

    def from_symbol(self, pair: str) -> Instrument:
        base, _, quote = pair.partition("/")
        if not base or not quote:
            raise ValueError(f"not a Kraken websocket pair: {pair!r}")
        return Instrument(symbols.normalise(base), symbols.normalise(quote), MarketType.SPOT, pair)

    # --- connection --------------------------------------------------------------

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        pairs = {i.symbol: Pair(i, self.depth) for i in instruments}
        return State(pairs, self.depth, {p.instrument.pair: p for p in pairs.values()})

    def _subscription(self, event: str, pairs: list[str], name: str, depth: int | None = None) -> str:
        sub: dict[str, Any] = {"name": name} if depth is None else {"name": name, "depth": depth}
        return orjson.dumps({"event": event, "pair": pairs, "subscription": sub}).decode()

    def subscribe_msg(self, state: State) -> list[str]:
        pairs = list(state.pairs)
        return [
            self._subscription("subscribe", pairs, "book", state.depth),
            self._subscription("subscribe", pairs, "trade"),
        ]

    def ping_msg(self, state: State) -> list[str]:
        return ['{"event":"ping"}']

    def checksum(self, book: BookView, symbol: str) -> int:
        """CRC32 of the ten best asks then the ten best bids, each level as
        its price then its volume with the point and leading zeros removed."""
        return zlib.crc32(book.checksum_text(CHECKSUM_DEPTH, asks_first=True, digits=True))

    # --- translate ---------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if type(frame) is list:
            try:
                return self._channel(frame, state), state
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                return self._bad(frame, state, f"{type(exc).__name__} {exc}"), state
        if isinstance(frame, dict):
            return self._event(frame, state), state
        if isinstance(frame, ChecksumMismatch):
            pair = state.pairs.get(frame.symbol)
            if pair is None:
                return [], state
            reason = f"checksum mismatch: venue {frame.expected}, book {frame.actual}"
            return self._lost(pair, Loss.CHECKSUM, reason), state
        if isinstance(frame, RestAnswer):
            return [], state
        return [Malformed("not a JSON frame", frame)], state

    def _pair(self, name: Any, state: State) -> Pair | None:
        pair = state.pairs.get(name)
        if pair is None and isinstance(name, str) and "/" in name:
            # Kraken also accepts BTC/USD for XBT/USD; match on normalised names.
            try:
                pair = state.by_name.get(self.from_symbol(name).pair)
            except ValueError:
                return None
        return pair

    def _lost(self, pair: Pair, kind: Loss, reason: str) -> list[Instruction]:
        pair.snapshot_seen = False
        pair.resyncing = True  # until the snapshot the remedy brings
        return [Lost(pair.instrument.symbol, kind, reason)]

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        depth = state.pairs[symbol].depth
        return [
            self._subscription("unsubscribe", [symbol], "book", depth),
            self._subscription("subscribe", [symbol], "book", depth),
        ]

    def _bad(self, frame: list[Any], state: State, reason: str) -> list[Instruction]:
        """A book frame we could not read may have carried a change: resync that pair."""
        out: list[Instruction] = [Malformed(reason, frame)]
        if len(frame) >= 4 and isinstance(frame[-2], str) and frame[-2].startswith("book"):
            pair = self._pair(frame[-1], state)
            if pair is not None:
                out.extend(self._lost(pair, Loss.MALFORMED, f"unreadable book frame: {reason}"))
        return out

    def _channel(self, frame: list[Any], state: State) -> list[Instruction]:
        channel = frame[-2]
        pair = self._pair(frame[-1], state)
        if pair is None:
            return [Malformed(f"{channel} frame for unsubscribed pair {frame[-1]!r}", frame)]
        if channel == "trade":
            return self._trades(frame[1], pair)
        if channel[:4] != "book":
            return [Malformed(f"unknown channel {channel!r}", frame)]
        payload = frame[1]
        symbol = pair.instrument.symbol
        if "as" in payload or "bs" in payload:
            if channel[4:5] == "-":
                pair.depth = int(channel[5:])
            pair.snapshot_seen = True
            pair.resyncing = False
            return [Snapshot(symbol, payload.get("bs", ()), payload.get("as", ()))]
        asks: Sequence[Any] = ()
        bids: Sequence[Any] = ()
        expected: str | None = None
        for part in frame[1:-2]:
            if "a" in part:
                asks = part["a"] if not asks else [*asks, *part["a"]]
            if "b" in part:
                bids = part["b"] if not bids else [*bids, *part["b"]]
            expected = part.get("c", expected)
        if not pair.snapshot_seen:
            if pair.resyncing:
                return []  # the old subscription's tail, before the new snapshot
            return self._lost(pair, Loss.GAP, "book update before snapshot")
        stamp = max(float(asks[-1][2]) if asks else 0.0, float(bids[-1][2]) if bids else 0.0)
        out: list[Instruction] = [
            Update(symbol, bids, asks, None, stamp or None),
            Truncate(symbol, pair.depth),
        ]
        if expected is not None:
            out.append(Verify(symbol, int(expected)))
        return out

    def _trades(self, trades: list[Any], pair: Pair) -> list[Instruction]:
        symbol = pair.instrument.symbol
        return [Trade(symbol, TAKER[t[3]], t[0], t[1], None, float(t[2])) for t in trades]

    def _event(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        event = frame.get("event")
        if event in ("heartbeat", "pong", "systemStatus"):
            return []
        if event == "subscriptionStatus":
            if frame.get("status") != "error":
                return []
            reason = f"subscription refused: {frame.get('errorMessage')} ({frame.get('pair')})"
            out: list[Instruction] = [Malformed(reason, frame)]
            pair = self._pair(frame.get("pair"), state)
            state.broken = reason
            if pair is not None:
                pair.snapshot_seen = False
                out.append(Lost(pair.instrument.symbol, Loss.VENUE_ERROR, reason))
            else:
                out.append(Reconnect(reason, backoff=True))
            return out
        if event == "error":
            reason = f"venue error: {frame.get('errorMessage')}"
            state.broken = reason
            return refused(state.pairs, reason, frame)
        return [Malformed(f"unknown event {event!r}", frame)]

    # --- shared connections ----------------------------------------------------------
    # Pairs are added to and removed from one connection by `subscribe` /
    # `unsubscribe` events listing them; every channel message ends with its
    # channel name and pair, and each request is answered per pair by a
    # `subscriptionStatus` naming it
    # (https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/unsubscribe.md,
    # https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/subscriptionstatus.md).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is list:
            pair = frame[-1] if frame else None
            return ((pair,) if type(pair) is str else None), conn_state
        if type(frame) is dict and frame.get("event") == "subscriptionStatus":
            pair = frame.get("pair")
            return ((pair,) if type(pair) is str else None), conn_state
        return None, conn_state  # heartbeats, pongs, system status, errors naming no pair

    def unsubscribe_msg(self, state: State) -> list[str]:
        pairs = list(state.pairs)
        return [
            self._subscription("unsubscribe", pairs, "book", state.depth),
            self._subscription("unsubscribe", pairs, "trade"),
        ]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Tradable asset pairs, keyed by Kraken's own pair name; wsname ("XBT/USD") is the
    # name the websocket speaks, so it is the listing's symbol. tick_size where the
    # answer has it, else pair_decimals; lot_decimals; status (newer answers)
    # (https://docs.kraken.com/api/docs/rest-api/get-tradable-asset-pairs). Dark-pool
    # pairs (".d") have no wsname and no public book: left out.
    list_url = "https://api.kraken.com"
    list_paths: tuple[str, ...] = ("/0/public/AssetPairs",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        if not isinstance(body, dict) or body.get("error") or not isinstance(body.get("result"), dict):
            raise ListingError(f"not a Kraken AssetPairs answer: {str(body)[:200]}")
        out: list[Listing] = []
        for key, item in body["result"].items():
            if not isinstance(item, dict):
                raise ListingError(f"not a Kraken asset pair: {key!r}")
            wsname = item.get("wsname")
            if not isinstance(wsname, str):
                continue
            try:
                ins = self.from_symbol(wsname)
            except ValueError:
                continue  # a websocket name level4 cannot read: left out
            tick = decimal_text(item.get("tick_size")) or decimals_step(item.get("pair_decimals"))
            lot = decimals_step(item.get("lot_decimals"))
            out.append(Listing(ins, tick, lot, None, item.get("status", "online") == "online"))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("event") != "subscribe":
            return []
        sub = frame.get("subscription")
        if not isinstance(sub, dict) or sub.get("name") not in ("book", "trade"):
            return []
        return [p for p in frame.get("pair", []) if isinstance(p, str)]


# Connection attempts: Cloudflare, in front of Kraken's websockets, allows about 150 per IP
# in a rolling 10 minutes and bans the address for 10 minutes beyond that; Kraken advises
# reconnecting at once a handful of times after a random drop
# (https://docs.kraken.com/api/docs/guides/spot-ws-intro). Kraken's websocket message limit
# is not a fixed number (it moves with load; over it the venue answers "Exceeded msg rate"),
# and no subscription limit is published: 100 subscriptions per connection and 5 messages a
# second are assumed. Public REST: about one call a second (the scheme makes none).
# https://docs.kraken.com/api/docs/guides/spot-ratelimits
limits: VenueLimits = VenueLimits(
    connects=150,
    connect_window=600.0,
    streams_per_connection=100,
    sends_per_second=5,
    rest_budget=1,
    rest_window=1.0,
)

scheme: KrakenScheme = KrakenScheme()
