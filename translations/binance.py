"""Binance spot websocket streams.

Dialect: combined streams (`/stream`), each event wrapped as
`{"stream": name, "data": event}`; markets are subscribed with a
`SUBSCRIBE` method frame, or named in the URL (`/stream?streams=a/b`, as
recorded captures do). Raw single streams (`/ws/...`, no envelope) are
understood too.

Book: `<symbol>@depth@100ms` diffs carry the update-id range `U..u` they
cover, and the REST snapshot `/api/v3/depth` its `lastUpdateId`. The
documented procedure: open the stream and buffer its diffs, fetch a
snapshot, fetch again if it is older than the first diff received, drop
diffs already in it (`u <= lastUpdateId`), the first diff applied must
straddle `lastUpdateId + 1` and every later one must start right after the
previous (`U == u + 1`). The snapshot is asked for as soon as the market's
subscription has gone out (`opened`), not when its first diff arrives:
nothing in the procedure waits for a diff before step 3, and step 4 needs
only the first diff's `U`, so a snapshot answered before any diff waits for
that first diff, which tells whether it predates the stream (then another is
fetched). That saves a round trip after every (re)connect. A break is a
Desync and a new snapshot fetch while diffs are buffered again. The
snapshot holds at most 1000 levels a side, so levels further out appear
only as diffs touch them; the top of the book is exact.

Trades: `@trade` (live subscription) and `@aggTrade` (older captures); `m`
says the buyer was the maker, so the taker sold. `@bookTicker` and
`@kline_*` events carry nothing the book needs and are ignored.

Keep-alive: the venue pings at the websocket level; quiet markets may send
nothing for minutes, so `LIST_SUBSCRIPTIONS` is asked periodically, which
also proves the book streams are still subscribed.

Binance.US speaks the same dialect on other hosts: override the endpoints
with `wss://stream.binance.us:9443/stream` and `https://api.binance.us`.

Symbols have no separator (`NKNUSDT`); the quote is found by the longest
known quote asset that ends the symbol (QUOTES below). Schemes read no
files, so the list is kept by hand; a symbol with no known quote raises
ValueError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimal_text, items, millis
from translations.protocol import (
    ALL_MARKETS,
    Instruction,
    Instrument,
    Loss,
    Lost,
    Malformed,
    MarketType,
    Reconnect,
    Remedy,
    RestAnswer,
    Snapshot,
    Trade,
    Update,
    refused,
)
from translations.rest_snapshot import BreakableState, SnapshotJoining
from translations.symbol_pairs import longest_first, split_quote
from translations.venue_limits import VenueLimits

# Quote assets, longest first so that BUSD wins over USD and FDUSD over USD.
# USD is Binance.US's quote. Deliberately absent: AEUR and EURI (ADAEUR is
# ADA/EUR), which Binance lists as base assets.
QUOTES: tuple[str, ...] = longest_first(
    [
        "USDT",
        "BUSD",
        "USDC",
        "TUSD",
        "FDUSD",
        "USDP",
        "USDS",
        "PAX",
        "DAI",
        "VAI",
        "USD",
        "BTC",
        "ETH",
        "BNB",
        "XRP",
        "TRX",
        "DOGE",
        "EUR",
        "GBP",
        "TRY",
        "BRL",
        "AUD",
        "RUB",
        "UAH",
        "NGN",
        "ZAR",
        "JPY",
        "ARS",
        "MXN",
        "PLN",
        "RON",
        "CZK",
        "COP",
        "BIDR",
        "IDRT",
        "BKRW",
        "BVND",
        "GYEN",
    ]
)

# Levels a side asked of /api/v3/depth. The book below the snapshot fills only as diffs touch
# it, so the depth bounds how far the price may move before the top is built from levels that
# were never seen: 1000 keeps that far off, and is the most a call weighing 50 buys (`limits`
# below; 1001 would weigh 250). Starting many markets is paced by weight, not made shallower.
SNAPSHOT_DEPTH = 1000


@dataclass(slots=True)
class Market:
    instrument: Instrument
    last: int | None = None  # u of the last applied diff (or the snapshot's lastUpdateId); None: not synced
    straddle: bool = False  # the next diff is the first after a snapshot
    fetching: bool = False
    fetches: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False  # its snapshot cannot be had on this connection: wait for the reconnect
    streaming: bool = False  # a diff has arrived on this subscription
    held: tuple[int, list[Any], list[Any]] | None = None  # a snapshot answered before the first diff


@dataclass(slots=True)
class State:
    markets: dict[str, Market] = field(default_factory=dict)
    broken: str | None = None
    next_id: int = 2  # 1 is the subscribe request


class BinanceScheme(SnapshotJoining[Market]):
    name = "BINANCE"
    ws_url = "wss://stream.binance.com:9443/stream"
    rest_url = "https://api.binance.com"
    market_types: tuple[MarketType, ...] = (MarketType.SPOT,)
    ping_interval: float | None = 20.0
    stale_after = 60.0
    # Channels with events the book does not need (bookTicker is read by the tests as evidence).
    ignored: frozenset[str] = frozenset({"kline", "24hrTicker", "24hrMiniTicker"})
    remedies = frozenset({Remedy.REFETCH})
    snapshot_position = "lastUpdateId"

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        return base + quote

    def from_symbol(self, symbol: str) -> Instrument:
        sym = symbol.upper()
        split = split_quote(sym, QUOTES)
        if split is not None:
            return Instrument(symbols.normalise(split[0]), symbols.normalise(split[1]), MarketType.SPOT, sym)
        raise ValueError(f"no known quote asset ends the Binance symbol {symbol!r}")

    def _from_streams(self, names: Sequence[Any]) -> list[Instrument]:
        out: list[Instrument] = []
        for name in names:
            if not isinstance(name, str):
                continue
            sym, _, kind = name.partition("@")
            if kind.startswith("depth"):
                ins = self.from_symbol(sym)
                if ins not in out:
                    out.append(ins)
        return out

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Market(i) for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        params: list[str] = []
        for sym in state.markets:
            low = sym.lower()
            params += [f"{low}@depth@100ms", f"{low}@trade"]
        return [orjson.dumps({"method": "SUBSCRIBE", "params": params, "id": 1}).decode()]

    def ping_msg(self, state: State) -> list[str]:
        state.next_id += 1
        return [orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": state.next_id}).decode()]

    def depth_path(self, symbol: str) -> str:
        return f"/api/v3/depth?symbol={symbol}&limit={SNAPSHOT_DEPTH}"

    def snapshot_path(self, symbol: str) -> str:
        return self.depth_path(symbol)

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if isinstance(frame, RestAnswer):
                return self._rest(frame, state), state
            return [Malformed("not a JSON object", frame)], state
        data = frame.get("data", frame) if "stream" in frame else frame
        if not isinstance(data, dict):
            return [Malformed("event is not an object", frame)], state
        kind = data.get("e")
        try:
            if kind == "depthUpdate":
                market = state.markets.get(data["s"])
                if market is None:
                    return [Malformed(f"depth for unsubscribed {data['s']}", None)], state
                out: list[Instruction] = []
                self._diff(market, data, out, state)
                return out, state
            if kind == "trade" or kind == "aggTrade":
                return self._trade(data, state, kind), state
            if kind is None:
                if "u" in data and "b" in data:  # bookTicker: top-of-book, not needed by the book
                    return [], state
                if "id" in data and ("result" in data or "error" in data or "code" in data):
                    return self._response(data, state), state
            elif kind in self.ignored:
                return [], state
            elif kind == "serverShutdown":
                state.broken = "venue server shutting down"
                return [Reconnect(state.broken)], state
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return self._bad(data, state, f"{kind}: {type(exc).__name__} {exc}"), state
        return [Malformed(f"unknown event {kind!r}", frame)], state

    def _bad(self, data: dict[str, Any], state: State, reason: str) -> list[Instruction]:
        """A malformed diff may have lost changes: that market starts over."""
        out: list[Instruction] = [Malformed(reason, data)]
        sym = data.get("s")
        market = state.markets.get(sym) if data.get("e") == "depthUpdate" and isinstance(sym, str) else None
        if market is not None:
            self._restart(market, Loss.MALFORMED, f"malformed diff: {reason}", out)
        return out

    def _synced(self, market: Market) -> bool:
        return market.last is not None

    def _forget(self, market: Market) -> None:
        market.last = None
        market.straddle = False
        market.held = None

    def opened(self, state: State) -> list[Instruction]:
        """The markets' subscription has just gone out: their snapshots are asked
        for now, while their diffs are buffered (Binance's procedure, steps 1-3:
        https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#how-to-manage-a-local-order-book-correctly)."""
        out: list[Instruction] = []
        for market in state.markets.values():
            if market.last is None and not market.fetching and not market.failed:
                self._fetch(market, out)
        return out

    def _diff(self, market: Market, data: dict[str, Any], out: list[Instruction], state: BreakableState) -> None:
        if market.failed:
            return
        first, final, bids, asks, stamp = data["U"], data["u"], data["b"], data["a"], data["E"]
        # Checked before buffering: a buffered diff is replayed where no error may escape.
        if type(first) is not int or type(final) is not int or type(stamp) is not int:
            raise ValueError("update ids and event time must be integers")
        if type(bids) is not list or type(asks) is not list:
            raise ValueError("b and a must be lists")
        market.streaming = True
        last = market.last
        if last is None:
            held = market.held
            if held is not None:
                market.buffer.append(data)
                market.held = None  # the first diff has come: it tells whether the snapshot will do
                out.extend(self._join(market, state, *held))
            else:
                self._buffer(market, data, out)
            return
        if final <= last:
            return  # already in the book: the snapshot had it, or a repeated frame
        if not self._joins(market, data, first, last):
            market.buffer.append(data)
            self._restart(market, Loss.GAP, self._jump(data, last), out)
            return
        market.straddle = False
        market.last = final
        out.append(Update(market.instrument.symbol, bids, asks, final, stamp / 1000.0))

    def _joins(self, market: Market, data: dict[str, Any], first: int, last: int) -> bool:
        """Whether a diff follows the book at update id `last`: spot diffs run on
        (`U == u + 1`); the first after a snapshot straddles it."""
        return first == last + 1 or (market.straddle and first <= last + 1)

    def _predates(self, last_id: int, first: dict[str, Any]) -> bool:
        """Whether a snapshot misses changes made before the first diff seen."""
        return last_id + 1 < int(first["U"])

    def _jump(self, data: dict[str, Any], last: int) -> str:
        return f"update ids jumped: expected {last + 1}, got {data['U']}..{data['u']}"

    def _answered(
        self, market: Market, state: BreakableState, last_id: int, bids: list[Any], asks: list[Any]
    ) -> list[Instruction]:
        if not market.streaming:
            # Asked for before the stream's first diff: only that diff can tell whether the
            # snapshot predates the stream, so it waits for it (diffs keep being buffered).
            market.held = (last_id, bids, asks)
            return []
        return self._join(market, state, last_id, bids, asks)

    def _joined(
        self, market: Market, state: BreakableState, last_id: int, bids: list[Any], asks: list[Any],
        buffered: list[dict[str, Any]], out: list[Instruction],
    ) -> None:  # fmt: skip
        market.last = last_id
        market.straddle = True
        out.append(Snapshot(market.instrument.symbol, bids, asks, last_id, None))
        for data in buffered:
            self._diff(market, data, out, state)

    def _trade(self, data: dict[str, Any], state: State, kind: str) -> list[Instruction]:
        market = state.markets.get(data["s"])
        if market is None:
            return []
        trade_id = data["t"] if kind == "trade" else data["a"]
        maker_buys, price, size = data["m"], data["p"], data["q"]
        if type(maker_buys) is not bool or type(price) is not str or type(size) is not str:
            raise ValueError("m must be a boolean, p and q decimal strings")
        # m: the buyer was the maker, so the taker sold.
        side = "sell" if maker_buys else "buy"
        return [Trade(market.instrument.symbol, side, price, size, str(trade_id), data["T"] / 1000.0)]

    def _response(self, data: dict[str, Any], state: State) -> list[Instruction]:
        if "error" in data or "code" in data:
            err = data.get("error", data)
            reason = f"venue error: {err.get('code')} {err.get('msg')}" if isinstance(err, dict) else str(err)
            state.broken = reason
            return refused(state.markets, reason, data)
        result = data.get("result")
        if isinstance(result, list):
            # The answer to LIST_SUBSCRIPTIONS: every book stream must still be there.
            books = {name.partition("@")[0] for name in result if isinstance(name, str) and "@depth" in name}
            missing = [s for s in state.markets if s.lower() not in books]
            if missing:
                reason = f"depth streams no longer subscribed: {', '.join(missing)}"
                state.broken = reason
                return [Lost(s, Loss.VENUE_ERROR, reason) for s in missing]
        return []

    # --- shared connections ----------------------------------------------------------
    # Several markets on one combined-stream connection, added and removed with
    # SUBSCRIBE / UNSUBSCRIBE (up to 1024 streams a connection, 5 messages a second:
    # https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is not dict:
            return None, conn_state
        data = frame.get("data", frame) if "stream" in frame else frame
        if type(data) is not dict:
            return None, conn_state
        symbol = data.get("s")
        if type(symbol) is str:
            return (symbol,), conn_state
        if "id" in data and "result" in data and type(data["result"]) is list:
            return ALL_MARKETS, conn_state  # LIST_SUBSCRIPTIONS: each market checks its own streams
        if data.get("e") == "serverShutdown":
            return ALL_MARKETS, conn_state
        return None, conn_state  # acknowledgements and the venue's errors: the connection's own

    def unsubscribe_msg(self, state: State) -> list[str]:
        params: list[str] = []
        for sym in state.markets:
            low = sym.lower()
            params += [f"{low}@depth@100ms", f"{low}@trade"]
        return [orjson.dumps({"method": "UNSUBSCRIBE", "params": params, "id": 1}).decode()]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Exchange information: every symbol with its base and quote asset, status and
    # PRICE_FILTER tickSize / LOT_SIZE stepSize
    # (https://developers.binance.com/docs/binance-spot-api-docs/rest-api/general-endpoints#exchange-information).
    list_paths: tuple[str, ...] = ("/api/v3/exchangeInfo",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        out: list[Listing] = []
        for item in items(body, "symbols"):
            sym = item.get("symbol") if isinstance(item, dict) else None
            if not isinstance(sym, str) or not item.get("baseAsset") or not item.get("quoteAsset"):
                raise ListingError(f"not a Binance symbol entry: {item!r:.200}")
            ins = self._listed_instrument(item)
            filters = {f.get("filterType"): f for f in item.get("filters") or [] if isinstance(f, dict)}
            tick = decimal_text(filters.get("PRICE_FILTER", {}).get("tickSize"))
            lot = decimal_text(filters.get("LOT_SIZE", {}).get("stepSize"))
            status = item.get("status", item.get("contractStatus"))
            delivery = millis(item.get("deliveryDate"))
            expiry = delivery if ins.market_type is MarketType.FUTURE else None
            out.append(Listing(ins, tick, lot, expiry, status == "TRADING"))
        return out

    def _listed_instrument(self, item: dict[str, Any]) -> Instrument:
        base, quote = symbols.normalise(item["baseAsset"]), symbols.normalise(item["quoteAsset"])
        return Instrument(base, quote, MarketType.SPOT, item["symbol"].upper())

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("method") != "SUBSCRIBE":
            return []
        return self._book_streams(frame.get("params") or [])

    def symbols_from_url(self, url: str) -> list[str]:
        parts = urlsplit(url)
        names: list[str] = []
        for value in parse_qs(parts.query).get("streams", []):
            names.extend(value.split("/"))
        if "/ws/" in parts.path:
            names.append(parts.path.rsplit("/", 1)[1])
        return self._book_streams(names)

    def _book_streams(self, names: Sequence[Any]) -> list[str]:
        out: list[str] = []
        for name in names:
            if isinstance(name, str):
                sym, _, kind = name.partition("@")
                if kind.startswith("depth") and sym.upper() not in out:
                    out.append(sym.upper())
        return out


# Binance spot, per IP: 300 connection attempts every 5 minutes; per connection 1,024 streams
# and 5 incoming messages a second (over it the venue closes the connection, and may ban an
# address it keeps disconnecting); every connection is cut at 24 hours.
# https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams
# REST: 6,000 request weight a minute per IP; over it HTTP 429 with Retry-After, and 418 bans
# (2 minutes to 3 days) for addresses that do not back off.
# https://developers.binance.com/docs/binance-spot-api-docs/rest-api/limits
# /api/v3/depth weighs 5 for limit 1-100 (the default), 25 up to 500, 50 up to 1000, 250 up to 5000.
# https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints#order-book
limits = VenueLimits(
    connects=300,
    connect_window=300.0,
    streams_per_connection=1024,
    sends_per_second=5,
    rest_budget=6000,
    rest_window=60.0,
    rest_weights=((100, 5), (500, 25), (1000, 50), (5000, 250)),
    rest_weight_default=250,
    rest_limit_default=100,
    max_lifetime=24 * 3600.0,
    retry_after=60.0,
)

scheme = BinanceScheme()
