"""Poloniex spot websocket feed (v3 public endpoint).

`book_lv2` sends a snapshot of the best 20 levels per side and then the
changes that keep those 20 levels current: a level that falls out of the
top 20 is deleted with size zero, one that moves into it is set. Every
frame carries `id` and `lastId`; an update's `lastId` must be the `id` of
the frame before it for that symbol. Any other value means frames were
lost: the venue says to resubscribe, which gives a new snapshot. An update
at or below the last `id` (a duplicate, or older than the snapshot) is
dropped, its change being in the book already.

`trades` names the taker's side. The server closes a connection that has
been silent for 30 seconds, so the client pings every 20 and the venue
answers each ping with a pong.

Symbols are BASE_QUOTE. Poloniex keeps old names for two currencies:
STR is Stellar (XLM) and BCHSV is Bitcoin SV (BSV).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimals_step, items
from translations.protocol import (
    Instruction,
    Instrument,
    Loss,
    Lost,
    Malformed,
    MarketType,
    Remedy,
    RestAnswer,
    Snapshot,
    Trade,
    Update,
    refused,
)
from translations.scheme_defaults import SchemeDefaults
from translations.venue_limits import VenueLimits

ALIASES = {"STR": "XLM", "BCHSV": "BSV"}
VENUE_CODES = {v: k for k, v in ALIASES.items()}
BOOK_CHANNEL = "book_lv2"
# Updates dropped while waiting for a resubscription's snapshot before the
# connection is given up as beyond repair (the snapshot never came).
MAX_DROPPED = 1000


@dataclass(slots=True)
class Market:
    instrument: Instrument
    last_id: int | None = None  # `id` of the last snapshot or update applied
    awaiting: bool = False  # resubscribed: changes are dropped until the new snapshot
    dropped: int = 0


@dataclass(slots=True)
class State:
    markets: dict[str, Market] = field(default_factory=dict)
    broken: str | None = None


def _frame(event: str, channel: str, syms: list[str]) -> str:
    return orjson.dumps({"event": event, "channel": [channel], "symbols": syms}).decode()


class PoloniexScheme(SchemeDefaults):
    name = "POLONIEX"
    ws_url = "wss://ws.poloniex.com/ws/public"
    rest_url = "https://api.poloniex.com"
    market_types: tuple[MarketType, ...] = (MarketType.SPOT,)
    ping_interval: float | None = 20.0  # the server drops connections silent for 30 s
    stale_after = 45.0  # pongs answer pings every 20 s, so a live feed is never quiet this long
    remedies = frozenset({Remedy.RESUBSCRIBE})

    # --- instruments -----------------------------------------------------------

    aliases: dict[str, str] | None = ALIASES

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        return f"{VENUE_CODES.get(base, base)}_{VENUE_CODES.get(quote, quote)}"

    def from_symbol(self, symbol: str) -> Instrument:
        base, sep, quote = symbol.partition("_")
        if not sep or not base or not quote or "_" in quote:
            raise ValueError(f"not a Poloniex spot symbol: {symbol!r}")
        return Instrument(symbols.normalise(base, ALIASES), symbols.normalise(quote, ALIASES), MarketType.SPOT, symbol)

    # --- connection ------------------------------------------------------------

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Market(i) for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        syms = list(state.markets)
        return [_frame("subscribe", BOOK_CHANNEL, syms), _frame("subscribe", "trades", syms)]

    def ping_msg(self, state: State) -> list[str]:
        return ['{"event":"ping"}']

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        return [_frame("unsubscribe", BOOK_CHANNEL, [symbol]), _frame("subscribe", BOOK_CHANNEL, [symbol])]

    def _lost(self, market: Market, kind: Loss, reason: str) -> Lost:
        market.last_id = None
        market.awaiting = True  # until the snapshot the remedy brings
        market.dropped = 0
        return Lost(market.instrument.symbol, kind, reason)

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if isinstance(frame, RestAnswer):
                return [], state
            return [Malformed("not a JSON object", frame)], state
        try:
            channel = frame.get("channel")
            data = frame.get("data")
            if data is not None:
                if channel == BOOK_CHANNEL:
                    return self._book(frame, data, state), state
                if channel == "trades":
                    return self._trades(data, state), state
                return [Malformed(f"unknown channel {channel!r}", frame)], state
            event = frame.get("event")
            if event in ("pong", "subscribe", "unsubscribe"):
                return [], state
            if event == "error":
                reason = f"venue error: {frame.get('message')}"
                state.broken = reason
                return refused(state.markets, reason, frame), state
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return [Malformed(f"{type(exc).__name__}: {exc}", frame)], state
        return [Malformed("unknown frame", frame)], state

    def _book(self, frame: dict[str, Any], data: list[Any], state: State) -> list[Instruction]:
        action = frame.get("action")
        if action == "update":
            snapshot = False
        elif action == "snapshot":
            snapshot = True
        else:
            return [Malformed(f"unknown book action {action!r}", frame)]
        out: list[Instruction] = []
        markets = state.markets
        for item in data:
            symbol = item.get("symbol")
            market = markets.get(symbol)
            if market is None:
                out.append(Malformed(f"book for unsubscribed {symbol}", None))
                continue
            try:
                last_id, new_id = item["lastId"], item["id"]
                if type(new_id) is not int or type(last_id) is not int:
                    raise TypeError("ids are not integers")
                bids, asks = item["bids"], item["asks"]  # the book reads and checks each level
                ts = item["createTime"] / 1000.0
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                out.append(Malformed(f"{symbol}: {type(exc).__name__} {exc}", frame))
                if not market.awaiting:
                    out.append(self._lost(market, Loss.MALFORMED, "malformed book frame"))
                continue
            if snapshot:
                market.last_id = new_id
                market.awaiting = False
                out.append(Snapshot(symbol, bids, asks, new_id, ts))
                continue
            prev = market.last_id
            if prev is None:
                if market.awaiting:
                    market.dropped += 1
                    if market.dropped == MAX_DROPPED + 1:  # once: the rest wait for the new connection
                        reason = f"{symbol}: no snapshot after resubscribing"
                        state.broken = reason
                        out.append(Lost(symbol, Loss.SNAPSHOT_FAILED, reason))
                else:
                    out.append(self._lost(market, Loss.GAP, "update before snapshot"))
                continue
            if last_id != prev:
                if new_id <= prev:
                    continue  # a duplicate or older change: already in the book
                out.append(self._lost(market, Loss.GAP, f"lastId {last_id} does not follow id {prev}"))
                continue
            market.last_id = new_id
            out.append(Update(symbol, bids, asks, new_id, ts))
        return out

    def _trades(self, data: list[Any], state: State) -> list[Instruction]:
        out: list[Instruction] = []
        markets = state.markets
        for t in data:
            symbol = t["symbol"]
            if symbol not in markets:
                continue
            side = t["takerSide"]
            if side != "buy" and side != "sell":
                raise ValueError(f"unknown taker side {side!r}")
            out.append(Trade(symbol, side, t["price"], t["quantity"], str(t["id"]), t["createTime"] / 1000.0))
        return out

    # --- shared connections ----------------------------------------------------------
    # A connection subscribes and unsubscribes channels for lists of symbols; every
    # data item names its symbol (https://api-docs.poloniex.com/spot/websocket).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is dict:
            data = frame.get("data")
            if type(data) is list:
                out: list[str] = []
                for item in data:
                    symbol = item.get("symbol") if type(item) is dict else None
                    if type(symbol) is str and symbol not in out:
                        out.append(symbol)
                return out, conn_state
        return None, conn_state  # pongs, acknowledgements and errors

    def unsubscribe_msg(self, state: State) -> list[str]:
        syms = list(state.markets)
        return [_frame("unsubscribe", BOOK_CHANNEL, syms), _frame("unsubscribe", "trades", syms)]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Markets: symbol "BTC_USDT", base and quote currency names, state, and
    # symbolTradeLimit's priceScale / quantityScale, the decimals of price and size
    # (https://api-docs.poloniex.com/spot/api/public/reference-data#symbol-information).
    list_paths: tuple[str, ...] = ("/markets",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        out: list[Listing] = []
        for item in items(body):
            sym = item.get("symbol") if isinstance(item, dict) else None
            base, quote = (item.get("baseCurrencyName"), item.get("quoteCurrencyName")) if sym else (None, None)
            if not isinstance(sym, str) or not base or not quote:
                raise ListingError(f"not a Poloniex market: {item!r:.200}")
            ins = Instrument(symbols.normalise(base, ALIASES), symbols.normalise(quote, ALIASES), MarketType.SPOT, sym)
            limits = item.get("symbolTradeLimit") or {}
            tick, lot = decimals_step(limits.get("priceScale")), decimals_step(limits.get("quantityScale"))
            out.append(Listing(ins, tick, lot, None, item.get("state") == "NORMAL"))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("event") != "subscribe":
            return []
        channels = frame.get("channel")
        if isinstance(channels, str):
            channels = [channels]
        if not isinstance(channels, list) or BOOK_CHANNEL not in channels:
            return []
        return [s for s in frame.get("symbols", []) if isinstance(s, str)]


# Poloniex spot websocket: 2,000 simultaneous connections per IP, 500 requests a second per
# connection. https://api-docs.poloniex.com/spot/websocket
# No number is published for connection attempts or channels per connection: about one
# attempt a second and 100 channels are assumed; 10 REST requests a second (the scheme
# makes no REST calls).
limits = VenueLimits(
    connects=10,
    connect_window=10.0,
    streams_per_connection=100,
    sends_per_second=500,
    rest_budget=10,
    rest_window=1.0,
)

scheme = PoloniexScheme()
