"""BitMEX realtime websocket feed.

Public dialect: the `orderBookL2` table (also `orderBookL2_25`), diffed as
`partial` (the whole image), then `insert` / `update` / `delete` rows keyed
by a row id, and the `trade` table. Updates and deletes carried no price
before mid 2023, so the scheme keeps an id -> (side, price) map per market;
the price rows carry today is checked against that map. The feed has no
sequence numbers: integrity rests on every update and delete naming an id
the book holds, every insert naming a new one, and rows agreeing with the
map on side and price. A break resubscribes that market alone.

Rows that arrive before a market's partial are dropped, as the venue
documents: the partial already contains their effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimal_text, iso_expiry, items
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
from translations.symbol_pairs import split_quote
from translations.timeparse import iso_seconds
from translations.venue_limits import VenueLimits

BOOK_TABLES = ("orderBookL2", "orderBookL2_25")
# Tables a session may subscribe to beside the book (top of book, instrument
# data): not needed for the book, never an error.
QUIET_TABLES = frozenset(("quote", "instrument", "funding", "liquidation", "settlement", "insurance"))
MONTH_CODES = frozenset("FGHJKMNQUVXZ")
# Quote currencies a perpetual or future name ends with, longest first.
QUOTES = ("USDT", "USDC", "USD", "EUR", "XBT", "ETH")


@dataclass(slots=True)
class Market:
    instrument: Instrument
    book_table: str = "orderBookL2"
    partial_seen: bool = False
    # row id -> (is_bid, price as sent, price as a number for cheap comparisons)
    levels: dict[int, tuple[bool, str, float]] = field(default_factory=dict)


@dataclass(slots=True)
class State:
    markets: dict[str, Market] = field(default_factory=dict)
    broken: str | None = None


def _venue_code(code: str) -> str:
    code = code.upper()
    return "XBT" if code == "BTC" else code


class BitmexScheme(SchemeDefaults):
    name = "BITMEX"
    ws_url = "wss://ws.bitmex.com/realtime"
    rest_url = "https://www.bitmex.com"
    market_types: tuple[MarketType, ...] = (MarketType.PERP, MarketType.FUTURE, MarketType.SPOT)
    ping_interval: float | None = 5.0  # the venue asks for a "ping" after 5 s of silence
    stale_after = 15.0
    remedies = frozenset({Remedy.RESUBSCRIBE})

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        b, q = _venue_code(base), _venue_code(quote)
        if market_type is MarketType.PERP:
            return f"{b}{q}"
        if market_type is MarketType.SPOT:
            return f"{b}_{q}"
        return super().venue_symbol(base, quote, market_type)

    def from_symbol(self, symbol: str) -> Instrument:
        """The instrument a BitMEX symbol names: `XBT_USDT` spot, `XBTUSD` /
        `SOLUSDT` perpetuals, `XBTZ21` / `XRPU21` / `ETHUSDU21` dated futures."""
        if "_" in symbol:
            base, _, quote = symbol.partition("_")
            if not base or not quote:
                raise ValueError(f"not a BitMEX symbol: {symbol!r}")
            return Instrument(symbols.normalise(base), symbols.normalise(quote), MarketType.SPOT, symbol)
        if len(symbol) > 3 and symbol[-3] in MONTH_CODES and symbol[-2:].isdigit():
            root = symbol[:-3]
            split = split_quote(root, QUOTES)
            if split is None:
                # A bare root: bitcoin futures are quoted in dollars, the others in bitcoin.
                split = (root, "USD" if root == "XBT" else "XBT")
            return Instrument(symbols.normalise(split[0]), symbols.normalise(split[1]), MarketType.FUTURE, symbol)
        split = split_quote(symbol, QUOTES)
        if split is None:
            raise ValueError(f"not a BitMEX symbol: {symbol!r}")
        return Instrument(symbols.normalise(split[0]), symbols.normalise(split[1]), MarketType.PERP, symbol)

    def _from_topics(self, topics: Sequence[Any]) -> list[Instrument]:
        out: list[Instrument] = []
        for topic in topics:
            if not isinstance(topic, str):
                continue
            table, _, symbol = topic.partition(":")
            if table in BOOK_TABLES and symbol:
                inst = self.from_symbol(symbol)
                if inst not in out:
                    out.append(inst)
        return out

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Market(i) for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        args = [f"{m.book_table}:{s}" for s, m in state.markets.items()]
        args += [f"trade:{s}" for s in state.markets]
        return [orjson.dumps({"op": "subscribe", "args": args}).decode()]

    def ping_msg(self, state: State) -> list[str]:
        return ["ping"]

    # --- translate -------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if not isinstance(frame, dict):
            if frame == "pong":
                return [], state
            if frame == "ping":
                return [Send(["pong"])], state
            if isinstance(frame, RestAnswer):
                return [], state
            return [Malformed("not a JSON object", frame)], state
        table = frame.get("table")
        try:
            if table in BOOK_TABLES:
                return self._book(frame, state), state
            if table == "trade":
                return self._trades(frame, state), state
            if table is not None:
                if table in QUIET_TABLES:
                    return [], state
                return [Malformed(f"unexpected table {table!r}", frame)], state
            if "success" in frame or "info" in frame:
                return [], state
            if "error" in frame:
                return self._error(frame, state), state
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return self._bad(frame, state, f"{table}: {type(exc).__name__} {exc}"), state
        return [Malformed("unknown frame", frame)], state

    def _error(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        reason = f"venue error {frame.get('status', '')}: {frame['error']}".strip()
        request = frame.get("request")
        if isinstance(request, dict) and request.get("op") == "subscribe":
            # A subscription that failed leaves its markets without a book.
            state.broken = reason
            return refused(state.markets, reason, frame)
        return [Malformed(reason, frame)]

    def _bad(self, frame: dict[str, Any], state: State, reason: str) -> list[Instruction]:
        """A malformed book frame may have lost a change: resync its markets."""
        out: list[Instruction] = [Malformed(reason, frame)]
        if frame.get("table") not in BOOK_TABLES:
            return out
        names: set[str] = set()
        data = frame.get("data")
        if isinstance(data, list):
            names.update(r["symbol"] for r in data if isinstance(r, dict) and isinstance(r.get("symbol"), str))
        filt = frame.get("filter")
        if isinstance(filt, dict) and isinstance(filt.get("symbol"), str):
            names.add(filt["symbol"])
        for name in sorted(names):
            market = state.markets.get(name)
            if market is not None and market.partial_seen:
                out.append(self._lost(market, Loss.MALFORMED, f"malformed {frame.get('action')}"))
        return out

    def _lost(self, market: Market, kind: Loss, reason: str) -> Lost:
        """The market's book is lost; rows still in flight are dropped until
        a fresh partial comes."""
        market.partial_seen = False
        market.levels = {}
        return Lost(market.instrument.symbol, kind, reason)

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        """A fresh partial: the market's book topic renewed."""
        topic = f"{state.markets[symbol].book_table}:{symbol}"
        return [
            orjson.dumps({"op": "unsubscribe", "args": [topic]}).decode(),
            orjson.dumps({"op": "subscribe", "args": [topic]}).decode(),
        ]

    def _book(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        action = frame["action"]
        rows = frame["data"]
        markets = state.markets
        if action == "partial":
            return self._partial(frame, rows, state)
        # Most frames are about one market: group rows per market in order.
        work: dict[str, tuple[Market, list[Level], list[Level]]] = {}
        failed: dict[str, str] = {}
        for row in rows:
            sym = row["symbol"]
            entry = work.get(sym)
            if entry is None:
                if sym in failed:
                    continue
                market = markets.get(sym)
                if market is None or not market.partial_seen:
                    continue  # not ours, or before its partial: the partial holds it
                entry = work[sym] = (market, [], [])
            market, bids, asks = entry
            rid = row["id"]
            if action == "update":
                known = market.levels.get(rid)
                if known is None:
                    failed[sym] = f"update for unknown id {rid}"
                    del work[sym]
                    continue
                is_bid, price, value = known
                if ("side" in row and (row["side"] == "Buy") != is_bid) or row.get("price", value) != value:
                    failed[sym] = f"update for id {rid} disagrees with its level"
                    del work[sym]
                    continue
                (bids if is_bid else asks).append((price, to_decimal_str(row["size"])))
            elif action == "insert":
                if rid in market.levels:
                    failed[sym] = f"insert for existing id {rid}"
                    del work[sym]
                    continue
                side = row["side"]
                if side != "Buy" and side != "Sell":
                    raise ValueError(f"unknown side {side!r}")
                value = row["price"]
                price = to_decimal_str(value)
                is_bid = side == "Buy"
                market.levels[rid] = (is_bid, price, value)
                (bids if is_bid else asks).append((price, to_decimal_str(row["size"])))
            elif action == "delete":
                known = market.levels.pop(rid, None)
                if known is None:
                    failed[sym] = f"delete for unknown id {rid}"
                    del work[sym]
                    continue
                is_bid, price, value = known
                if ("side" in row and (row["side"] == "Buy") != is_bid) or row.get("price", value) != value:
                    failed[sym] = f"delete for id {rid} disagrees with its level"
                    del work[sym]
                    continue
                (bids if is_bid else asks).append((price, "0"))
            else:
                return [Malformed(f"unknown action {action!r}", frame)]
        out: list[Instruction] = []
        for sym, (_market, bids, asks) in work.items():
            stamp = None
            for row in reversed(rows):
                if row["symbol"] == sym:
                    ts = row.get("timestamp")
                    stamp = iso_seconds(ts) if ts else None
                    break
            out.append(Update(sym, bids, asks, None, stamp))
        for sym, reason in failed.items():
            out.append(self._lost(markets[sym], Loss.GAP, reason))
        return out

    def _partial(self, frame: dict[str, Any], rows: list[dict[str, Any]], state: State) -> list[Instruction]:
        table = frame["table"]
        images: dict[str, tuple[list[Level], list[Level], dict[int, tuple[bool, str, float]]]] = {}
        filt = frame.get("filter")
        if isinstance(filt, dict) and filt.get("symbol") in state.markets:
            # An empty book still has its partial: it is named by the filter.
            images[filt["symbol"]] = ([], [], {})
        stamps: dict[str, str] = {}
        for row in rows:
            sym = row["symbol"]
            image = images.get(sym)
            if image is None:
                if sym not in state.markets:
                    continue
                image = images[sym] = ([], [], {})
            bids, asks, levels = image
            side = row["side"]
            if side != "Buy" and side != "Sell":
                raise ValueError(f"unknown side {side!r}")
            value = row["price"]
            price = to_decimal_str(value)
            is_bid = side == "Buy"
            levels[row["id"]] = (is_bid, price, value)
            (bids if is_bid else asks).append((price, to_decimal_str(row["size"])))
            ts = row.get("timestamp")
            if ts:
                stamps[sym] = ts
        out: list[Instruction] = []
        for sym, (bids, asks, levels) in images.items():
            market = state.markets[sym]
            market.book_table = table
            market.partial_seen = True
            market.levels = levels
            ts = stamps.get(sym)
            out.append(Snapshot(sym, bids, asks, None, iso_seconds(ts) if ts else None))
        return out

    def _trades(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        if frame["action"] == "partial":
            return []  # the last trades before subscribing: history, not new trades
        out: list[Instruction] = []
        markets = state.markets
        for row in frame["data"]:
            sym = row["symbol"]
            if sym not in markets:
                continue
            side = row["side"]
            if side == "Buy":
                taker = "buy"
            elif side == "Sell":
                taker = "sell"
            else:
                out.append(Malformed(f"trade with unknown side {side!r}", row))
                continue
            # The venue names the aggressor's side.
            out.append(
                Trade(
                    sym,
                    taker,
                    to_decimal_str(row["price"]),
                    to_decimal_str(row["size"]),
                    row.get("trdMatchID"),
                    iso_seconds(row["timestamp"]),
                )
            )
        return out

    # --- shared connections ----------------------------------------------------------
    # Topics of many instruments share a connection (`subscribe` / `unsubscribe`
    # with lists of `table:symbol` args); every row names its symbol and the
    # translation of one market skips the rows of others, so a table message is
    # handed to each market it has rows for (https://www.bitmex.com/app/wsAPI).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is not dict or "table" not in frame:
            return None, conn_state  # welcome, acknowledgements, pings and errors
        out: list[str] = []
        rows = frame.get("data")
        if type(rows) is list:
            for row in rows:
                sym = row.get("symbol") if type(row) is dict else None
                if type(sym) is str and sym not in out:
                    out.append(sym)
        filt = frame.get("filter")
        sym = filt.get("symbol") if type(filt) is dict else None
        if type(sym) is str and sym not in out:
            out.append(sym)  # an empty partial still names its market
        return out, conn_state

    def unsubscribe_msg(self, state: State) -> list[str]:
        args = [f"{m.book_table}:{s}" for s, m in state.markets.items()]
        args += [f"trade:{s}" for s in state.markets]
        return [orjson.dumps({"op": "unsubscribe", "args": args}).decode()]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Active instruments: symbol, underlying and quoteCurrency, typ (FFWCSX perpetual,
    # FFCCSX dated future, IFXXXP spot), tickSize, lotSize, expiry and state
    # (https://www.bitmex.com/api/explorer/#!/Instrument/Instrument_getActive).
    list_paths: tuple[str, ...] = ("/api/v1/instrument/active",)

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        kinds = {"FFWCSX": MarketType.PERP, "FFCCSX": MarketType.FUTURE, "IFXXXP": MarketType.SPOT}
        out: list[Listing] = []
        for item in items(body):
            if not isinstance(item, dict) or not isinstance(item.get("symbol"), str):
                raise ListingError(f"not a BitMEX instrument: {item!r:.200}")
            kind = kinds.get(item.get("typ", ""))
            if kind is None:
                continue  # indices, options and spreads carry no order book here
            base, quote = item.get("underlying"), item.get("quoteCurrency")
            if not base or not quote:
                raise ListingError(f"BitMEX instrument {item['symbol']} has no underlying or quote")
            ins = Instrument(symbols.normalise(base), symbols.normalise(quote), kind, item["symbol"])
            expiry = iso_expiry(item.get("expiry")) if kind is MarketType.FUTURE else None
            tick, lot = decimal_text(item.get("tickSize")), decimal_text(item.get("lotSize"))
            out.append(Listing(ins, tick, lot, expiry, item.get("state") == "Open"))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("op") != "subscribe":
            return []
        args = frame.get("args", [])
        return self._book_topics([args] if isinstance(args, str) else args)

    def symbols_from_url(self, url: str) -> list[str]:
        query = parse_qs(urlsplit(url).query)
        return self._book_topics([t for value in query.get("subscribe", []) for t in value.split(",")])

    def _book_topics(self, topics: Sequence[Any]) -> list[str]:
        out: list[str] = []
        for topic in topics:
            if isinstance(topic, str):
                table, _, symbol = topic.partition(":")
                if table in BOOK_TABLES and symbol and symbol not in out:
                    out.append(symbol)
        return out


# BitMEX: 60 websocket connections an hour per IP; unauthenticated REST 30 requests a minute.
# https://blog.bitmex.com/api_announcement/updates-to-rate-limits/
# No number is published for topics per connection or commands per second: 100 topics and
# 5 commands a second are assumed.
limits = VenueLimits(
    connects=60,
    connect_window=3600.0,
    streams_per_connection=100,
    sends_per_second=5,
    rest_budget=30,
    rest_window=60.0,
)

scheme = BitmexScheme()
