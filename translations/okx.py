"""OKX v5 public websocket (wss://ws.okx.com:8443/ws/v5/public).

Channels: `books` (400 levels a side: a snapshot, then 100 ms updates) and
`trades`. Integrity signals on `books`:

- seqId/prevSeqId: each update names the seqId of the one before it, so a
  lost, repeated or reordered update breaks the chain. (seqId may fall after
  venue maintenance; the chain still holds, so identity is what is checked.)
  An update with no levels and seqId == prevSeqId is the venue's keep-alive.
- checksum: CRC32, as a signed 32-bit int, of the top 25 bids and asks
  interleaved as "bidPx:bidSz:askPx:askSz:...". OKX has since stopped
  filling it (it now sends 0); a zero checksum is therefore treated as absent.

Older sessions (2022) carry checksums but no sequence ids; both are used
wherever present. A break costs that instrument a Desync and a resubscribe of
its book channel, which brings a fresh snapshot.

Keep-alive: the client sends the text "ping" and OKX answers "pong".
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from translations import symbols
from translations.instrument_listing import Listing, ListingError, decimal_text, items, millis
from translations.protocol import (
    BookView,
    ChecksumMismatch,
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
    Verify,
    refused,
)
from translations.scheme_defaults import SchemeDefaults
from translations.venue_limits import VenueLimits

BOOK_CHANNEL = "books"
TRADE_CHANNELS = ("trades", "trades-all")
MARKET_CHANNELS = frozenset({BOOK_CHANNEL, *TRADE_CHANNELS})  # channels that make a market in a recording
# Channels a recorded session may carry that say nothing level4 needs.
QUIET_CHANNELS = frozenset({"tickers", "bbo-tbt", "books5", "mark-price", "index-tickers", "funding-rate"})
QUIET_EVENTS = frozenset({"subscribe", "unsubscribe", "channel-conn-count"})
CHECKSUM_DEPTH = 25


@dataclass(slots=True)
class Book:
    instrument: Instrument
    snapshot_seen: bool = False
    resyncing: bool = False  # a resubscribe is on its way: old updates are expected, not faults
    seq: int | None = None
    trade_id: int | None = None


@dataclass(slots=True)
class State:
    books: dict[str, Book]
    broken: str | None = None


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


class OkxScheme(SchemeDefaults):
    name = "OKX"
    ws_url = "wss://ws.okx.com:8443/ws/v5/public"
    rest_url = ""
    market_types: tuple[MarketType, ...] = (MarketType.SPOT, MarketType.PERP, MarketType.FUTURE, MarketType.OPTION)
    ping_interval: float | None = 20.0  # OKX drops a connection after 30 s without traffic
    stale_after = 30.0
    remedies = frozenset({Remedy.RESUBSCRIBE})

    # --- instruments -------------------------------------------------------------

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        base, quote = symbols.normalise(base), symbols.normalise(quote)
        if market_type is MarketType.SPOT:
            return f"{base}-{quote}"
        if market_type is MarketType.PERP:
            return f"{base}-{quote}-SWAP"
        raise ValueError(f"{self.name} {market_type} instruments are dated: name them, e.g. BTC-USD-220527")

    def from_symbol(self, inst_id: str) -> Instrument:
        """Any OKX instId: BTC-USDT, BTC-USD-SWAP, BTC-USD-220527, BTC-USD-220527-30000-C."""
        parts = inst_id.split("-")
        if len(parts) == 2:
            kind = MarketType.SPOT
        elif len(parts) == 3 and parts[2] == "SWAP":
            kind = MarketType.PERP
        elif len(parts) == 3 and parts[2].isdigit():
            kind = MarketType.FUTURE
        elif len(parts) == 5 and parts[2].isdigit() and parts[4] in ("C", "P"):
            kind = MarketType.OPTION
        else:
            raise ValueError(f"not an OKX instrument id: {inst_id!r}")
        if not parts[0] or not parts[1]:
            raise ValueError(f"not an OKX instrument id: {inst_id!r}")
        return Instrument(symbols.normalise(parts[0]), symbols.normalise(parts[1]), kind, inst_id)

    # --- connection --------------------------------------------------------------

    def initial_state(self, instruments: Sequence[Instrument]) -> State:
        return State({i.symbol: Book(i) for i in instruments})

    def subscribe_msg(self, state: State) -> list[str]:
        args = [{"channel": BOOK_CHANNEL, "instId": s} for s in state.books]
        args += [{"channel": "trades", "instId": s} for s in state.books]
        return [_dumps({"op": "subscribe", "args": args})]

    def ping_msg(self, state: State) -> list[str]:
        return ["ping"]

    def checksum(self, book: BookView, symbol: str) -> int:
        """CRC32 of the 25 best bids and asks interleaved (bid 1, ask 1, bid 2,
        ...), each "price:size", joined by ":", as a signed 32-bit integer."""
        value = zlib.crc32(book.checksum_text(CHECKSUM_DEPTH, interleave=True, sep=":"))
        return value - 0x1_0000_0000 if value >= 0x8000_0000 else value

    # --- translate ---------------------------------------------------------------

    def translate(self, frame: Any, state: State) -> tuple[list[Instruction], State]:
        if type(frame) is dict:
            arg = frame.get("arg")
            if arg is not None and "data" in frame:
                try:
                    return self._push(frame, arg, state), state
                except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                    return self._bad(frame, arg, state, f"{type(exc).__name__} {exc}"), state
            return self._event(frame, state), state
        if frame == "pong":
            return [], state
        if isinstance(frame, ChecksumMismatch):
            book = state.books.get(frame.symbol)
            if book is None:
                return [], state
            reason = f"checksum mismatch: venue {frame.expected}, book {frame.actual}"
            return [self._lost(book, Loss.CHECKSUM, reason)], state
        if isinstance(frame, RestAnswer):
            return [], state
        return [Malformed("not a JSON object", frame)], state

    def _lost(self, book: Book, kind: Loss, reason: str) -> Lost:
        book.snapshot_seen = False
        book.resyncing = True  # until the snapshot the remedy brings
        book.seq = None
        return Lost(book.instrument.symbol, kind, reason)

    def resubscribe_msg(self, state: State, symbol: str) -> list[str]:
        arg = [{"channel": BOOK_CHANNEL, "instId": symbol}]
        return [_dumps({"op": "unsubscribe", "args": arg}), _dumps({"op": "subscribe", "args": arg})]

    def _bad(self, frame: dict[str, Any], arg: Any, state: State, reason: str) -> list[Instruction]:
        """A book push we could not read may have carried a change: resync it."""
        out: list[Instruction] = [Malformed(reason, frame)]
        if isinstance(arg, dict) and arg.get("channel") == BOOK_CHANNEL:
            book = state.books.get(arg.get("instId", ""))
            if book is not None:
                out.append(self._lost(book, Loss.MALFORMED, f"unreadable book push: {reason}"))
        return out

    def _push(self, frame: dict[str, Any], arg: dict[str, Any], state: State) -> list[Instruction]:
        channel = arg["channel"]
        if channel == BOOK_CHANNEL:
            book = state.books.get(arg["instId"])
            if book is None:
                return [Malformed(f"book for unsubscribed {arg['instId']}", None)]
            return self._book(frame, book)
        if channel in TRADE_CHANNELS:
            book = state.books.get(arg["instId"])
            if book is None:
                return []
            return self._trades(frame["data"], book)
        if channel in QUIET_CHANNELS:
            return []
        return [Malformed(f"unknown channel {channel!r}", None)]

    def _book(self, frame: dict[str, Any], book: Book) -> list[Instruction]:
        action = frame.get("action")
        symbol = book.instrument.symbol
        out: list[Instruction] = []
        for data in frame["data"]:
            seq = data.get("seqId")
            stamp = int(data["ts"]) / 1000.0
            if action == "snapshot":
                book.snapshot_seen = True
                book.resyncing = False
                book.seq = seq
                out.append(Snapshot(symbol, data["bids"], data["asks"], seq, stamp))
            elif action == "update":
                if not book.snapshot_seen:
                    if book.resyncing:
                        continue  # the old subscription's tail, before the new snapshot
                    out.append(self._lost(book, Loss.GAP, "book update before snapshot"))
                    return out
                prev = data.get("prevSeqId")
                if prev is not None and book.seq is not None and prev != book.seq:
                    out.append(self._lost(book, Loss.GAP, f"sequence broken: had {book.seq}, update follows {prev}"))
                    return out
                book.seq = seq
                bids, asks = data["bids"], data["asks"]
                if bids or asks:
                    out.append(Update(symbol, bids, asks, seq, stamp))
            else:
                out.append(Malformed(f"unknown book action {action!r}", None))
                out.append(self._lost(book, Loss.MALFORMED, f"unknown book action {action!r}"))
                return out
            expected = data.get("checksum")
            if expected:  # 0 or absent: the venue no longer computes it
                out.append(Verify(symbol, expected))
        return out

    def _trades(self, trades: list[dict[str, Any]], book: Book) -> list[Instruction]:
        symbol = book.instrument.symbol
        out: list[Instruction] = []
        for t in trades:
            trade_id = t["tradeId"]
            number = int(trade_id)
            if book.trade_id is not None and number <= book.trade_id:
                continue  # already reported
            book.trade_id = number
            side = t["side"]
            if side != "buy" and side != "sell":
                raise ValueError(f"unknown side {side!r}")
            out.append(Trade(symbol, side, t["px"], t["sz"], trade_id, int(t["ts"]) / 1000.0))
        return out

    def _event(self, frame: dict[str, Any], state: State) -> list[Instruction]:
        event = frame.get("event")
        if event in QUIET_EVENTS:
            return []
        if event == "error":
            reason = f"venue error {frame.get('code')}: {frame.get('msg')}"
            state.broken = reason
            return refused(state.books, reason, frame)
        if event == "notice":
            # e.g. 64008: the connection is about to close for a service upgrade.
            reason = f"venue notice {frame.get('code')}: {frame.get('msg')}"
            state.broken = reason
            return [Reconnect(reason)]
        return [Malformed(f"unknown frame {event!r}", frame)]

    # --- shared connections ----------------------------------------------------------
    # Channels of many instruments ride on one connection; every push and every
    # subscribe / unsubscribe answer carries the `arg` it is about. Requests are
    # limited (480 subscribe/unsubscribe an hour a connection, 64 KB of args a
    # request: https://www.okx.com/docs-v5/en/#overview-websocket-subscribe).

    def route(self, frame: Any, conn_state: None) -> tuple[Sequence[str] | None, None]:
        if type(frame) is dict:
            arg = frame.get("arg")
            if type(arg) is dict:
                inst = arg.get("instId")
                if type(inst) is str:
                    return (inst,), conn_state
        return None, conn_state  # pongs, notices and errors naming no instrument

    def unsubscribe_msg(self, state: State) -> list[str]:
        args = [{"channel": BOOK_CHANNEL, "instId": s} for s in state.books]
        args += [{"channel": "trades", "instId": s} for s in state.books]
        return [_dumps({"op": "unsubscribe", "args": args})]

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Instruments per type: instId, baseCcy / quoteCcy (spot) or uly "BTC-USD"
    # (derivatives), tickSz, lotSz, expTime and state
    # (https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments). Options are
    # listed per underlying, so only those named here are fetched.
    list_url = "https://www.okx.com"
    list_paths: tuple[str, ...] = (
        "/api/v5/public/instruments?instType=SPOT",
        "/api/v5/public/instruments?instType=SWAP",
        "/api/v5/public/instruments?instType=FUTURES",
        "/api/v5/public/instruments?instType=OPTION&uly=BTC-USD",
        "/api/v5/public/instruments?instType=OPTION&uly=ETH-USD",
    )

    def instruments_from_list(self, path: str, body: Any) -> list[Listing]:
        kinds = {
            "SPOT": MarketType.SPOT,
            "SWAP": MarketType.PERP,
            "FUTURES": MarketType.FUTURE,
            "OPTION": MarketType.OPTION,
        }
        if not isinstance(body, dict) or body.get("code") != "0":
            raise ListingError(f"not an OKX instruments answer: {str(body)[:200]}")
        out: list[Listing] = []
        for item in items(body, "data"):
            inst_id = item.get("instId") if isinstance(item, dict) else None
            if not isinstance(inst_id, str):
                raise ListingError(f"not an OKX instrument: {item!r:.200}")
            kind = kinds.get(item.get("instType", ""))
            if kind is None:
                continue  # margin pairs are the spot books again
            if kind is MarketType.SPOT:
                base, quote = item.get("baseCcy", ""), item.get("quoteCcy", "")
            else:
                base, _, quote = str(item.get("uly", "")).partition("-")
            if not base or not quote:
                raise ListingError(f"OKX instrument {inst_id} names no base or quote")
            ins = Instrument(symbols.normalise(base), symbols.normalise(quote), kind, inst_id)
            dated = kind in (MarketType.FUTURE, MarketType.OPTION)
            expiry = millis(item.get("expTime")) if dated else None
            tick, lot = decimal_text(item.get("tickSz")), decimal_text(item.get("lotSz"))
            out.append(Listing(ins, tick, lot, expiry, item.get("state") == "live"))
        return out

    def symbols_from_subscribe(self, frame: Any) -> list[str]:
        if not isinstance(frame, dict) or frame.get("op") != "subscribe":
            return []
        out: list[str] = []
        for arg in frame.get("args", []):
            if isinstance(arg, dict) and arg.get("channel") in MARKET_CHANNELS:
                inst_id = arg.get("instId", "")
                if inst_id not in out:
                    out.append(inst_id)
        return out


# OKX public websocket: 3 connection requests a second per IP; 480 subscribe / unsubscribe /
# login requests an hour per connection (a market's connection subscribes once).
# https://www.okx.com/docs-v5/en/#overview-websocket-connect
# No per-second message number is published: 3 a second are assumed, and 100 channels per
# connection. Order book REST: 40 requests per 2 seconds (the scheme makes no REST calls).
# https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-order-book
limits = VenueLimits(
    connects=3,
    connect_window=1.0,
    streams_per_connection=100,
    sends_per_second=3,
    rest_budget=40,
    rest_window=2.0,
)

scheme = OkxScheme()
