"""Kraken Futures websocket v1 (`wss://futures.kraken.com/ws/v1`).

Dialect (https://docs.kraken.com/exchange/api-reference/futures-websocket/book.md,
https://docs.kraken.com/exchange/api-reference/futures-websocket/trade.md): JSON
objects; `{"event": "subscribe", "feed": "book" | "trade", "product_ids": [...]}`
answered by one `subscribed` event per product.

Book: `book_snapshot` (whole book, `bids`/`asks` as `{"price", "qty"}` objects
of JSON numbers) then `book` deltas of one level each (`side` buy/sell,
`price`, `qty`, 0 removes). Every message of a product's book carries `seq`,
which grows by one from the snapshot on; a break in it is a lost message, and
the book of that product alone is subscribed again for a fresh snapshot.
Prices and sizes are JSON numbers: their shortest float text is the venue's
literal (translations/numbers.py).

Trades: `trade` (`side` is the taker's, `uid` its id); the `trade_snapshot`
sent on subscribing repeats past trades and is not replayed as new ones.

Products: perpetuals `PF_XBTUSD` (linear, multi-collateral: what a PERP market
is created as) and `PI_XBTUSD` (inverse, read from sessions); dated futures
`FF_XBTUSD_211231` and `FI_XBTUSD_211231`, named by their product id in tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimal_text, decimals_step, iso_expiry, items
from translations.numbers import to_decimal_str
from translations.protocol import (
    Instruction,
    Instrument,
    Level,
    Loss,
    Lost,
    Malformed,
    MarketType,
    Reconnect,
    Remedy,
    Snapshot,
    Trade,
    Update,
)
from translations.scheme_defaults import SchemeDefaults
from translations.venue_limits import VenueLimits

VENUE_CODES = {"BTC": "XBT"}
QUOTES = ("USD", "EUR", "GBP", "USDT", "USDC")
PERPETUAL = ("PF", "PI")
DATED = ("FF", "FI")
# Events that answer subscriptions or describe the connection: nothing for a book.
QUIET_EVENTS = frozenset({"info", "subscribed", "unsubscribed", "heartbeat"})
# Feeds a book needs nothing from (tickers are evidence for tests, not state).
IGNORED_FEEDS = frozenset({"ticker", "ticker_lite", "trade_snapshot", "heartbeat"})


@dataclass(slots=True)
class Product:
    instrument: Instrument
    seq: int | None = None  # of the last book message applied; None: waiting for a snapshot


@dataclass(slots=True)
class State:
    products: dict[str, Product] = field(default_factory=dict)
    broken: str | None = None


class KrakenFuturesScheme(SchemeDefaults):
    name = "KRAKEN"
    api = "futures"
    ws_url = "wss://futures.kraken.com/ws/v1"
    rest_url = "https://futures.kraken.com"
    market_types: tuple[MarketType, ...] = (MarketType.PERP, MarketType.FUTURE)
    ping_interval: float | None = None  # websocket pings keep it open; the venue asks for one a minute
    stale_after = 60.0
    # A product's book alone is subscribed again for a fresh snapshot (level4/feed/resync_policy.py).
    remedies = frozenset({Remedy.RESUBSCRIBE})

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        if market_type is MarketType.PERP:
            b, q = symbols.normalise(base), symbols.normalise(quote)
            return f"PF_{VENUE_CODES.get(b, b)}{VENUE_CODES.get(q, q)}"
        return super().venue_symbol(base, quote, market_type)

    def from_symbol(self, product_id: str) -> Instrument:
        pid = product_id.upper()
        kind, _, rest = pid.partition("_")
        pair, _, expiry = rest.partition("_")
        quote = next((q for q in QUOTES if pair.endswith(q) and len(pair) > len(q)), None)
        if quote is None:
            raise ValueError(f"no known quote ends the Kraken Futures product {product_id!r}")
        base = symbols.normalise(pair[: -len(quote)])
        if kind in PERPETUAL and not expiry:
            return Instrument(base, symbols.normalise(quote), MarketType.PERP, pid)
        if kind in DATED and len(expiry) == 6 and expiry.isdigit():
            return Instrument(base, symbols.normalise(quote), MarketType.FUTURE, pid)
        raise ValueError(f"{product_id!r} is no Kraken Futures perpetual or dated future")

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Product(i) for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        ids = list(state.products)
        return [_request("subscribe", feed, ids) for feed in ("book", "trade")]

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            return [Malformed("not a JSON object", frame)], state
        feed = frame.get("feed")
        event = frame.get("event")
        if event is not None:  # answers to requests carry the feed they are about too
            if event in QUIET_EVENTS:
                return [], state
            if event in ("error", "alert", "subscribed_failed"):
                reason = f"venue {event}: {frame.get('message') or frame.get('product_ids') or frame}"
                state.broken = reason
                return [Malformed(reason, frame), Reconnect(reason)], state
            return [Malformed(f"unknown event {event!r}", frame)], state
        try:
            if feed == "book":
                return self._delta(frame, state), state
            if feed == "trade":
                return self._trade(frame, state), state
            if feed == "book_snapshot":
                return self._snapshot(frame, state), state
            if feed in IGNORED_FEEDS:
                return [], state
        except (KeyError, TypeError, ValueError) as exc:
            return self._bad(frame, state, f"{feed}: {type(exc).__name__} {exc}"), state
        return [Malformed(f"unknown feed {feed!r}", frame)], state

    def _product(self, frame: dict[str, Any], state: State) -> Product | None:
        pid = frame["product_id"]
        return state.products.get(pid) if isinstance(pid, str) else None

    def _snapshot(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        product = self._product(frame, state)
        if product is None:
            return [Malformed(f"book for unsubscribed {frame['product_id']}", None)]
        seq = frame["seq"]
        if type(seq) is not int:
            raise ValueError("seq must be an integer")
        bids, asks = _levels(frame["bids"]), _levels(frame["asks"])
        product.seq = seq
        return [Snapshot(product.instrument.symbol, bids, asks, seq, _time(frame.get("timestamp")))]

    def _delta(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        product = self._product(frame, state)
        if product is None:
            return [Malformed(f"book for unsubscribed {frame['product_id']}", None)]
        seq, side = frame["seq"], frame["side"]
        if type(seq) is not int or side not in ("buy", "sell"):
            raise ValueError("seq must be an integer and side buy or sell")
        level: list[Level] = [(to_decimal_str(frame["price"]), to_decimal_str(frame["qty"]))]
        if product.seq is None:
            return []  # before its snapshot: the snapshot will hold it
        if seq <= product.seq:
            return []  # a repeat of what the book has
        if seq != product.seq + 1:
            return [self._lost(product, Loss.GAP, f"seq jumped: expected {product.seq + 1}, got {seq}")]
        product.seq = seq
        sym = product.instrument.symbol
        if side == "buy":
            return [Update(sym, level, (), seq, _time(frame.get("timestamp")))]
        return [Update(sym, (), level, seq, _time(frame.get("timestamp")))]

    def _lost(self, product: Product, kind: Loss, reason: str) -> Lost:
        """That product's book waits for a new snapshot; the policy picks the remedy."""
        product.seq = None
        return Lost(product.instrument.symbol, kind, reason)

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        """Unsubscribed and subscribed again, a product's book comes with a fresh
        snapshot; the connection's other books are untouched."""
        return [_request("unsubscribe", "book", [symbol]), _request("subscribe", "book", [symbol])]

    def _bad(self, frame: dict[str, Any], state: State, reason: str) -> list[Instruction]:
        out: list[Instruction] = [Malformed(reason, frame)]
        pid = frame.get("product_id")
        product = state.products.get(pid) if isinstance(pid, str) else None
        if product is not None and frame.get("feed") in ("book", "book_snapshot") and product.seq is not None:
            out.append(self._lost(product, Loss.MALFORMED, f"unreadable book message: {reason}"))
        return out

    def _trade(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        product = self._product(frame, state)
        if product is None:
            return []
        side = frame["side"]
        if side not in ("buy", "sell"):
            raise ValueError("side must be buy or sell")
        price, qty = to_decimal_str(frame["price"]), to_decimal_str(frame["qty"])
        uid = frame.get("uid")
        return [Trade(product.instrument.symbol, side, price, qty, str(uid) if uid else None, _time(frame["time"]))]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Instruments: symbol, type, tickSize, tradeable, lastTradingTime for dated
    # contracts, contractValueTradePrecision (the size step's decimals) and, in newer
    # answers, base and quote (https://docs.kraken.com/api/docs/futures-api/trading/get-instruments).
    # Older answers name no base or quote: they are read from the symbol as from_symbol
    # reads it, and an instrument it cannot read is left out. Indices are not traded: left out.
    list_paths: tuple[str, ...] = ("/derivatives/api/v3/instruments",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        out: list[Listing] = []
        for item in items(body, "instruments"):
            sym = item.get("symbol") if isinstance(item, dict) else None
            if not isinstance(sym, str):
                raise ListingError(f"not a Kraken Futures instrument: {item!r:.200}")
            if item.get("tickSize") is None:
                continue  # an index: no book
            try:
                named = self.from_symbol(sym)
            except ValueError:
                continue
            base, quote = item.get("base"), item.get("quote")
            ins = Instrument(
                symbols.normalise(base) if base else named.base,
                symbols.normalise(quote) if quote else named.quote,
                named.market_type,
                named.symbol,
            )
            expiry = iso_expiry(item.get("lastTradingTime")) if ins.market_type is MarketType.FUTURE else None
            precision = item.get("contractValueTradePrecision")
            lot = decimals_step(precision) if precision is not None else None
            out.append(Listing(ins, decimal_text(item.get("tickSize")), lot, expiry, item.get("tradeable") is True))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("event") != "subscribe" or frame.get("feed") != "book":
            return []
        return [p.upper() for p in frame.get("product_ids") or [] if isinstance(p, str)]


def _request(event: str, feed: str, product_ids: list[str]) -> str:
    return orjson.dumps({"event": event, "feed": feed, "product_ids": product_ids}).decode()


def _levels(raw: Any) -> list[Level]:
    if type(raw) is not list:
        raise ValueError("bids and asks must be lists")
    return [(to_decimal_str(lv["price"]), to_decimal_str(lv["qty"])) for lv in raw]


def _time(ms: Any) -> float | None:
    return ms / 1000.0 if type(ms) is int else None


# Kraken Futures websocket: 100 requests a second per connection.
# https://docs.kraken.com/api/docs/guides/futures-rate-limits/#websocket-limits
# No number is published for connection attempts or subscriptions per connection: about one
# attempt a second and 100 products are assumed; public REST (the scheme makes no REST calls)
# is kept to 10 requests a second.
limits = VenueLimits(
    connects=10,
    connect_window=10.0,
    streams_per_connection=100,
    sends_per_second=100,
    rest_budget=10,
    rest_window=1.0,
)

scheme = KrakenFuturesScheme()
