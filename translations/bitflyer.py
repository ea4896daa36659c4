"""bitFlyer Lightning realtime API (json-rpc over websocket).

Channels per product: `lightning_board_snapshot_{code}` (the whole book,
sent after subscribing and again every few seconds), `lightning_board_{code}`
(changed levels, size 0 deletes) and `lightning_executions_{code}` (trades,
`side` is the taker's). Numbers arrive as JSON numbers.

The board channel has no sequence numbers. What it does give is the book's
`mid_price` in every message, so each snapshot and each diff is checked:
the book's own mid (best bid and ask averaged, rounded down to the price
grid) must equal the venue's, and the book must not be crossed. A break
clears the book until the next snapshot, which the venue sends on its own;
the snapshot channel is also resubscribed to hurry one along.

Diffs that arrive before a product's first snapshot describe changes the
snapshot already holds, so they are dropped, never buffered: replaying them
over the snapshot would bring back levels it has already removed. The two
channels are not strictly ordered, though: a diff just after a snapshot may
still carry changes older than it. Re-applying those is harmless unless a
level changed again in between, and then the diff's mid_price disagrees.

Snapshots stop at 300 levels a side; deeper than that the book holds only
what diffs have reported since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, items
from translations.numbers import to_decimal_str
from translations.protocol import (
    BookView,
    ChecksumMismatch,
    Instruction,
    Instrument,
    Level,
    Loss,
    Lost,
    Malformed,
    MarketType,
    Remedy,
    RestAnswer,
    Snapshot,
    Trade,
    Update,
    Verify,
    refused,
)
from translations.scheme_defaults import SchemeDefaults
from translations.timeparse import iso_seconds
from translations.venue_limits import VenueLimits

SNAPSHOT = "lightning_board_snapshot_"
BOARD = "lightning_board_"
EXECUTIONS = "lightning_executions_"
TICKER = "lightning_ticker_"

# The mid check compares integers: prices scaled by 10**SCALE.
SCALE = 12
# How many levels per side show the price grid's decimals (JSON numbers lose
# trailing zeros, so one price alone may look coarser than the grid).
GRID_DEPTH = 10
ONE_SIDED = -1  # no mid to compare: one side of the book is empty
CROSSED = -2


def scaled(text: str) -> int:
    """An exact decimal string as an integer count of 10**-SCALE."""
    whole, _, frac = text.partition(".")
    return int(whole or "0") * 10**SCALE + int((frac + "0" * SCALE)[:SCALE])


def unscaled(value: int) -> str:
    whole, frac = divmod(value, 10**SCALE)
    tail = str(frac).rjust(SCALE, "0").rstrip("0")
    return f"{whole}.{tail}" if tail else str(whole)


def decimals(text: str) -> int:
    dot = text.find(".")
    return 0 if dot < 0 else len(text) - dot - 1


# The best prices' scaled values, remembered: the same few are checked after
# every message (a bounded table, emptied when full).
_SCALED: dict[str, int] = {}
_SCALED_MAX = 1 << 14


def _scaled(text: str) -> int:
    value = _SCALED.get(text)
    if value is None:
        if len(_SCALED) >= _SCALED_MAX:
            _SCALED.clear()
        value = _SCALED[text] = scaled(text)
    return value


def book_mid(bids: Sequence[Level], asks: Sequence[Level]) -> int:
    """The venue's mid_price rule as an integer of 10**-SCALE: best bid and
    ask averaged, rounded down to the book's price grid; ONE_SIDED or
    CROSSED where there is no such mid."""
    if not bids or not asks:
        return ONE_SIDED
    bid, ask = _scaled(bids[0][0]), _scaled(asks[0][0])
    if bid >= ask:
        return CROSSED
    grid = 0
    for side in (bids, asks):
        for lv in side:
            places = decimals(lv[0])
            if places > grid:
                grid = places
    unit = 10 ** (SCALE - min(grid, SCALE))
    mid = (bid + ask) // 2
    return mid - mid % unit


@dataclass(slots=True)
class Product:
    instrument: Instrument
    snapshot_seen: bool = False


@dataclass(slots=True)
class State:
    products: dict[str, Product] = field(default_factory=dict)
    # channel name -> (kind, product), so a frame costs one dict lookup
    channels: dict[str, tuple[str, Product]] = field(default_factory=dict)
    next_id: int = 1
    subscribe_ids: set[int] = field(default_factory=set)
    broken: str | None = None


class BitflyerScheme(SchemeDefaults):
    name = "BITFLYER"
    ws_url = "wss://ws.lightstream.bitflyer.com/json-rpc"
    rest_url = ""
    market_types: tuple[MarketType, ...] = (MarketType.SPOT, MarketType.PERP, MarketType.FUTURE)
    ping_interval: float | None = None  # no application ping; board snapshots arrive every few seconds
    stale_after = 30.0
    remedies = frozenset({Remedy.RESUBSCRIBE})

    # --- instruments -----------------------------------------------------------

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        if market_type is MarketType.SPOT:
            return f"{base}_{quote}"
        if market_type is MarketType.PERP:
            return f"FX_{base}_{quote}"  # the perpetual CFD ("FX") market
        return super().venue_symbol(base, quote, market_type)

    def from_symbol(self, code: str) -> Instrument:
        """BTC_JPY, ETH_BTC (spot), FX_BTC_JPY (perpetual CFD), BTCJPY24DEC2021 or
        BTCJPY_MAT1WK (dated futures)."""
        if code.startswith("FX_"):
            base, _, quote = code[3:].partition("_")
            kind = MarketType.PERP
        elif "_MAT" in code or (code[:1].isalpha() and any(c.isdigit() for c in code) and "_" not in code):
            pair = code.split("_", 1)[0]
            end = next((i for i, c in enumerate(pair) if c.isdigit()), len(pair))
            letters = pair[:end]
            base, quote = letters[:-3], letters[-3:]
            kind = MarketType.FUTURE
        else:
            base, _, quote = code.partition("_")
            kind = MarketType.SPOT
        if not base or not quote or "_" in quote:
            raise ValueError(f"not a bitFlyer product code: {code!r}")
        return Instrument(symbols.normalise(base), symbols.normalise(quote), kind, code)

    # --- connection ------------------------------------------------------------------

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        state = State()
        for ins in instruments:
            product = Product(ins)
            state.products[ins.symbol] = product
            state.channels[SNAPSHOT + ins.symbol] = (SNAPSHOT, product)
            state.channels[BOARD + ins.symbol] = (BOARD, product)
            state.channels[EXECUTIONS + ins.symbol] = (EXECUTIONS, product)
        return state

    def _request(self, state: State, method: str, channel: str) -> str:
        rid = state.next_id
        state.next_id += 1
        if method == "subscribe":
            state.subscribe_ids.add(rid)
        return orjson.dumps({"jsonrpc": "2.0", "method": method, "params": {"channel": channel}, "id": rid}).decode()

    def subscribe_msg(self, state: State) -> list[str]:
        out: list[str] = []
        for code in state.products:
            for prefix in (SNAPSHOT, BOARD, EXECUTIONS):
                out.append(self._request(state, "subscribe", prefix + code))
        return out

    def checksum(self, book: BookView, symbol: str) -> int | None:
        """Not a checksum the venue names, but its integrity signal all the
        same: the book's mid_price (see `book_mid`); None when one side is
        empty and there is no mid to compare."""
        mid = book_mid(book.bids_levels(GRID_DEPTH), book.asks_levels(GRID_DEPTH))
        return None if mid == ONE_SIDED else mid

    # --- translate ---------------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if isinstance(frame, ChecksumMismatch):
                return self._mismatch(frame, state), state
            if isinstance(frame, RestAnswer):
                return [], state
            return [Malformed("not a JSON object", frame)], state
        method = frame.get("method")
        try:
            if method == "channelMessage":
                params = frame["params"]
                channel = params["channel"]
                entry = state.channels.get(channel)
                if entry is None:
                    if channel.startswith(TICKER):
                        return [], state
                    return [Malformed(f"message on unexpected channel {channel!r}", frame)], state
                kind, product = entry
                if kind is BOARD:
                    return self._board(params["message"], product), state
                if kind is SNAPSHOT:
                    return self._snapshot(params["message"], product), state
                return self._executions(params["message"], product), state
            if method is None and "id" in frame:
                return self._response(frame, state), state
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return self._bad(frame, state, f"{method}: {type(exc).__name__} {exc}"), state
        return [Malformed(f"unknown frame {method!r}", frame)], state

    def _response(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        rid = frame["id"]
        was_subscribe = rid in state.subscribe_ids
        state.subscribe_ids.discard(rid)
        error = frame.get("error")
        if error is None:
            return []
        reason = f"venue error {error.get('code')}: {error.get('message')}" if isinstance(error, dict) else str(error)
        if was_subscribe:
            state.broken = reason
            return refused(state.products, reason, frame)
        return [Malformed(reason, frame)]

    def _bad(self, frame: dict[str, Any], state: State, reason: str) -> list[Instruction]:
        """An unreadable board message may have lost a change: resync that product."""
        out: list[Instruction] = [Malformed(reason, frame)]
        try:
            entry = state.channels.get(frame["params"]["channel"])
        except (KeyError, TypeError):
            return out
        if entry is not None and entry[0] is not EXECUTIONS:
            out.append(self._lost(entry[1], Loss.MALFORMED, "unreadable board message"))
        return out

    def _lost(self, product: Product, kind: Loss, reason: str) -> Lost:
        product.snapshot_seen = False
        return Lost(product.instrument.symbol, kind, reason)

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        channel = SNAPSHOT + symbol
        # The venue re-sends snapshots by itself; a fresh subscription may bring one sooner.
        return [self._request(state, "unsubscribe", channel), self._request(state, "subscribe", channel)]

    def _mismatch(self, mismatch: ChecksumMismatch, state: State) -> list[Instruction]:
        product = state.products.get(mismatch.symbol)
        if product is None or not product.snapshot_seen:
            return []
        if mismatch.actual == CROSSED:
            return [self._lost(product, Loss.CHECKSUM, "crossed book")]
        reason = f"mid_price {unscaled(mismatch.expected)} but book mid {unscaled(mismatch.actual)}"
        return [self._lost(product, Loss.CHECKSUM, reason)]

    @staticmethod
    def _levels(raw: list[dict[str, Any]]) -> list[Level]:
        return [(to_decimal_str(lv["price"]), to_decimal_str(lv["size"])) for lv in raw]

    def _verify(self, message: dict[str, Any], symbol: str) -> list[Instruction]:
        mid = message.get("mid_price")
        if not mid:
            return []
        return [Verify(symbol, scaled(to_decimal_str(mid)))]

    def _snapshot(self, message: dict[str, Any], product: Product) -> list[Instruction]:
        symbol = product.instrument.symbol
        snap = Snapshot(symbol, self._levels(message["bids"]), self._levels(message["asks"]))
        product.snapshot_seen = True
        return [snap, *self._verify(message, symbol)]

    def _board(self, message: dict[str, Any], product: Product) -> list[Instruction]:
        if not product.snapshot_seen:
            return []  # already part of the snapshot still to come
        symbol = product.instrument.symbol
        update = Update(symbol, self._levels(message["bids"]), self._levels(message["asks"]))
        return [update, *self._verify(message, symbol)]

    def _executions(self, message: list[dict[str, Any]], product: Product) -> list[Instruction]:
        symbol = product.instrument.symbol
        out: list[Instruction] = []
        for ex in message:
            side = ex["side"]
            # BUY/SELL name the taker; an empty side is an auction (itayose) fill with no taker.
            if side == "BUY":
                taker = "buy"
            elif side == "SELL":
                taker = "sell"
            elif side == "":
                taker = ""
            else:
                raise ValueError(f"unknown execution side {side!r}")
            out.append(
                Trade(
                    symbol,
                    taker,
                    to_decimal_str(ex["price"]),
                    to_decimal_str(ex["size"]),
                    str(ex["id"]),
                    iso_seconds(ex["exec_date"]),
                )
            )
        return out

    # --- shared connections ----------------------------------------------------------
    # JSON-RPC `subscribe` / `unsubscribe` one channel each; every channelMessage
    # names its channel, the product code after the channel's prefix
    # (https://bf-lightning-api.readme.io/docs/realtime-api).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is dict and frame.get("method") == "channelMessage":
            params = frame.get("params")
            channel = params.get("channel") if type(params) is dict else None
            if type(channel) is str:
                # The snapshot's prefix begins with the board's: it is tried first.
                for prefix in (SNAPSHOT, BOARD, EXECUTIONS, TICKER):
                    if channel.startswith(prefix):
                        return (channel[len(prefix) :],), conn_state
        return None, conn_state  # responses to requests

    def unsubscribe_msg(self, state: State) -> list[str]:
        out: list[str] = []
        for code in state.products:
            for prefix in (SNAPSHOT, BOARD, EXECUTIONS):
                out.append(self._request(state, "unsubscribe", prefix + code))
        return out

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # The market list: product codes with their market type (Spot, FX, Futures) and, for
    # futures, an alias; no base or quote, tick or lot size
    # (https://lightning.bitflyer.com/docs?lang=en#market-list). Base and quote are read
    # from the product code, whose spelling the venue fixes per market type.
    list_url = "https://api.bitflyer.com"
    list_paths: tuple[str, ...] = ("/v1/markets", "/v1/markets/usa", "/v1/markets/eu")

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        kinds = {"Spot": MarketType.SPOT, "FX": MarketType.PERP, "Futures": MarketType.FUTURE}
        out: list[Listing] = []
        for item in items(body):
            code = item.get("product_code") if isinstance(item, dict) else None
            kind = kinds.get(item.get("market_type", "")) if isinstance(item, dict) else None
            if not isinstance(code, str) or kind is None:
                raise ListingError(f"not a bitFlyer market: {item!r:.200}")
            try:
                ins = self.from_symbol(code)
            except ValueError:
                continue  # a product code of a spelling level4 cannot read: left out
            out.append(Listing(Instrument(ins.base, ins.quote, kind, code)))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("method") != "subscribe":
            return []
        channel = (frame.get("params") or {}).get("channel")
        if not isinstance(channel, str) or not channel.startswith(BOARD):
            return []
        return [channel[len(SNAPSHOT) :] if channel.startswith(SNAPSHOT) else channel[len(BOARD) :]]


# bitFlyer Lightning: the HTTP API allows about 500 requests per 5 minutes per IP (the scheme
# makes no REST calls). No numbers are published for the Realtime API's connections or
# messages: about one connection attempt a second, 5 messages a second and 100 channels per
# connection are assumed.
# https://lightning.bitflyer.com/docs
limits = VenueLimits(
    connects=10,
    connect_window=10.0,
    streams_per_connection=100,
    sends_per_second=5,
    rest_budget=500,
    rest_window=300.0,
)

scheme = BitflyerScheme()
