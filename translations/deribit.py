"""Deribit json-rpc v2 websocket API.

Books come from `book.{instrument}.{interval}`: a "snapshot" notification,
then "change" notifications whose `prev_change_id` must equal the previous
notification's `change_id`; any other value means a notification was lost,
and the only way back is a fresh subscription, whose first notification is
a new snapshot. Levels are `[action, price, amount]` with JSON numbers.

Trades come from `trades.{instrument}.{interval}` with the taker's
`direction` and a per-instrument `trade_seq`.

The `raw` interval is reserved for authenticated connections today, so
live subscriptions use the finest public one (`100ms`); its book
notifications carry the same change ids. Any interval is understood when
translating, so the `raw` capture replays too.

Keep-alive: `public/set_heartbeat` makes the venue send `heartbeat`
notifications; those of type `test_request` must be answered with a
`public/test` request or the venue closes the connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimal_text, items, millis
from translations.numbers import to_decimal_str
from translations.protocol import (
    Instruction,
    Instrument,
    Level,
    Loss,
    Lost,
    Malformed,
    MarketType,
    Remedy,
    RestAnswer,
    Send,
    Snapshot,
    Trade,
    Update,
    refused,
)
from translations.scheme_defaults import SchemeDefaults
from translations.venue_limits import VenueLimits

HEARTBEAT_SECONDS = 30


@dataclass(slots=True)
class Market:
    instrument: Instrument
    change_id: int | None = None  # None: waiting for a snapshot
    resyncing: bool = False  # a resubscribe is under way; changes until its snapshot are stale
    trade_seq: int | None = None


@dataclass(slots=True)
class State:
    markets: dict[str, Market] = field(default_factory=dict)
    next_id: int = 1
    subscribe_ids: set[int] = field(default_factory=set)
    broken: str | None = None


class DeribitScheme(SchemeDefaults):
    name = "DERIBIT"
    ws_url = "wss://www.deribit.com/ws/api/v2"
    rest_url = ""
    market_types: tuple[MarketType, ...] = (MarketType.PERP, MarketType.FUTURE, MarketType.OPTION, MarketType.SPOT)
    ping_interval: float | None = None  # the venue's heartbeats keep the socket alive
    stale_after = 2.5 * HEARTBEAT_SECONDS
    remedies = frozenset({Remedy.RESUBSCRIBE})
    interval = "100ms"  # the finest interval open to unauthenticated connections

    # --- instruments -----------------------------------------------------------

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        if market_type is MarketType.PERP:
            # Inverse perpetuals are named after the coin alone; linear ones carry the quote.
            return f"{base}-PERPETUAL" if quote == "USD" else f"{base}_{quote}-PERPETUAL"
        if market_type is MarketType.SPOT:
            return f"{base}_{quote}"
        return super().venue_symbol(base, quote, market_type)

    def from_symbol(self, name: str) -> Instrument:
        """BTC-PERPETUAL, BTC_USDC-PERPETUAL, BTC-24SEP21, BTC-24SEP21-8000-P, BTC_USDC."""
        parts = name.split("-")
        head = parts[0]
        base, _, quote = head.partition("_")
        if not base:
            raise ValueError(f"not a Deribit instrument name: {name!r}")
        if len(parts) == 1:
            if not quote:
                raise ValueError(f"not a Deribit instrument name: {name!r}")
            kind = MarketType.SPOT
        elif len(parts) == 2:
            kind = MarketType.PERP if parts[1] == "PERPETUAL" else MarketType.FUTURE
        elif len(parts) == 4 and parts[3] in ("C", "P"):
            kind = MarketType.OPTION
        else:
            raise ValueError(f"not a Deribit instrument name: {name!r}")
        # Coin-margined (inverse) contracts are quoted in USD.
        return Instrument(symbols.normalise(base), symbols.normalise(quote or "USD"), kind, name)

    # --- connection ------------------------------------------------------------------

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Market(i) for i in instruments})

    def _request(self, state: State, method: str, params: dict[str, Any]) -> str:
        rid = state.next_id
        state.next_id += 1
        if method.endswith("/subscribe"):
            state.subscribe_ids.add(rid)
        return orjson.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).decode()

    def subscribe_msg(self, state: State) -> list[str]:
        names = list(state.markets)
        channels = [f"book.{n}.{self.interval}" for n in names] + [f"trades.{n}.{self.interval}" for n in names]
        return [
            self._request(state, "public/set_heartbeat", {"interval": HEARTBEAT_SECONDS}),
            self._request(state, "public/subscribe", {"channels": channels}),
        ]

    def ping_msg(self, state: State) -> list[str]:
        return [self._request(state, "public/test", {})]

    # --- translate ---------------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if isinstance(frame, RestAnswer):
                return [], state
            return [Malformed("not a JSON object", frame)], state
        method = frame.get("method")
        try:
            if method == "subscription":
                params = frame["params"]
                channel: str = params["channel"]
                if channel.startswith("book."):
                    return self._book(params["data"], frame, state), state
                if channel.startswith("trades."):
                    return self._trades(params["data"], state), state
                if channel.startswith("ticker."):
                    return [], state
                return [Malformed(f"unexpected channel {channel!r}", frame)], state
            if method == "heartbeat":
                if frame["params"]["type"] == "test_request":
                    return [Send([self._request(state, "public/test", {})])], state
                return [], state
            if "id" in frame and method is None:
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
        reason = f"venue error {error.get('code')}: {error.get('message')}"
        if was_subscribe:
            # Without the subscription the books cannot be kept: start over.
            state.broken = reason
            return refused(state.markets, reason, frame)
        return [Malformed(reason, frame)]

    def _bad(self, frame: dict[str, Any], state: State, reason: str) -> list[Instruction]:
        """A book notification we could not read may have lost a change: resync that market."""
        out: list[Instruction] = [Malformed(reason, frame)]
        try:
            channel = frame["params"]["channel"]
        except (KeyError, TypeError):
            return out
        if isinstance(channel, str) and channel.startswith("book."):
            market = state.markets.get(channel.split(".")[1])
            if market is not None:
                out.extend(self._lost(market, Loss.MALFORMED, "unreadable book notification"))
        return out

    def _lost(self, market: Market, kind: Loss, reason: str) -> list[Instruction]:
        market.change_id = None
        market.resyncing = True  # until the snapshot the remedy brings
        return [Lost(market.instrument.symbol, kind, reason)]

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        channel = [f"book.{symbol}.{self.interval}"]
        return [
            self._request(state, "public/unsubscribe", {"channels": channel}),
            self._request(state, "public/subscribe", {"channels": channel}),
        ]

    @staticmethod
    def _levels(raw: list[list[Any]]) -> list[Level]:
        out: list[Level] = []
        for action, price, amount in raw:
            if action == "delete":
                out.append((to_decimal_str(price), "0"))
            elif action == "new" or action == "change":
                out.append((to_decimal_str(price), to_decimal_str(amount)))
            else:
                raise ValueError(f"unknown level action {action!r}")
        return out

    def _book(self, data: dict[str, Any], frame: dict[str, Any], state: State) -> list[Instruction]:
        market = state.markets.get(data["instrument_name"])
        if market is None:
            return [Malformed(f"book for unsubscribed {data['instrument_name']}", frame)]
        change_id = int(data["change_id"])
        kind = data["type"]
        symbol = market.instrument.symbol
        if kind == "change":
            if market.change_id is None:
                if market.resyncing:
                    return []  # the old subscription's last words, before the new snapshot
                return self._lost(market, Loss.GAP, "change before snapshot")
            prev = data["prev_change_id"]
            if prev != market.change_id:
                return self._lost(market, Loss.GAP, f"change ids broke: expected {market.change_id}, got {prev}")
            bids = self._levels(data["bids"])
            asks = self._levels(data["asks"])
            market.change_id = change_id
            return [Update(symbol, bids, asks, change_id, data["timestamp"] / 1000.0)]
        if kind == "snapshot":
            bids = self._levels(data["bids"])
            asks = self._levels(data["asks"])
            market.change_id = change_id
            market.resyncing = False
            return [Snapshot(symbol, bids, asks, change_id, data["timestamp"] / 1000.0)]
        raise ValueError(f"unknown book notification type {kind!r}")

    def _trades(self, data: list[dict[str, Any]], state: State) -> list[Instruction]:
        out: list[Instruction] = []
        for t in data:
            market = state.markets.get(t["instrument_name"])
            if market is None:
                continue
            seq = t.get("trade_seq")
            if seq is not None:
                if market.trade_seq is not None and seq > market.trade_seq + 1:
                    out.append(Malformed(f"{market.instrument.symbol} trade_seq skipped {market.trade_seq} -> {seq}"))
                if market.trade_seq is None or seq > market.trade_seq:
                    market.trade_seq = seq
            direction = t["direction"]
            if direction != "buy" and direction != "sell":
                raise ValueError(f"unknown trade direction {direction!r}")
            out.append(
                Trade(
                    market.instrument.symbol,
                    direction,
                    to_decimal_str(t["price"]),
                    to_decimal_str(t["amount"]),
                    str(t["trade_id"]),
                    t["timestamp"] / 1000.0,
                )
            )
        return out

    # --- shared connections ----------------------------------------------------------
    # `public/subscribe` and `public/unsubscribe` take lists of channels, each
    # `kind.instrument.interval`; notifications name their channel
    # (https://docs.deribit.com/api-reference/subscription-management/public-unsubscribe.md).
    # Test requests and responses belong to the connection.

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is dict and frame.get("method") == "subscription":
            params = frame.get("params")
            channel = params.get("channel") if type(params) is dict else None
            if type(channel) is str:
                parts = channel.split(".")
                if len(parts) >= 2:
                    return (parts[1],), conn_state
        return None, conn_state

    def unsubscribe_msg(self, state: State) -> list[str]:
        names = list(state.markets)
        channels = [f"book.{n}.{self.interval}" for n in names] + [f"trades.{n}.{self.interval}" for n in names]
        return [self._request(state, "public/unsubscribe", {"channels": channels})]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Instruments per currency: instrument_name, kind (future, option, spot), base and
    # quote currency, tick_size, min_trade_amount, expiration_timestamp, is_active
    # (https://docs.deribit.com/#public-get_instruments). Perpetuals are futures whose
    # settlement_period is "perpetual". Option prices are in the quote the list names
    # (BTC for BTC options), not the USD their strikes are in.
    list_url = "https://www.deribit.com"
    list_paths: tuple[str, ...] = (
        "/api/v2/public/get_instruments?currency=BTC&expired=false",
        "/api/v2/public/get_instruments?currency=ETH&expired=false",
        "/api/v2/public/get_instruments?currency=SOL&expired=false",
        "/api/v2/public/get_instruments?currency=USDC&expired=false",
    )

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        kinds = {"future": MarketType.FUTURE, "option": MarketType.OPTION, "spot": MarketType.SPOT}
        out: list[Listing] = []
        for item in items(body, "result"):
            name = item.get("instrument_name") if isinstance(item, dict) else None
            kind = kinds.get(item.get("kind", "")) if isinstance(item, dict) else None
            if not isinstance(name, str) or not item.get("base_currency") or not item.get("quote_currency"):
                raise ListingError(f"not a Deribit instrument: {item!r:.200}")
            if kind is None:
                continue  # combos: no book of their own here
            if item.get("settlement_period") == "perpetual":
                kind = MarketType.PERP
            base, quote = symbols.normalise(item["base_currency"]), symbols.normalise(item["quote_currency"])
            dated = kind in (MarketType.FUTURE, MarketType.OPTION)
            expiry = millis(item.get("expiration_timestamp")) if dated else None
            tick, lot = decimal_text(item.get("tick_size")), decimal_text(item.get("min_trade_amount"))
            out.append(Listing(Instrument(base, quote, kind, name), tick, lot, expiry, item.get("is_active") is True))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("method") not in ("public/subscribe", "private/subscribe"):
            return []
        out: list[str] = []
        for channel in (frame.get("params") or {}).get("channels", []):
            parts = channel.split(".") if isinstance(channel, str) else []
            if len(parts) == 3 and parts[0] == "book":
                out.append(parts[1])
        return out


# Deribit meters requests in credits: a subscribe costs 3,000 of a 30,000 pool that refills
# at about 3.3 subscribes a second; out of credits the venue answers too_many_requests (10028)
# and ends the session. 3 messages a second are paced.
# https://docs.deribit.com/articles/rate-limits
# No number is published for connection attempts (32 connections may be open per IP) or
# channels per connection: about one attempt a second and 100 channels are assumed.
limits = VenueLimits(
    connects=10,
    connect_window=10.0,
    streams_per_connection=100,
    sends_per_second=3,
    rest_budget=20,
    rest_window=1.0,
)

scheme = DeribitScheme()
