"""Coinbase Exchange websocket feed.

Public dialect: `level2_batch` (snapshot, then l2update changes), `matches`
(trades, with a per-product sequence) and `heartbeat` (per-product sequence
once a second, keeps the socket alive). The level-2 channel itself carries
no sequence number, so integrity rests on what the feed does give: a
snapshot before any update, sequences that never run backwards, and trade
ids without holes (a hole means frames were lost on this connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimal_text, items
from translations.protocol import (
    ALL_MARKETS,
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
    refused,
)
from translations.scheme_defaults import SchemeDefaults
from translations.timeparse import iso_seconds
from translations.venue_limits import VenueLimits


@dataclass(slots=True)
class Product:
    instrument: Instrument
    snapshot_seen: bool = False
    sequence: int | None = None
    trade_id: int | None = None


@dataclass(slots=True)
class State:
    products: dict[str, Product] = field(default_factory=dict)
    broken: str | None = None


class CoinbaseScheme(SchemeDefaults):
    name = "COINBASE"
    ws_url = "wss://ws-feed.exchange.coinbase.com"
    rest_url = "https://api.exchange.coinbase.com"
    market_types: tuple[MarketType, ...] = (MarketType.SPOT,)
    ping_interval: float | None = None  # the heartbeat channel keeps the socket alive
    stale_after = 10.0  # heartbeats come every second
    channels = ("level2_batch", "matches", "heartbeat")
    # A heartbeat only moves the product's sequence on, which the next match checks again.
    keepalive = KeepAlive('{"type":"heartbeat",')

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        return f"{base}-{quote}"

    def from_symbol(self, product_id: str) -> Instrument:
        base, _, quote = product_id.partition("-")
        if not quote:
            raise ValueError(f"not a Coinbase product id: {product_id!r}")
        return Instrument(symbols.normalise(base), symbols.normalise(quote), MarketType.SPOT, product_id)

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Product(i) for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        ids = list(state.products)
        return [orjson.dumps({"type": "subscribe", "product_ids": ids, "channels": list(self.channels)}).decode()]

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if isinstance(frame, RestAnswer):
                return [], state
            return [Malformed("not a JSON object", frame)], state
        kind = frame.get("type")
        try:
            if kind == "l2update":
                return self._l2update(frame, state), state
            if kind in ("match", "last_match"):
                return self._match(frame, state, kind == "last_match"), state
            if kind == "snapshot":
                return self._snapshot(frame, state), state
            if kind in ("heartbeat", "ticker"):
                return self._sequence(frame, state), state
            if kind in ("subscriptions", "status"):
                return [], state
            if kind == "error":
                reason = f"venue error: {frame.get('message')} {frame.get('reason', '')}".strip()
                state.broken = reason
                return refused(state.products, reason, frame), state
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            return self._bad(frame, state, f"{kind}: {type(exc).__name__} {exc}"), state
        return [Malformed(f"unknown frame type {kind!r}", frame)], state

    def _bad(self, frame: dict[str, Any], state: State, reason: str) -> list[Instruction]:
        """A malformed book frame may have lost a change: resync that market."""
        out: list[Instruction] = [Malformed(reason, frame)]
        product = state.products.get(frame.get("product_id", ""))
        if product is not None and frame.get("type") in ("l2update", "snapshot"):
            out.extend(self._desync(product, state, f"malformed {frame.get('type')}", Loss.MALFORMED))
        return out

    def _desync(self, product: Product, state: State, reason: str, kind: Loss = Loss.GAP) -> list[Instruction]:
        product.snapshot_seen = False
        # The only way to get a new level-2 snapshot is a new subscription, which this
        # scheme makes on a new connection (it lists no remedies): the connection is done.
        state.broken = reason
        return [Lost(product.instrument.symbol, kind, reason)]

    def _snapshot(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        product = state.products.get(frame["product_id"])
        if product is None:
            return [Malformed(f"snapshot for unsubscribed {frame['product_id']}", None)]
        bids: list[Level] = [(lv[0], lv[1]) for lv in frame["bids"]]
        asks: list[Level] = [(lv[0], lv[1]) for lv in frame["asks"]]
        product.snapshot_seen = True
        ts = iso_seconds(frame["time"]) if "time" in frame else None
        return [Snapshot(product.instrument.symbol, bids, asks, None, ts)]

    def _l2update(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        product = state.products.get(frame["product_id"])
        if product is None:
            return [Malformed(f"update for unsubscribed {frame['product_id']}", None)]
        if not product.snapshot_seen:
            return self._desync(product, state, "l2update before snapshot")
        bids: list[Level] = []
        asks: list[Level] = []
        for side, price, size in frame["changes"]:
            if side == "buy":
                bids.append((price, size))
            elif side == "sell":
                asks.append((price, size))
            else:
                raise ValueError(f"unknown side {side!r}")
        ts = iso_seconds(frame["time"]) if "time" in frame else None
        return [Update(product.instrument.symbol, bids, asks, None, ts)]

    def _check_sequence(self, product: Product, sequence: int | None, state: State) -> list[Instruction]:
        if sequence is None:
            return []
        if product.sequence is not None and sequence < product.sequence:
            return [Malformed(f"sequence ran backwards {product.sequence} -> {sequence}", None)]
        product.sequence = sequence
        return []

    def _sequence(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        product = state.products.get(frame.get("product_id", ""))
        if product is None:
            return []
        return self._check_sequence(product, frame.get("sequence"), state)

    def _match(self, frame: dict[str, Any], state: State, last: bool) -> list[Instruction]:
        product = state.products.get(frame["product_id"])
        if product is None:
            return []
        out = self._check_sequence(product, frame.get("sequence"), state)
        trade_id = int(frame["trade_id"])
        if not last and product.trade_id is not None and trade_id > product.trade_id + 1 and product.snapshot_seen:
            out.append(Malformed(f"trade ids skipped {product.trade_id} -> {trade_id}", None))
        product.trade_id = trade_id if product.trade_id is None else max(trade_id, product.trade_id)
        if last:
            return out  # the trade before the subscription: history, not a new trade
        # Coinbase names the maker's side; the taker took the other one.
        taker = "buy" if frame["side"] == "sell" else "sell"
        out.append(
            Trade(
                product.instrument.symbol,
                taker,
                frame["price"],
                frame["size"],
                str(trade_id),
                iso_seconds(frame["time"]),
            )
        )
        return out

    # --- shared connections ----------------------------------------------------------
    # Products are added to and removed from one connection by `subscribe` and
    # `unsubscribe` messages naming them; each change is answered by a
    # `subscriptions` message listing what the connection now carries
    # (https://docs.cdp.coinbase.com/exchange/websocket-feed).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is not dict:
            return None, conn_state
        product = frame.get("product_id")
        if type(product) is str:
            return (product,), conn_state
        if frame.get("type") == "error":
            # Errors name no product: the connection logs it rather than every market resyncing.
            return None, conn_state
        if frame.get("type") == "status":
            return ALL_MARKETS, conn_state
        return None, conn_state

    def unsubscribe_msg(self, state: State) -> list[str]:
        ids = list(state.products)
        return [orjson.dumps({"type": "unsubscribe", "product_ids": ids, "channels": list(self.channels)}).decode()]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Products: id, base and quote currency, quote_increment (the tick), base_increment
    # (the lot), status and trading_disabled
    # (https://docs.cdp.coinbase.com/exchange/reference/exchangerestapi_getproducts).
    list_paths: tuple[str, ...] = ("/products",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        out: list[Listing] = []
        for item in items(body):
            pid = item.get("id") if isinstance(item, dict) else None
            if not isinstance(pid, str) or not item.get("base_currency") or not item.get("quote_currency"):
                raise ListingError(f"not a Coinbase product: {item!r:.200}")
            base, quote = symbols.normalise(item["base_currency"]), symbols.normalise(item["quote_currency"])
            tick, lot = decimal_text(item.get("quote_increment")), decimal_text(item.get("base_increment"))
            trading = item.get("status") == "online" and not item.get("trading_disabled")
            out.append(Listing(Instrument(base, quote, MarketType.SPOT, pid), tick, lot, None, trading))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("type") != "subscribe":
            return []
        names = [c if isinstance(c, str) else c.get("name") for c in frame.get("channels", [])]
        if not any(n in ("level2", "level2_batch", "level2_50") for n in names):
            return []
        return [p for p in frame.get("product_ids", []) if isinstance(p, str)]


# Coinbase Exchange websocket, per IP: 8 requests a second (bursts to 20), 100 messages sent
# a second. The per-IP message budget is paced per connection at the request rate, 8 a second.
# https://docs.cdp.coinbase.com/exchange/websocket-feed/rate-limits
# Public REST: 10 requests a second per IP (the scheme makes no REST calls).
# https://docs.cdp.coinbase.com/exchange/rest-api/rate-limits
# No number is published for channels per connection: 100 is assumed.
limits = VenueLimits(
    connects=8,
    connect_window=1.0,
    streams_per_connection=100,
    sends_per_second=8,
    rest_budget=10,
    rest_window=1.0,
)

scheme = CoinbaseScheme()
