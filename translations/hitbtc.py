"""HitBTC websocket feed (api/3, and the legacy api/2 for recorded sessions).

Current dialect (api/3, also served by FMFW): `orderbook/full` gives one
snapshot per symbol and then updates, each carrying the symbol's sequence
`s`, which must be the previous one plus one; `trades` gives the taker side
of every trade (its `snapshot` is history from before subscribing).

Legacy dialect (api/2): `snapshotOrderbook` / `updateOrderbook` with a
`sequence` under the same rule, and `snapshotTrades` / `updateTrades`. The
venue re-sends a snapshot now and then; any snapshot resets the book.

A broken sequence (a gap, or changes before any snapshot) clears the book
and resubscribes that symbol; changes still in flight are dropped until the
new snapshot. A duplicate or older update is dropped: its levels are already
in the book, or superseded by the snapshot that followed.

Symbols are concatenated (BTCUSDT, DCRETH), perpetuals end in `_PERP`, and
are split on a list of the venue's quote currencies. HitBTC's "USD" has
always been Tether (the venue lists e.g. MATICUSD with quote currency USDT),
so a quote of USD normalises to USDT, and asking for a USD quote is refused.
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
    Level,
    Loss,
    Lost,
    Malformed,
    MarketType,
    Remedy,
    RestAnswer,
    Snapshot,
    Targets,
    Trade,
    Update,
    refused,
)
from translations.scheme_defaults import SchemeDefaults
from translations.symbol_pairs import longest_first, split_quote
from translations.timeparse import iso_seconds
from translations.venue_limits import VenueLimits

# The venue's quote currencies, longest first so that EOSDT wins over EOS and
# USDT over USD when a symbol is split.
QUOTES: tuple[str, ...] = longest_first(
    (
        "USDT", "USDC", "USDP", "USDH", "DAI", "EURS", "EOSDT", "IDRT", "PAX", "DDRST",
        "BTC", "ETH", "BCH", "EOS", "HIT", "GRB", "USD",
    )
)  # fmt: skip
# TUSD, GUSD and BUSD quotes cannot be told from a base ending in T, G or B
# quoted in USD (DGBTUSD is DGB/TUSD, DGBUSD is DGB/USD): the venue's few
# markets in those quotes are listed by name.
STABLE_QUOTED: dict[str, tuple[str, str]] = {
    s: (s[:-4], s[-4:])
    for s in (
        "BCHTUSD", "BTCTUSD", "DGBTUSD", "ETHTUSD", "EURSTUSD", "LTCTUSD", "NEOTUSD", "XMRTUSD", "ZRXTUSD",
        "USDTUSD", "BTCGUSD", "EOSGUSD", "ETHGUSD", "USDTGUSD", "BTCBUSD", "ETHBUSD",
    )
}  # fmt: skip
ALIASES = {"USD": "USDT"}  # HitBTC's USD is Tether
PERP_SUFFIX = "_PERP"
BOOK_CHANNEL = "orderbook/full"
# Updates dropped while waiting for a resubscription's snapshot before the
# connection is given up as beyond repair (the snapshot never came).
MAX_DROPPED = 1000


def split_symbol(symbol: str) -> tuple[str, str]:
    """`DCRETH` -> (`DCR`, `ETH`), using the venue's quote currencies."""
    known = STABLE_QUOTED.get(symbol)
    if known is not None:
        return known
    split = split_quote(symbol, QUOTES)
    if split is not None:
        return split
    raise ValueError(f"no known quote currency ends {symbol!r}")


@dataclass(slots=True)
class Market:
    instrument: Instrument
    sequence: int | None = None  # of the last snapshot or update applied
    awaiting: bool = False  # resubscribed: changes are dropped until the new snapshot
    dropped: int = 0


@dataclass(slots=True)
class State:
    markets: dict[str, Market] = field(default_factory=dict)
    legacy: bool = False  # api/2 frames seen: recover in api/2's words
    request_id: int = 100
    broken: str | None = None


def _legacy_levels(raw: Any) -> list[Level]:
    return [(lv["price"], lv["size"]) for lv in raw]


class HitbtcScheme(SchemeDefaults):
    name = "HITBTC"
    ws_url = "wss://api.hitbtc.com/api/3/ws/public"
    rest_url = "https://api.hitbtc.com/api/3"
    market_types: tuple[MarketType, ...] = (MarketType.SPOT, MarketType.PERP)
    # api/3 keeps the socket alive with protocol-level pings; there is no
    # application ping, and no heartbeat channel either.
    ping_interval: float | None = None
    # A quiet market may send nothing for minutes; only a long silence counts.
    stale_after = 120.0
    remedies = frozenset({Remedy.RESUBSCRIBE})

    # --- instruments -----------------------------------------------------------

    aliases: dict[str, str] | None = ALIASES

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        if quote == "USD":
            raise ValueError("HitBTC quotes Tether as USD: ask for USDT")
        return base + quote + (PERP_SUFFIX if market_type is MarketType.PERP else "")

    def from_symbol(self, symbol: str) -> Instrument:
        market_type = MarketType.SPOT
        pair = symbol
        if symbol.endswith(PERP_SUFFIX):
            market_type = MarketType.PERP
            pair = symbol[: -len(PERP_SUFFIX)]
        base, quote = split_symbol(pair)
        return Instrument(symbols.normalise(base, ALIASES), symbols.normalise(quote, ALIASES), market_type, symbol)

    # --- connection ------------------------------------------------------------

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Market(i) for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        syms = list(state.markets)
        return [
            orjson.dumps({"method": "subscribe", "ch": BOOK_CHANNEL, "params": {"symbols": syms}, "id": 1}).decode(),
            orjson.dumps({"method": "subscribe", "ch": "trades", "params": {"symbols": syms}, "id": 2}).decode(),
        ]

    def unsubscribe_msg(self, state: State) -> list[str]:
        syms = list(state.markets)
        return [
            orjson.dumps({"method": "unsubscribe", "ch": BOOK_CHANNEL, "params": {"symbols": syms}, "id": 3}).decode(),
            orjson.dumps({"method": "unsubscribe", "ch": "trades", "params": {"symbols": syms}, "id": 4}).decode(),
        ]

    # --- shared connections (translations.protocol.Routing) ----------------------------
    #
    # Every data frame keys its payload by symbol, so routing needs no state of the
    # connection; each market keeps its own sequence `s`, so a gap resubscribes that
    # market alone.

    def route(self, frame: Any, conn_state: None) -> tuple[Targets, None]:
        if not isinstance(frame, dict):
            return None, conn_state
        if "ch" in frame:
            for key in ("update", "snapshot", "data"):
                items = frame.get(key)
                if isinstance(items, dict):
                    return list(items), conn_state
            return None, conn_state
        params = frame.get("params")
        if "method" in frame and isinstance(params, dict):  # api/2, of recorded sessions
            symbol = params.get("symbol")
            return ((symbol,) if isinstance(symbol, str) else None), conn_state
        if "error" in frame:
            # An error answers a request, and names no symbol: the markets it could
            # concern see it, and only those still waiting for their book are refused.
            return ALL_MARKETS, conn_state
        return None, conn_state  # subscription results

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        state.request_id += 2
        rid = state.request_id
        if state.legacy:
            params: dict[str, Any] = {"symbol": symbol}
            return [
                orjson.dumps({"method": "unsubscribeOrderbook", "params": params, "id": rid}).decode(),
                orjson.dumps({"method": "subscribeOrderbook", "params": params, "id": rid + 1}).decode(),
            ]
        params = {"symbols": [symbol]}
        return [
            orjson.dumps({"method": "unsubscribe", "ch": BOOK_CHANNEL, "params": params, "id": rid}).decode(),
            orjson.dumps({"method": "subscribe", "ch": BOOK_CHANNEL, "params": params, "id": rid + 1}).decode(),
        ]

    def _lost(self, market: Market, kind: Loss, reason: str) -> list[Instruction]:
        market.sequence = None
        market.awaiting = True  # until the snapshot the remedy brings
        market.dropped = 0
        return [Lost(market.instrument.symbol, kind, reason)]

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if isinstance(frame, RestAnswer):
                return [], state
            return [Malformed("not a JSON object", frame)], state
        try:
            ch = frame.get("ch")
            if ch is not None:
                return self._v3(ch, frame, state), state
            method = frame.get("method")
            if method is not None:
                return self._v2(method, frame, state), state
            if "result" in frame:
                return [], state  # subscription acknowledged
            if "error" in frame:
                err = frame["error"]
                reason = f"venue error: {err.get('message') if isinstance(err, dict) else err}"
                # A market whose book has come is evidently subscribed: the error
                # answers another request. The others lose their subscription.
                waiting = [s for s, m in state.markets.items() if m.sequence is None]
                if not waiting:
                    return [Malformed(reason, frame)], state
                state.broken = reason
                return refused(waiting, reason, frame), state
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return [Malformed(f"{type(exc).__name__}: {exc}", frame)], state
        return [Malformed("unknown frame", frame)], state

    def _v3(self, ch: Any, frame: dict[str, Any], state: State) -> list[Instruction]:
        if ch == BOOK_CHANNEL:
            updates = frame.get("update")
            if updates is not None:
                return self._book(updates, False, frame, state)
            snaps = frame.get("snapshot")
            if snaps is not None:
                return self._book(snaps, True, frame, state)
            return [Malformed("orderbook frame without snapshot or update", frame)]
        if ch == "trades":
            updates = frame.get("update")
            if updates is not None:
                return self._trades(updates, state)
            if "snapshot" in frame:
                return []  # trades from before the subscription: history
            return [Malformed("trades frame without snapshot or update", frame)]
        if type(ch) is str and ch.startswith(("ticker", "candles", "orderbook/")):
            return []  # other public channels carry nothing the book needs
        return [Malformed(f"unknown channel {ch!r}", frame)]

    def _book(self, items: dict[str, Any], snapshot: bool, frame: Any, state: State) -> list[Instruction]:
        out: list[Instruction] = []
        markets = state.markets
        for symbol, data in items.items():
            market = markets.get(symbol)
            if market is None:
                # One notification may carry several symbols: on a shared connection each
                # market is handed it and reads its own (the connection counts symbols of none).
                continue
            try:
                seq = data["s"]
                if type(seq) is not int:
                    raise TypeError(f"sequence {seq!r} is not an integer")
                bids, asks = data.get("b", []), data.get("a", [])  # the book reads and checks each level
                ts = data["t"] / 1000.0
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                out.append(Malformed(f"{symbol}: {type(exc).__name__} {exc}", frame))
                if not market.awaiting:
                    out.extend(self._lost(market, Loss.MALFORMED, "malformed book frame"))
                continue
            out.extend(self._apply(market, snapshot, seq, bids, asks, ts, state))
        return out

    def _apply(
        self, market: Market, snapshot: bool, seq: int, bids: Any, asks: Any, ts: float | None, state: State
    ) -> list[Instruction]:
        symbol = market.instrument.symbol
        if snapshot:
            market.sequence = seq
            market.awaiting = False
            return [Snapshot(symbol, bids, asks, seq, ts)]
        last = market.sequence
        if last is None:
            if market.awaiting:
                market.dropped += 1
                if market.dropped == MAX_DROPPED + 1:  # once: the rest wait for the new connection
                    reason = f"{symbol}: no snapshot after resubscribing"
                    state.broken = reason
                    return [Lost(symbol, Loss.SNAPSHOT_FAILED, reason)]
                return []
            return self._lost(market, Loss.GAP, "update before snapshot")
        if seq != last + 1:
            if seq <= last:
                return []  # a duplicate or older change: already in the book
            return self._lost(market, Loss.GAP, f"sequence gap {last} -> {seq}")
        market.sequence = seq
        return [Update(symbol, bids, asks, seq, ts)]

    def _trades(self, items: dict[str, Any], state: State) -> list[Instruction]:
        out: list[Instruction] = []
        for symbol, trades in items.items():
            if symbol not in state.markets:
                continue
            for t in trades:
                side = t["s"]
                if side != "buy" and side != "sell":
                    raise ValueError(f"unknown side {side!r}")
                # api/3 names the taker's side.
                out.append(Trade(symbol, side, t["p"], t["q"], str(t["i"]), t["t"] / 1000.0))
        return out

    # --- api/2 -----------------------------------------------------------------

    def _v2(self, method: Any, frame: dict[str, Any], state: State) -> list[Instruction]:
        params: Any = frame.get("params")
        if method == "updateOrderbook" or method == "snapshotOrderbook":
            state.legacy = True
            symbol = params["symbol"]
            market = state.markets.get(symbol)
            if market is None:
                return [Malformed(f"book for unsubscribed {symbol}", None)]
            try:
                seq = params["sequence"]
                if type(seq) is not int:
                    raise TypeError(f"sequence {seq!r} is not an integer")
                bids = _legacy_levels(params["bid"])
                asks = _legacy_levels(params["ask"])
                ts = iso_seconds(params["timestamp"]) if "timestamp" in params else None
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                out: list[Instruction] = [Malformed(f"{symbol}: {type(exc).__name__} {exc}", frame)]
                if not market.awaiting:
                    out.extend(self._lost(market, Loss.MALFORMED, "malformed book frame"))
                return out
            return self._apply(market, method == "snapshotOrderbook", seq, bids, asks, ts, state)
        if method == "updateTrades":
            state.legacy = True
            symbol = params["symbol"]
            if symbol not in state.markets:
                return []
            out = []
            for t in params["data"]:
                side = t["side"]
                if side != "buy" and side != "sell":
                    raise ValueError(f"unknown side {side!r}")
                out.append(Trade(symbol, side, t["price"], t["quantity"], str(t["id"]), iso_seconds(t["timestamp"])))
            return out
        if method in ("snapshotTrades", "ticker", "snapshotCandles", "updateCandles"):
            return []
        return [Malformed(f"unknown method {method!r}", frame)]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Symbols: api/3 maps each symbol to its type (spot, futures), base and quote
    # currency (a perpetual names its underlying instead of a base), tick_size and
    # quantity_increment (https://api.hitbtc.com/#symbols); the legacy api/2 of recorded
    # sessions lists id, baseCurrency, quoteCurrency, tickSize, quantityIncrement.
    # HitBTC's USD is Tether (ALIASES), as in from_symbol.
    list_paths: tuple[str, ...] = ("/public/symbol",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        if isinstance(body, dict):
            listed = (self._v3_listing(sym, item) for sym, item in body.items())
            return [listing for listing in listed if listing is not None]
        out: list[Listing] = []
        for item in items(body):
            sym = item.get("id") if isinstance(item, dict) else None
            if not isinstance(sym, str) or not item.get("baseCurrency") or not item.get("quoteCurrency"):
                raise ListingError(f"not a HitBTC symbol: {item!r:.200}")
            base = symbols.normalise(item["baseCurrency"], ALIASES)
            ins = Instrument(base, symbols.normalise(item["quoteCurrency"], ALIASES), MarketType.SPOT, sym)
            out.append(Listing(ins, decimal_text(item.get("tickSize")), decimal_text(item.get("quantityIncrement"))))
        return out

    def _v3_listing(self, sym: Any, item: Any) -> Listing | None:
        if not isinstance(sym, str) or not isinstance(item, dict):
            raise ListingError(f"not a HitBTC symbol: {sym!r}")
        kinds = {"spot": MarketType.SPOT, "futures": MarketType.PERP}
        kind = kinds.get(item.get("type", ""))
        if kind is None or (kind is MarketType.PERP and not sym.endswith(PERP_SUFFIX)):
            return None  # a kind of instrument level4 has no market type for (dated futures, ...): left out
        base, quote = item.get("base_currency") or item.get("underlying"), item.get("quote_currency")
        if not base or not quote:
            raise ListingError(f"HitBTC symbol {sym} names no base or quote")
        ins = Instrument(symbols.normalise(base, ALIASES), symbols.normalise(quote, ALIASES), kind, sym)
        tick, lot = decimal_text(item.get("tick_size")), decimal_text(item.get("quantity_increment"))
        return Listing(ins, tick, lot, None, item.get("status", "working") == "working")

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict):
            return []
        method, params = frame.get("method"), frame.get("params") or {}
        if method == "subscribe" and frame.get("ch") == BOOK_CHANNEL:
            return [s for s in params.get("symbols", []) if isinstance(s, str)]
        if method == "subscribeOrderbook" and isinstance(params.get("symbol"), str):
            return [params["symbol"]]
        return []


# HitBTC publishes no websocket connection, subscription or message limits in the
# documentation at hand (https://api.hitbtc.com/): about one connection attempt a second,
# 100 subscriptions per connection, 5 messages a second and 10 REST requests a second are
# assumed (the scheme makes no REST calls).
limits = VenueLimits(
    connects=10,
    connect_window=10.0,
    streams_per_connection=100,
    sends_per_second=5,
    rest_budget=10,
    rest_window=1.0,
)

scheme = HitbtcScheme()
