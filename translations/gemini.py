"""Gemini market data v2 websocket.

One `l2` subscription per connection names its symbols. For each symbol the
first `l2_updates` frame is the whole book (it also carries the last trades
and auction events, which are history); later ones carry changed levels,
[side, price, quantity] with quantity "0" removing a level. Trades come as
`trade` frames naming the taker's side, and a `heartbeat` every five seconds
keeps a quiet connection alive.

The dialect has no sequence numbers or checksums, so integrity rests on what
it does give: a full book before any change, readable changes, and trade
event ids that only grow (an older one is a repeat, never a new trade). A
book that cannot be trusted any more is rebuilt on a new connection, whose
first frame for the symbol is again the whole book.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimal_text, items
from translations.protocol import (
    Instruction,
    Instrument,
    KeepAlive,
    Level,
    Loss,
    Lost,
    Malformed,
    MarketType,
    RestAnswer,
    Snapshot,
    Trade,
    Update,
)
from translations.scheme_defaults import SchemeDefaults
from translations.symbol_pairs import longest_first, split_quote
from translations.venue_limits import VenueLimits

# Quote currencies Gemini lists, longest first so GUSD wins over USD.
QUOTES = longest_first(
    ("USD", "GUSD", "USDT", "USDC", "RLUSD", "BTC", "ETH", "EUR", "GBP", "SGD", "DAI", "BCH", "LTC", "FIL")
)
PERP_SUFFIX = "PERP"
IGNORED = frozenset(("heartbeat", "auction_open", "auction_indicative", "auction_result", "auction"))


@dataclass(slots=True)
class Book:
    instrument: Instrument
    snapshot_seen: bool = False
    lost: bool = False  # desynchronised: changes are dropped until a whole book comes
    last_event: int | None = None  # newest trade event id seen, history included


@dataclass(slots=True)
class State:
    books: dict[str, Book] = field(default_factory=dict)
    broken: str | None = None


class GeminiScheme(SchemeDefaults):
    name = "GEMINI"
    ws_url = "wss://api.gemini.com/v2/marketdata"
    rest_url = ""  # the websocket sends the whole book on subscribing
    market_types: tuple[MarketType, ...] = (MarketType.SPOT, MarketType.PERP)
    ping_interval: float | None = None  # the venue's heartbeats keep the socket alive
    stale_after = 15.0  # heartbeats come every 5 seconds
    keepalive = KeepAlive('{"type":"heartbeat",')

    # --- instruments -------------------------------------------------------------

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        return base + quote + (PERP_SUFFIX if market_type is MarketType.PERP else "")

    def from_symbol(self, symbol: str) -> Instrument:
        body = symbol.upper()
        market_type = MarketType.SPOT
        if body.endswith(PERP_SUFFIX):
            market_type, body = MarketType.PERP, body[: -len(PERP_SUFFIX)]
        split = split_quote(body, QUOTES)
        if split is not None:
            return Instrument(symbols.normalise(split[0]), symbols.normalise(split[1]), market_type, symbol)
        raise ValueError(f"no known quote currency in Gemini symbol {symbol!r}")

    # --- connection --------------------------------------------------------------

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Book(i) for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        frame = {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": list(state.books)}]}
        return [orjson.dumps(frame).decode()]

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if isinstance(frame, RestAnswer):
                return [], state
            return [Malformed("not a JSON object", frame)], state
        kind = frame.get("type")
        try:
            if kind == "l2_updates":
                return self._l2(frame, state), state
            if kind == "trade":
                return self._trade(frame, state), state
            if kind in IGNORED:
                return [], state
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return self._bad(frame, state, f"{kind}: {type(exc).__name__} {exc}"), state
        if kind == "error" or frame.get("result") == "error":
            reason = f"venue error: {frame.get('reason', '')} {frame.get('message', '')}".strip()
            return [Malformed(reason, frame)], state
        return [Malformed(f"unknown frame type {kind!r}", frame)], state

    def _l2(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        book = state.books.get(frame["symbol"])
        if book is None:
            return [Malformed(f"book frame for unsubscribed {frame['symbol']}", None)]
        bids: list[Level] = []
        asks: list[Level] = []
        for side, price, quantity in frame["changes"]:
            if side == "buy":
                bids.append((price, quantity))
            elif side == "sell":
                asks.append((price, quantity))
            else:
                raise ValueError(f"unknown side {side!r}")
        symbol = book.instrument.symbol
        if not book.snapshot_seen or "trades" in frame:
            # the whole book: the first frame for the symbol, or one that again
            # carries the recent trades the venue sends along with a full book
            book.snapshot_seen = True
            book.lost = False
            for trade in frame.get("trades") or ():
                event = int(trade["event_id"])
                if book.last_event is None or event > book.last_event:
                    book.last_event = event
            return [Snapshot(symbol, bids, asks)]
        if book.lost:
            return []
        return [Update(symbol, bids, asks)]

    def _trade(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        book = state.books.get(frame["symbol"])
        if book is None:
            return []
        event = int(frame["event_id"])
        if book.last_event is not None and event <= book.last_event:
            return []  # sent before (or part of the history that came with the book)
        book.last_event = event
        side = frame["side"]
        if side != "buy" and side != "sell":
            raise ValueError(f"unknown taker side {side!r}")
        trade_id = frame.get("tid", event)
        return [
            Trade(
                book.instrument.symbol,
                side,
                frame["price"],
                frame["quantity"],
                str(trade_id),
                frame["timestamp"] / 1000.0,
            )
        ]

    def _bad(self, frame: dict[str, Any], state: State, reason: str) -> list[Instruction]:
        """A book frame we could not read may have carried a change: that book
        is rebuilt from the whole book a new connection starts with."""
        out: list[Instruction] = [Malformed(reason, frame)]
        book = state.books.get(frame.get("symbol", ""))
        if book is not None and frame.get("type") == "l2_updates":
            book.lost = True
            state.broken = reason  # it lists no remedies: the connection is renewed
            out.append(Lost(book.instrument.symbol, Loss.MALFORMED, f"unreadable book frame: {reason}"))
        return out

    # --- shared connections ----------------------------------------------------------
    # One v2 market-data connection carries the l2 subscriptions of many symbols,
    # added by `subscribe` and removed by `unsubscribe`; every book and trade
    # message names its symbol (https://docs.gemini.com/websocket-api/#market-data-version-2).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is dict:
            symbol = frame.get("symbol")
            if type(symbol) is str:
                return (symbol,), conn_state
        return None, conn_state  # heartbeats and errors

    def unsubscribe_msg(self, state: State) -> list[str]:
        frame = {"type": "unsubscribe", "subscriptions": [{"name": "l2", "symbols": list(state.books)}]}
        return [orjson.dumps(frame).decode()]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # The symbol list holds names only (https://docs.gemini.com/rest-api/#symbols): base
    # and quote come from splitting each name at a known quote, as from_symbol does, and
    # a name none ends is left out. A symbol's details page
    # (https://docs.gemini.com/rest-api/#symbol-details), where one was fetched, names
    # them exactly; its quote_increment is the price step and its tick_size, despite the
    # name, the order-size step.
    list_url = "https://api.gemini.com"
    list_paths: tuple[str, ...] = ("/v1/symbols",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        if isinstance(body, dict):
            return [self._details(body)]
        out: list[Listing] = []
        for name in items(body):
            if not isinstance(name, str):
                raise ListingError(f"not a Gemini symbol: {name!r}")
            try:
                out.append(Listing(self.from_symbol(name.upper())))
            except ValueError:
                continue
        return out

    def _details(self, item: dict[str, Any]) -> Listing:
        sym = item.get("symbol")
        if not isinstance(sym, str) or not item.get("base_currency") or not item.get("quote_currency"):
            raise ListingError(f"not a Gemini symbol's details: {item!r:.200}")
        sym = sym.upper()
        kind = MarketType.PERP if sym.endswith(PERP_SUFFIX) else MarketType.SPOT
        ins = Instrument(symbols.normalise(item["base_currency"]), symbols.normalise(item["quote_currency"]), kind, sym)
        tick, lot = decimal_text(item.get("quote_increment")), decimal_text(item.get("tick_size"))
        return Listing(ins, tick, lot, None, item.get("status") == "open")

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("type") != "subscribe":
            return []
        out: list[str] = []
        for sub in frame.get("subscriptions", []):
            if isinstance(sub, dict) and sub.get("name") == "l2":
                out.extend(s.upper() for s in sub.get("symbols", []) if isinstance(s, str))
        return out


# Gemini public API: 120 requests a minute (1 a second recommended), 429 beyond; a websocket
# upgrade is a request to a public entry point and is counted as one.
# https://developer.gemini.com/rate-limit
# No number is published for subscriptions per connection or messages a second: 100 and 5
# are assumed.
limits = VenueLimits(
    connects=120,
    connect_window=60.0,
    streams_per_connection=100,
    sends_per_second=5,
    rest_budget=120,
    rest_window=60.0,
)

scheme = GeminiScheme()
