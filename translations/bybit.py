"""Bybit public websocket feed: the v5 API, and the legacy dialect of
recorded sessions.

v5 (spot, linear and inverse endpoints): `orderbook.{depth}.{symbol}` sends a
snapshot, then deltas of [price, size] strings (size "0" deletes), each with
an update id `u` that runs on by one per message and a matching-engine
sequence `seq` that never runs backwards. A snapshot may come again at any
time (`u` = 1 after a service restart) and replaces the book. The venue only
keeps the subscribed depth, so the book is cut to it after every delta.
`publicTrade.{symbol}` names the taker's side.

Legacy `realtime_public` (USDT perpetuals, 2021): `orderBookL2_25.{symbol}`
snapshot / delta with delete, update and insert rows keyed by an id, and a
`cross_seq` that never runs backwards; `trade.{symbol}`. The scheme keeps an
id -> (side, price) map so every row can be checked against the book.

A break resubscribes that market's book topic alone.
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
    Snapshot,
    Trade,
    Truncate,
    Update,
    refused,
)
from translations.scheme_defaults import SchemeDefaults
from translations.symbol_pairs import split_quote
from translations.timeparse import iso_seconds
from translations.venue_limits import VenueLimits

DEPTH = 50
WS_BASE = "wss://stream.bybit.com/v5/public"
MONTH_CODES = frozenset("FGHJKMNQUVXZ")
SPOT_QUOTES = ("USDT", "USDC", "USDE", "BTC", "ETH", "EUR", "BRL", "DAI", "TRY", "BRZ", "MNT")
PERP_QUOTES = ("USDT", "USDC", "USD")  # linear perpetuals, then inverse ones
LEGACY_BOOK_PREFIXES = ("orderBookL2_25.", "orderBook_200.")
MAX_ARGS = 10  # the venue takes at most ten topics per subscribe request

# (is_bid, price) of a legacy row id
LegacyLevels = dict[Any, tuple[bool, str]]


@dataclass(slots=True)
class Market:
    instrument: Instrument
    topic: str  # the book topic: resubscribed on a break
    depth: int = DEPTH
    snapshot_seen: bool = False
    resyncing: bool = False  # resubscribed: waiting for the fresh snapshot
    update_id: int = 0  # v5 `u`
    seq: int = 0  # v5 `seq`, legacy `cross_seq`
    ids: LegacyLevels = field(default_factory=dict)


@dataclass(slots=True)
class State:
    markets: dict[str, Market] = field(default_factory=dict)
    broken: str | None = None


def _category(instrument: Instrument) -> str:
    if instrument.market_type is MarketType.SPOT:
        return "spot"
    if instrument.quote in ("USDT", "USDC"):
        return "linear"
    return "inverse"


class BybitScheme(SchemeDefaults):
    name = "BYBIT"
    ws_url = f"{WS_BASE}/linear"  # spot and inverse markets: see endpoint()
    rest_url = "https://api.bybit.com"
    market_types: tuple[MarketType, ...] = (MarketType.SPOT, MarketType.PERP, MarketType.FUTURE)
    ping_interval: float | None = 20.0  # the venue drops connections that stay quiet
    stale_after = 60.0
    remedies = frozenset({Remedy.RESUBSCRIBE})

    def endpoint(self, instruments: Sequence[Instrument]) -> str:
        """v5 serves each category on its own path; one connection, one category."""
        categories = {_category(i) for i in instruments}
        if len(categories) > 1:
            raise ValueError(f"{self.name} markets of categories {sorted(categories)} need separate connections")
        return f"{WS_BASE}/{categories.pop() if categories else 'linear'}"

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        if market_type is MarketType.SPOT or (market_type is MarketType.PERP and quote in ("USDT", "USD")):
            return f"{base}{quote}"
        if market_type is MarketType.PERP and quote == "USDC":
            return f"{base}PERP"
        if market_type is MarketType.PERP:
            raise ValueError(f"{self.name} has no perpetuals quoted in {quote}")
        return super().venue_symbol(base, quote, market_type)

    def from_symbol(self, symbol: str, category: str | None = None) -> Instrument:
        """The instrument a Bybit symbol names. Spot and linear perpetuals share
        names (BTCUSDT); without the category a name is taken as a derivative."""
        if category == "spot":
            split = split_quote(symbol, SPOT_QUOTES)
            if split is not None:
                return Instrument(symbols.normalise(split[0]), symbols.normalise(split[1]), MarketType.SPOT, symbol)
            raise ValueError(f"not a Bybit spot symbol: {symbol!r}")
        if "-" in symbol:
            # Dated linear futures: BTC-28MAR25 (USDC settled), BTCUSDT-21FEB25.
            head, _, expiry = symbol.partition("-")
            if not expiry or "-" in expiry:
                raise ValueError(f"not a Bybit future: {symbol!r}")
            base, quote = (head[:-4], "USDT") if head.endswith("USDT") else (head, "USDC")
            return Instrument(symbols.normalise(base), quote, MarketType.FUTURE, symbol)
        if symbol.endswith("PERP") and len(symbol) > 4:
            return Instrument(symbols.normalise(symbol[:-4]), "USDC", MarketType.PERP, symbol)
        if len(symbol) > 6 and symbol[-3] in MONTH_CODES and symbol[-2:].isdigit() and symbol[-6:-3] == "USD":
            # Dated inverse futures: BTCUSDH25.
            return Instrument(symbols.normalise(symbol[:-6]), "USD", MarketType.FUTURE, symbol)
        split = split_quote(symbol, PERP_QUOTES)
        if split is not None:
            return Instrument(symbols.normalise(split[0]), split[1], MarketType.PERP, symbol)
        raise ValueError(f"not a Bybit symbol: {symbol!r}")

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Market(i, f"orderbook.{DEPTH}.{i.symbol}") for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        topics: list[str] = []
        for sym, market in state.markets.items():
            topics += [market.topic, f"publicTrade.{sym}"]
        return [
            orjson.dumps({"op": "subscribe", "args": topics[i : i + MAX_ARGS]}).decode()
            for i in range(0, len(topics), MAX_ARGS)
        ]

    def ping_msg(self, state: State) -> list[str]:
        return ['{"op":"ping"}']

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if isinstance(frame, RestAnswer):
                return [], state
            return [Malformed("not a JSON object", frame)], state
        topic = frame.get("topic")
        try:
            if topic is not None:
                if topic.startswith("orderbook."):
                    return self._book(frame, state), state
                if topic.startswith("publicTrade."):
                    return self._trades(frame, state), state
                if topic.startswith(LEGACY_BOOK_PREFIXES):
                    return self._legacy_book(frame, state), state
                if topic.startswith("trade."):
                    return self._legacy_trades(frame, state), state
                return [Malformed(f"unexpected topic {topic!r}", frame)], state
            success = frame.get("success")
            if success is True or frame.get("op") == "pong":
                return [], state  # subscription acknowledgements and pongs
            if success is False:
                reason = f"venue error: {frame.get('ret_msg')}"
                state.broken = reason
                return refused(state.markets, reason, frame), state
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return self._bad(frame, state, f"{topic}: {type(exc).__name__} {exc}"), state
        return [Malformed("unknown frame", frame)], state

    def _bad(self, frame: dict[str, Any], state: State, reason: str) -> list[Instruction]:
        """A malformed book frame may have lost a change: resync that market."""
        out: list[Instruction] = [Malformed(reason, frame)]
        topic = frame.get("topic")
        if isinstance(topic, str) and (topic.startswith("orderbook.") or topic.startswith(LEGACY_BOOK_PREFIXES)):
            market = state.markets.get(topic.rpartition(".")[2])
            if market is not None and market.snapshot_seen:
                out.extend(self._desync(market, "malformed book frame", Loss.MALFORMED))
        return out

    def _desync(self, market: Market, reason: str, kind: Loss = Loss.GAP) -> list[Instruction]:
        """The book is lost; deltas still in flight are dropped until the
        fresh snapshot the remedy brings."""
        market.snapshot_seen = False
        market.resyncing = True
        market.ids = {}
        return [Lost(market.instrument.symbol, kind, reason)]

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        """A fresh snapshot: the market's book topic renewed."""
        topic = state.markets[symbol].topic
        return [
            orjson.dumps({"op": "unsubscribe", "args": [topic]}).decode(),
            orjson.dumps({"op": "subscribe", "args": [topic]}).decode(),
        ]

    def _before_snapshot(self, market: Market) -> list[Instruction]:
        if market.resyncing:
            return []  # in flight before the fresh snapshot, which holds its change
        # The venue sends the snapshot first: a delta without one means frames were lost.
        return self._desync(market, "delta before snapshot")

    # --- v5 --------------------------------------------------------------------

    def _book(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        data = frame["data"]
        sym = data["s"]
        market = state.markets.get(sym)
        if market is None:
            return [Malformed(f"book for unsubscribed {sym}", None)]
        kind = frame["type"]
        u = data["u"]
        seq = data.get("seq")
        ts = frame.get("cts") or frame["ts"]
        topic = frame["topic"]
        if topic != market.topic:
            # Resubscribe what the venue actually sends: the depth may differ.
            market.topic = topic
            market.depth = int(topic.split(".")[1])
        if kind == "snapshot":
            market.snapshot_seen = True
            market.resyncing = False
            market.update_id = u
            market.seq = seq or 0
            return [Snapshot(sym, data["b"], data["a"], u, ts / 1000.0)]
        if kind != "delta":
            return [Malformed(f"unknown book message type {kind!r}", frame)]
        if not market.snapshot_seen:
            return self._before_snapshot(market)
        if u != market.update_id + 1:
            return self._desync(market, f"update id {market.update_id} followed by {u}")
        if seq is not None:
            if seq < market.seq:
                return self._desync(market, f"sequence ran backwards {market.seq} -> {seq}")
            market.seq = seq
        market.update_id = u
        return [Update(sym, data["b"], data["a"], u, ts / 1000.0), Truncate(sym, market.depth)]

    def _trades(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        out: list[Instruction] = []
        markets = state.markets
        for row in frame["data"]:
            sym = row["s"]
            if sym not in markets:
                continue
            side = row["S"]
            if side != "Buy" and side != "Sell":
                out.append(Malformed(f"trade with unknown side {side!r}", row))
                continue
            out.append(Trade(sym, "buy" if side == "Buy" else "sell", row["p"], row["v"], row["i"], row["T"] / 1000.0))
        return out

    # --- legacy realtime_public --------------------------------------------------

    def _legacy_book(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        topic = frame["topic"]
        sym = topic.rpartition(".")[2]
        market = state.markets.get(sym)
        if market is None:
            return [Malformed(f"book for unsubscribed {sym}", None)]
        kind = frame["type"]
        seq = int(frame["cross_seq"])
        ts = int(frame["timestamp_e6"]) / 1_000_000.0
        data = frame["data"]
        market.topic = topic
        if kind == "snapshot":
            rows = data["order_book"] if isinstance(data, dict) else data
            bids: list[Level] = []
            asks: list[Level] = []
            ids: LegacyLevels = {}
            for row in rows:
                price = to_decimal_str(row["price"])
                side = row["side"]
                if side == "Buy":
                    ids[row["id"]] = (True, price)
                    bids.append((price, to_decimal_str(row["size"])))
                elif side == "Sell":
                    ids[row["id"]] = (False, price)
                    asks.append((price, to_decimal_str(row["size"])))
                else:
                    raise ValueError(f"unknown side {side!r}")
            market.ids = ids
            market.snapshot_seen = True
            market.resyncing = False
            market.seq = seq
            return [Snapshot(sym, bids, asks, seq, ts)]
        if kind != "delta":
            return [Malformed(f"unknown book message type {kind!r}", frame)]
        if not market.snapshot_seen:
            return self._before_snapshot(market)
        if seq < market.seq:
            return self._desync(market, f"cross sequence ran backwards {market.seq} -> {seq}")
        ids = market.ids
        bids = []
        asks = []
        # The venue's order: deletes, then updates, then inserts.
        for row in data["delete"]:
            known = ids.pop(row["id"], None)
            if known is None:
                return self._desync(market, f"delete for unknown id {row['id']}")
            if "price" in row and to_decimal_str(row["price"]) != known[1]:
                return self._desync(market, f"delete for id {row['id']} names another price")
            (bids if known[0] else asks).append((known[1], "0"))
        for row in data["update"]:
            known = ids.get(row["id"])
            if known is None:
                return self._desync(market, f"update for unknown id {row['id']}")
            if "price" in row and to_decimal_str(row["price"]) != known[1]:
                return self._desync(market, f"update for id {row['id']} names another price")
            (bids if known[0] else asks).append((known[1], to_decimal_str(row["size"])))
        for row in data["insert"]:
            rid = row["id"]
            if rid in ids:
                return self._desync(market, f"insert for existing id {rid}")
            price = to_decimal_str(row["price"])
            side = row["side"]
            if side != "Buy" and side != "Sell":
                raise ValueError(f"unknown side {side!r}")
            is_bid = side == "Buy"
            ids[rid] = (is_bid, price)
            (bids if is_bid else asks).append((price, to_decimal_str(row["size"])))
        market.seq = seq
        return [Update(sym, bids, asks, seq, ts)]

    def _legacy_trades(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        out: list[Instruction] = []
        markets = state.markets
        for row in frame["data"]:
            sym = row["symbol"]
            if sym not in markets:
                continue
            side = row["side"]
            if side != "Buy" and side != "Sell":
                out.append(Malformed(f"trade with unknown side {side!r}", row))
                continue
            ms = row.get("trade_time_ms")
            stamp = int(ms) / 1000.0 if ms is not None else iso_seconds(row["timestamp"])
            out.append(
                Trade(
                    sym,
                    "buy" if side == "Buy" else "sell",
                    to_decimal_str(row["price"]),
                    to_decimal_str(row["size"]),
                    str(row["trade_id"]),
                    stamp,
                )
            )
        return out

    # --- shared connections ----------------------------------------------------------
    # Topics of many symbols share a connection (at most ten args a request on
    # spot); every push names its topic, which ends with the symbol
    # (https://bybit-exchange.github.io/docs/v5/ws/connect).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is dict:
            topic = frame.get("topic")
            if type(topic) is str:
                return (topic.rpartition(".")[2],), conn_state
        return None, conn_state  # acknowledgements, pongs and errors

    def unsubscribe_msg(self, state: State) -> list[str]:
        topics: list[str] = []
        for sym, market in state.markets.items():
            topics += [market.topic, f"publicTrade.{sym}"]
        return [
            orjson.dumps({"op": "unsubscribe", "args": topics[i : i + MAX_ARGS]}).decode()
            for i in range(0, len(topics), MAX_ARGS)
        ]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # v5 instruments info per category: symbol, contractType, baseCoin / quoteCoin,
    # status, priceFilter.tickSize, lotSizeFilter.qtyStep (basePrecision for spot) and
    # deliveryTime (https://bybit-exchange.github.io/docs/v5/market/instrument); one page
    # holds up to 1000 instruments (`limit`), so only the derivatives' first page is read
    # ("limit=1000"). The legacy v2 symbol list of recorded sessions is read too
    # (https://bybit-exchange.github.io/docs/inverse/#t-querysymbol): it names no expiry.
    # Linear first: a name that is both a spot pair and a perpetual is taken as the
    # perpetual, as from_symbol takes it.
    list_paths: tuple[str, ...] = (
        "/v5/market/instruments-info?category=linear&limit=1000",
        "/v5/market/instruments-info?category=inverse&limit=1000",
        "/v5/market/instruments-info?category=spot&limit=1000",
    )
    legacy_list_paths: tuple[str, ...] = ("/v2/public/symbols",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        result = body.get("result") if isinstance(body, dict) else None
        if isinstance(result, dict):
            category = result.get("category", "")
            listed = (self._v5_listing(item, category) for item in items(result, "list"))
            return [listing for listing in listed if listing is not None]
        return [self._v2_listing(item) for item in items(body, "result")]

    def _v5_listing(self, item: Any, category: Any) -> Listing | None:
        sym = item.get("symbol") if isinstance(item, dict) else None
        if not isinstance(sym, str) or not item.get("baseCoin") or not item.get("quoteCoin"):
            raise ListingError(f"not a Bybit instrument: {item!r:.200}")
        contract = item.get("contractType", "")
        if category == "spot":
            kind = MarketType.SPOT
        elif contract in ("LinearPerpetual", "InversePerpetual"):
            kind = MarketType.PERP
        elif contract in ("LinearFutures", "InverseFutures"):
            kind = MarketType.FUTURE
        else:
            return None  # options and kinds level4 has no market type for: left out
        ins = Instrument(symbols.normalise(item["baseCoin"]), symbols.normalise(item["quoteCoin"]), kind, sym)
        lots = item.get("lotSizeFilter") or {}
        tick = decimal_text((item.get("priceFilter") or {}).get("tickSize"))
        lot = decimal_text(lots.get("qtyStep") or lots.get("basePrecision"))
        expiry = millis(item.get("deliveryTime")) if kind is MarketType.FUTURE else None
        return Listing(ins, tick, lot, expiry, item.get("status") == "Trading")

    def _v2_listing(self, item: Any) -> Listing:
        sym = item.get("name") if isinstance(item, dict) else None
        if not isinstance(sym, str) or not item.get("base_currency") or not item.get("quote_currency"):
            raise ListingError(f"not a Bybit symbol: {item!r:.200}")
        # v2 names no contract type: a dated future's name ends in a month code and year.
        dated = len(sym) > 3 and sym[-3] in MONTH_CODES and sym[-2:].isdigit()
        kind = MarketType.FUTURE if dated else MarketType.PERP
        base, quote = symbols.normalise(item["base_currency"]), symbols.normalise(item["quote_currency"])
        tick = decimal_text((item.get("price_filter") or {}).get("tick_size"))
        lot = decimal_text((item.get("lot_size_filter") or {}).get("qty_step"))
        return Listing(Instrument(base, quote, kind, sym), tick, lot, None, item.get("status") == "Trading")

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("op") != "subscribe":
            return []
        args = frame.get("args") or []
        out: list[str] = []
        for topic in [args] if isinstance(args, str) else args:
            if not isinstance(topic, str):
                continue
            if topic.startswith("orderbook."):
                names = [topic.rpartition(".")[2]]
            elif topic.startswith(LEGACY_BOOK_PREFIXES):
                names = topic.rpartition(".")[2].split("|")
            else:
                continue
            out.extend(n for n in names if n != "*" and n not in out)
        return out


# Bybit v5: at most 500 websocket connections in 5 minutes per IP; REST 600 requests in any
# 5 seconds per IP, over it HTTP 403 "access too frequent" and at least 10 minutes' wait.
# https://bybit-exchange.github.io/docs/v5/rate-limit
# No number is published for topics per connection or messages a second: 100 topics and 5
# messages a second are assumed.
limits = VenueLimits(
    connects=500,
    connect_window=300.0,
    streams_per_connection=100,
    sends_per_second=5,
    rest_budget=600,
    rest_window=5.0,
    retry_after=600.0,
    throttle_statuses=(429, 418, 403),
)

scheme = BybitScheme()
