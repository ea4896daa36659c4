"""Bitfinex: hand-written frames for each rule, then the real capture."""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.harness import remedied
from translations.bitfinex import FLAGS, SEQ_ALL, js_number, scheme
from translations.protocol import (
    ChecksumMismatch,
    Desync,
    Instruction,
    Malformed,
    MarketType,
    Reconnect,
    Send,
    Snapshot,
    Trade,
    Update,
    Verify,
)

BTC = scheme.instrument("BTC", "USD", MarketType.SPOT)
BOOK, TRADES = 17, 18


class Session:
    """One connection: frames through the scheme into a book, with checksum
    mismatches fed back to the scheme as level4 does."""

    def __init__(self, flags: int = FLAGS) -> None:
        self.state = scheme.initial_state([BTC])
        self.keeper = BookKeeper(["tBTCUSD"], scheme.checksum)
        self.flags = flags
        self.seq = 0
        self.sent: list[str] = []
        self.malformed = 0
        self.reconnect: Reconnect | None = None
        self.feed({"event": "info", "version": 2, "platform": {"status": 1}})
        self.feed({"event": "conf", "status": "OK", "flags": flags})
        self.feed({"event": "subscribed", "channel": "book", "chanId": BOOK, "symbol": "tBTCUSD", "prec": "P0"})
        self.feed({"event": "subscribed", "channel": "trades", "chanId": TRADES, "symbol": "tBTCUSD"})

    def feed(self, frame: Any) -> list[Instruction]:
        """Everything the scheme said about this frame, in its order."""
        said: list[Instruction] = []
        pending: list[Any] = [frame]
        while pending:
            out, self.state = scheme.translate(pending.pop(0), self.state)
            out = remedied(scheme, self.state, out)
            said.extend(out)
            mismatches: list[ChecksumMismatch] = []
            self.keeper.apply(out, [], mismatches)
            pending.extend(mismatches)
        for ins in said:
            if isinstance(ins, Send):
                self.sent.extend(str(f) for f in ins.frames)
            elif isinstance(ins, Reconnect):
                self.reconnect = ins
            elif isinstance(ins, Malformed):
                self.malformed += 1
        return said

    def data(self, *body: Any) -> list[Instruction]:
        """A data frame, with the next sequence number when SEQ_ALL is on."""
        self.seq += 1
        frame = list(body) + ([self.seq] if self.flags & SEQ_ALL else [])
        return self.feed(frame)

    @property
    def book(self) -> OrderBook:
        return self.keeper.books["tBTCUSD"]


SNAP = [[100.1, 1, 1.5], [100, 2, 0.25], [100.2, 1, -2], [100.3, 3, -0.00426663]]


def test_subscribe_enables_sequences_and_checksums_then_book_and_trades() -> None:
    frames = [orjson.loads(f) for f in scheme.subscribe_msg(scheme.initial_state([BTC]))]
    assert frames == [
        {"event": "conf", "flags": 65536 + 131072},
        {"event": "subscribe", "channel": "book", "symbol": "tBTCUSD", "prec": "P0", "freq": "F0", "len": "100"},
        {"event": "subscribe", "channel": "trades", "symbol": "tBTCUSD"},
    ]
    assert scheme.ws_url == "wss://api-pub.bitfinex.com/ws/2"
    assert scheme.instruments_from_subscribe(frames[1]) == [BTC]
    assert scheme.instruments_from_subscribe(frames[2]) == []


def test_symbols_and_aliases() -> None:
    assert BTC.symbol == "tBTCUSD"
    assert scheme.instrument("BTC", "USDT", MarketType.SPOT).symbol == "tBTCUST"
    assert scheme.instrument("AAVE", "USD", MarketType.SPOT).symbol == "tAAVE:USD"
    perp = scheme.instrument("BTC", "USDT", MarketType.PERP)
    assert perp.symbol == "tBTCF0:USTF0"
    assert scheme.from_symbol("tBTCF0:USTF0") == perp
    assert scheme.from_symbol("tETHUST").pair == "ETH-USDT"
    assert scheme.from_symbol("tTESTBTC:TESTUSD").pair == "TESTBTC-TESTUSD"
    assert perp.tag("BITFINEX") == "BITFINEX.PERP:BTC-USDT"


def test_snapshot_then_changes_keep_exact_strings_and_order_counts() -> None:
    s = Session()
    out = s.data(BOOK, SNAP)
    assert isinstance(out[0], Snapshot)
    assert s.book.bids_levels() == [("100.1", "1.5", 1), ("100", "0.25", 2)]
    # the amount's sign is removed as text: the size is exactly what was sent
    assert s.book.asks_levels() == [("100.2", "2", 1), ("100.3", "0.00426663", 3)]
    s.data(BOOK, [100.15, 4, 0.30000000000000004])
    s.data(BOOK, [100.2, 0, -1])  # count 0 removes; amount -1 says it is an ask
    s.data(BOOK, [100, 0, 1])  # amount 1: a bid
    s.data(BOOK, [2e-8, 1, -12345678.9])
    assert s.book.as_dict() == {
        "synchronised": True,
        "bids": [["100.15", "0.30000000000000004"], ["100.1", "1.5"]],
        "asks": [["0.00000002", "12345678.9"], ["100.3", "0.00426663"]],
    }
    assert s.book.best_bid() == ("100.15", "0.30000000000000004", 4)
    assert s.reconnect is None and s.malformed == 0


def test_empty_sides_and_empty_book() -> None:
    s = Session()
    s.data(BOOK, [[100, 1, 1]])
    assert s.book.as_dict() == {"synchronised": True, "bids": [["100", "1"]], "asks": []}
    s.data(BOOK, [101, 1, -2])
    assert s.book.as_dict()["asks"] == [["101", "2"]]
    s2 = Session()
    out = s2.data(BOOK, [])
    assert isinstance(out[0], Snapshot) and s2.book.synchronised and s2.book.as_dict()["bids"] == []


def test_sequence_gap_desyncs_every_market_and_reconnects() -> None:
    s = Session()
    s.data(BOOK, SNAP)
    s.seq += 1  # one frame lost: it could have belonged to any channel
    out = s.data(TRADES, "hb")
    assert [type(i) for i in out] == [Desync, Reconnect]
    assert not s.book.synchronised and not scheme.synchronised(s.state)


def test_repeated_or_late_sequence_is_dropped_not_applied() -> None:
    s = Session()
    s.data(BOOK, SNAP)
    s.data(BOOK, [99, 1, 1])
    s.seq -= 1  # the same sequence number again, with a different change
    out = s.data(BOOK, [98, 1, 1])
    assert [type(i) for i in out] == [Malformed]
    assert [lv[0] for lv in s.book.bids_levels()] == ["100.1", "100", "99"]
    # the stream continues after the last good number
    out = s.data(BOOK, [97, 1, 1])
    assert isinstance(out[0], Update) and s.book.synchronised


def test_without_sequence_flag_frames_carry_no_number() -> None:
    s = Session(flags=0)
    s.data(BOOK, SNAP)
    s.data(BOOK, [100.1, 0, 1])
    assert s.book.best_bid() == ("100", "0.25", 2)


def test_change_before_snapshot_is_a_desync_and_resubscribe() -> None:
    s = Session()
    out = s.data(BOOK, [100, 1, 1])
    assert isinstance(out[0], Desync)
    assert [orjson.loads(f) for f in s.sent] == [
        {"event": "unsubscribe", "chanId": BOOK},
        {"event": "subscribe", "channel": "book", "symbol": "tBTCUSD", "prec": "P0", "freq": "F0", "len": "100"},
    ]


def test_checksum_verified_and_mismatch_resubscribes() -> None:
    s = Session()
    s.data(BOOK, SNAP)
    s.data(BOOK, [2e-8, 1, 5])  # a price JavaScript writes as 2e-8
    # Bitfinex's recipe by hand: bid, ask, bid, ask..., asks negative, ":"-joined
    text = "100.1:1.5:100.2:-2:100:0.25:100.3:-0.00426663:2e-8:5"
    crc = zlib.crc32(text.encode())
    expected = crc - 2**32 if crc >= 2**31 else crc
    out = s.data(BOOK, "cs", expected)
    assert out == [Verify("tBTCUSD", expected)]
    assert s.keeper.checksums_verified == 1 and s.keeper.checksum_failures == 0
    assert s.book.synchronised

    s.data(BOOK, [100.1, 0, 1])
    s.data(BOOK, "cs", expected)  # the venue's book still has 100.1: ours does not
    assert s.keeper.checksum_failures == 1
    assert not s.book.synchronised
    assert [orjson.loads(f)["event"] for f in s.sent] == ["unsubscribe", "subscribe"]
    # the old channel's last frames are dropped; the new one brings a snapshot
    assert s.data(BOOK, [100.4, 1, -1]) == []
    s.feed({"event": "unsubscribed", "status": "OK", "chanId": BOOK})
    s.feed({"event": "subscribed", "channel": "book", "chanId": 99, "symbol": "tBTCUSD", "prec": "P0"})
    s.data(99, [[100.5, 1, 1], [100.6, 1, -1]])
    assert s.book.as_dict() == {"synchronised": True, "bids": [["100.5", "1"]], "asks": [["100.6", "1"]]}
    assert scheme.synchronised(s.state)  # one book's trouble never cost the connection


def test_snapshot_after_changes_replaces_the_book() -> None:
    s = Session()
    s.data(BOOK, SNAP)
    s.data(BOOK, [99, 1, 1])
    s.data(BOOK, [[50, 1, 1], [60, 1, -1]])
    assert s.book.as_dict() == {"synchronised": True, "bids": [["50", "1"]], "asks": [["60", "1"]]}


def test_trades_give_taker_side_and_history_is_not_new() -> None:
    s = Session()
    s.data(BOOK, SNAP)
    assert s.data(TRADES, [[5, 1618677535660, -76.7682617, 0.00002516]]) == []
    out = s.data(TRADES, "te", [7, 1618677550123, -0.5, 100.1])
    assert out == [Trade("tBTCUSD", "sell", "100.1", "0.5", "7", 1618677550.123)]
    assert s.data(TRADES, "tu", [7, 1618677550123, -0.5, 100.1]) == []  # the same trade again
    out = s.data(TRADES, "tu", [8, 1618677551000, 2e-8, 100.2])  # no "te" seen for it
    assert out == [Trade("tBTCUSD", "buy", "100.2", "0.00000002", "8", 1618677551.0)]
    assert sum(isinstance(i, Trade) for i in out) == 1


def test_unknown_and_malformed_frames() -> None:
    s = Session()
    s.data(BOOK, SNAP)
    assert s.data(4242, "hb") == []  # heartbeats may precede their channel's subscribed event
    assert [type(i) for i in s.data(4242, [1, 1, 1])] == [Malformed]
    assert [type(i) for i in s.feed({"event": "mystery"})] == [Malformed]
    assert [type(i) for i in s.feed("not json")] == [Malformed]
    assert s.reconnect is None and s.book.synchronised
    out = s.data(BOOK, [100, 1])  # a change we cannot read may have lost a level
    assert [type(i) for i in out] == [Malformed, Desync, Send]
    assert not s.book.synchronised and s.malformed == 4


def test_venue_restart_notice_reconnects() -> None:
    s = Session()
    s.data(BOOK, SNAP)
    out = s.feed({"event": "info", "code": 20051, "msg": "Stop/Restart Websocket Server (please reconnect)"})
    assert [type(i) for i in out] == [Desync, Reconnect]
    assert not s.book.synchronised


def test_js_number_matches_javascript() -> None:
    cases = {
        "0.00000002": "2e-8",
        "0.0000015": "0.0000015",
        "0.000001": "0.000001",
        "0.00000099": "9.9e-7",
        "50000.00": "50000",
        "1.23000000": "1.23",
        "0.0001": "0.0001",
        "0.00002503": "0.00002503",
        "60400": "60400",
        "1e21": "1e+21",
        "100000000000000000000": "100000000000000000000",
    }
    assert {k: js_number(k) for k in cases} == cases


# --- the real capture ----------------------------------------------------------


def test_capture_sequence_books_and_ticker() -> None:
    """BITFINEX.ws.11.0: seven markets with book, trades and ticker channels,
    SEQ_ALL on (no checksum flag). Every data frame's sequence number follows
    the last, so no frame was lost and every book stays synchronised. The
    ticker's BID/ASK is the venue's own top of book, published with a lag of
    up to a few seconds: each one must equal our book's top at some moment
    of the preceding seconds."""
    tops: dict[str, list[tuple[float, tuple[float, float]]]] = defaultdict(list)
    compared: list[tuple[str, bool]] = []
    crossed = 0

    def hook(t: float, raw: str, rp: Replay) -> None:
        nonlocal crossed
        frame = orjson.loads(raw)
        if type(frame) is not list:
            return
        channel = rp.translator.state.channels.get(frame[0])
        if channel is None or channel.market is None:
            return
        symbol = channel.market.instrument.symbol
        book = rp.keeper.books[symbol]
        if not book.synchronised:
            return
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None and ask is not None
        top = (float(bid[0]), float(ask[0]))
        crossed += book.crossed()
        if channel.kind == "book" and (not tops[symbol] or tops[symbol][-1][1] != top):
            tops[symbol].append((t, top))
        if channel.kind == "ticker" and type(frame[1]) is list:
            tick = (float(frame[1][0]), float(frame[1][2]))
            history = tops[symbol]
            seen = any(
                state == tick and (i + 1 == len(history) or t - history[i + 1][0] < 3.0)
                for i, (_, state) in enumerate(history)
            )
            compared.append((symbol, seen))

    replays, summary = replay(scheme, [capture("BITFINEX.ws.11.0")], hook)
    (rp,) = replays
    state = rp.translator.state
    assert summary.frames == 1693 and summary.markets == 7
    assert summary.trades == 0  # the capture holds only the trade history sent on subscribing
    assert summary.malformed == 0 and summary.resyncs == 0 and summary.reconnects_requested == 0
    assert state.flags == SEQ_ALL and state.sequence == 1670  # every data frame numbered, none missing
    assert summary.checksums_verified == 0  # checksums were not requested in this session
    assert crossed == 0
    for book in rp.keeper.books.values():
        assert book.synchronised and not book.crossed()
        assert 0 < len(book.bids) <= 100 and 0 < len(book.asks) <= 100
    # 14 tickers came after their book's snapshot. One, DOGUSD's last, names a
    # bid (278790) that the book channel never showed at any moment, in an
    # unbroken sequence: not a visible book level, so not a loss of sync.
    assert len(compared) == 14
    assert [c for c in compared if not c[1]] == [("tDOGUSD", False)]
