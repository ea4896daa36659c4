"""OKX v5: hand-written frames for each rule, then the real capture."""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from level4.replay.replayer import Replay, load, replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations.okx import scheme
from translations.protocol import (
    Desync,
    MarketType,
    Reconnect,
    Snapshot,
    Trade,
    Update,
    Verify,
)

SPOT = scheme.instrument("BTC", "USDT", MarketType.SPOT)
SWAP = scheme.from_symbol("BTC-USD-SWAP")


class Harness(SchemeHarness):
    def __init__(self) -> None:
        super().__init__(scheme, [SPOT, SWAP], "BTC-USDT")


def crc(text: str) -> int:
    """OKX sends the CRC32 as a signed 32-bit integer."""
    value = zlib.crc32(text.encode())
    return value - 2**32 if value >= 2**31 else value


def push(action: str, bids: list, asks: list, inst: str = "BTC-USDT", **extra: Any) -> dict[str, Any]:
    data = {"asks": asks, "bids": bids, "ts": "1652459225464", **extra}
    return {"arg": {"channel": "books", "instId": inst}, "action": action, "data": [data]}


BIDS = [["100.1", "1", "0", "1"], ["100", "2", "0", "2"]]
ASKS = [["100.2", "3", "0", "1"]]
# best bid, best ask, second bid, ... as "price:size" joined by colons
SNAP_TEXT = "100.1:1:100.2:3:100:2"


def snapshot(seq: int | None = 10, checksum: int | None = None, inst: str = "BTC-USDT") -> dict[str, Any]:
    extra: dict[str, Any] = {"checksum": crc(SNAP_TEXT) if checksum is None else checksum}
    if seq is not None:
        extra.update(prevSeqId=-1, seqId=seq)
    return push("snapshot", BIDS, ASKS, inst, **extra)


def test_subscribe_and_keepalive_frames() -> None:
    state = scheme.initial_state([SPOT, SWAP])
    (frame,) = scheme.subscribe_msg(state)
    assert orjson.loads(frame) == {
        "op": "subscribe",
        "args": [
            {"channel": "books", "instId": "BTC-USDT"},
            {"channel": "books", "instId": "BTC-USD-SWAP"},
            {"channel": "trades", "instId": "BTC-USDT"},
            {"channel": "trades", "instId": "BTC-USD-SWAP"},
        ],
    }
    assert scheme.ping_msg(state) == ["ping"]
    h = Harness()
    assert h.feed("pong") == [] and h.tr.malformed == 0  # the venue's plain-text answer


def test_instruments() -> None:
    cases = {
        "BTC-USDT": (MarketType.SPOT, "OKX.SPOT:BTC-USDT"),
        "BTC-USD-SWAP": (MarketType.PERP, "OKX.PERP:BTC-USD"),
        "BTC-USDT-SWAP": (MarketType.PERP, "OKX.PERP:BTC-USDT"),
        "BTC-USD-220527": (MarketType.FUTURE, "OKX.FUTURE:BTC-USD-220527"),
        "BTC-USD-220527-30000-C": (MarketType.OPTION, "OKX.OPTION:BTC-USD-220527-30000-C"),
    }
    for inst_id, (kind, tag) in cases.items():
        inst = scheme.from_symbol(inst_id)
        assert (inst.market_type, inst.tag("OKX"), inst.symbol) == (kind, tag, inst_id)
    assert scheme.instrument("btc", "usdt", MarketType.PERP).symbol == "BTC-USDT-SWAP"
    for bad in ("BTCUSDT", "BTC-USD-NEXT", "BTC-USD-220527-30000-X"):
        try:
            scheme.from_symbol(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
    sub = {
        "op": "subscribe",
        "args": [{"channel": "tickers", "instId": "ETH-USDT"}, {"channel": "books", "instId": "ETH-USDT"}],
    }
    assert [i.symbol for i in scheme.instruments_from_subscribe(sub)] == ["ETH-USDT"]


def test_checksum_interleaves_bids_and_asks() -> None:
    h = Harness()
    out = h.feed(snapshot())
    assert [type(i) for i in out] == [Snapshot, Verify]
    assert h.keeper.checksums_verified == 1 and h.keeper.checksum_failures == 0
    assert scheme.checksum(h.keeper.books["BTC-USDT"], "BTC-USDT") == crc(SNAP_TEXT)


def test_snapshot_then_updates_with_sequence_chain() -> None:
    h = Harness()
    h.feed(snapshot())
    upd = push(
        "update",
        [["100.1", "0", "0", "0"], ["99.9", "5", "0", "1"]],
        [["100.3", "4", "0", "2"]],
        checksum=crc("100:2:100.2:3:99.9:5:100.3:4"),
        prevSeqId=10,
        seqId=15,
    )
    out = h.feed(upd)
    assert [type(i) for i in out] == [Update, Verify]
    assert out[0].sequence == 15 and out[0].timestamp == 1652459225.464  # type: ignore[union-attr]
    assert h.keeper.checksum_failures == 0
    assert h.book() == {
        "synchronised": True,
        "bids": [["100", "2"], ["99.9", "5"]],
        "asks": [["100.2", "3"], ["100.3", "4"]],
    }


def test_keepalive_update_and_sequence_reset_are_accepted() -> None:
    h = Harness()
    h.feed(snapshot(checksum=0))
    # no change for a while: empty sides, seqId == prevSeqId
    assert h.feed(push("update", [], [], checksum=0, prevSeqId=10, seqId=10)) == []
    # after maintenance the ids may start lower; the chain still names its predecessor
    out = h.feed(push("update", [["99", "1", "0", "1"]], [], checksum=0, prevSeqId=10, seqId=3))
    assert [type(i) for i in out] == [Update]
    out = h.feed(push("update", [["98", "1", "0", "1"]], [], checksum=0, prevSeqId=3, seqId=4))
    assert [type(i) for i in out] == [Update]
    assert h.tr.resyncs == 0 and h.keeper.checksums_verified == 0  # zero: no checksum sent


def test_gap_duplicate_and_out_of_order_resubscribe() -> None:
    for chain in ([(10, 11), (12, 13)], [(10, 11), (10, 11)], [(11, 12), (10, 11)]):
        h = Harness()
        h.feed(snapshot(checksum=0), snapshot(checksum=0, inst="BTC-USD-SWAP"))
        for prev, seq in chain:
            h.feed(push("update", [["99", "1", "0", "1"]], [], checksum=0, prevSeqId=prev, seqId=seq))
        desyncs = [i for i in h.out if isinstance(i, Desync)]
        assert [d.symbol for d in desyncs] == ["BTC-USDT"], chain
        assert "sequence" in desyncs[0].reason
        assert [orjson.loads(f) for f in h.sends] == [
            {"op": "unsubscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]},
            {"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]},
        ]
        assert not h.keeper.books["BTC-USDT"].synchronised
        assert h.keeper.books["BTC-USD-SWAP"].synchronised
        # the rest of the old subscription is dropped quietly; a new snapshot heals
        assert h.feed(push("update", [["97", "1", "0", "1"]], [], checksum=0, prevSeqId=40, seqId=41)) == []
        h.feed(snapshot(seq=50))
        assert h.keeper.books["BTC-USDT"].synchronised and h.tr.resyncs == 1


def test_checksum_mismatch_resubscribes() -> None:
    h = Harness()
    h.feed(snapshot(seq=None))  # the older dialect: checksums, no sequence ids
    out = h.feed(push("update", [["99", "1", "0", "1"]], [], checksum=crc(SNAP_TEXT)))
    assert [type(i) for i in out] == [Update, Verify, Desync]
    assert "checksum" in out[-1].reason  # type: ignore[union-attr]
    assert len(h.sends) == 2 and not h.keeper.books["BTC-USDT"].synchronised
    assert h.tr.synchronised()


def test_update_before_snapshot_resubscribes() -> None:
    h = Harness()
    out = h.feed(push("update", [["99", "1", "0", "1"]], [], prevSeqId=1, seqId=2))
    assert [type(i) for i in out] == [Desync] and len(h.sends) == 2


def test_empty_sides_and_zero_size_deletes() -> None:
    h = Harness()
    h.feed(push("snapshot", [], [["5", "1", "0", "1"]], checksum=crc("5:1")))
    h.feed(push("update", [], [["5", "0", "0", "0"]]))
    assert h.book() == {"synchronised": True, "bids": [], "asks": []}
    assert h.keeper.checksum_failures == 0


def test_trades_carry_the_taker_side_once() -> None:
    h = Harness()
    frame = {
        "arg": {"channel": "trades", "instId": "BTC-USDT"},
        "data": [
            {"instId": "BTC-USDT", "tradeId": "7", "px": "30236", "sz": "0.0002", "side": "sell", "ts": "1652459224818"}
        ],
    }
    (trade,) = h.feed(frame)
    assert isinstance(trade, Trade)
    assert (trade.side, trade.price, trade.size, trade.trade_id, trade.timestamp) == (
        "sell",
        "30236",
        "0.0002",
        "7",
        1652459224.818,
    )
    assert h.feed(frame) == []  # the same trade again is not a new trade


def test_unknown_malformed_and_error_frames() -> None:
    h = Harness()
    h.feed(snapshot())
    quiet = [
        {"event": "subscribe", "arg": {"channel": "books", "instId": "BTC-USDT"}, "connId": "a"},
        {"event": "channel-conn-count", "channel": "books", "connCount": "1", "connId": "a"},
        {"arg": {"channel": "tickers", "instId": "BTC-USDT"}, "data": [{"bidPx": "1"}]},
    ]
    assert h.feed(*quiet) == [] and h.tr.malformed == 0
    h.feed("hello", {"event": "mystery"}, {"arg": {"channel": "candle1m", "instId": "BTC-USDT"}, "data": []})
    assert h.tr.malformed == 3 and h.keeper.books["BTC-USDT"].synchronised and h.work.reconnect is None
    # a level the book cannot read: nothing of it applied, the book cleared, the connection renewed
    h.feed(push("update", [["x", "1", "0", "1"]], []))
    assert h.tr.malformed == 4 and not h.keeper.books["BTC-USDT"].synchronised
    assert isinstance(h.work.reconnect, Reconnect) and "bad level" in h.work.reconnect.reason
    h.work.clear()
    h.feed({"event": "error", "code": "60018", "msg": "Wrong URL or channel", "connId": "a"})
    assert isinstance(h.work.reconnect, Reconnect) and not h.tr.synchronised()


# --- the real capture -------------------------------------------------------------


def test_capture_checksums_and_tickers() -> None:
    """OKX.ws.1.0: a future, a swap and a spot market, 11 s of `books`
    (checksums on every push, no sequence ids yet in 2022), trades and
    tickers. Every checksum must match. The ticker's bidPx/askPx is a lagging
    sample of the top of book; on the spot market every ticker the venue sent
    after our snapshot names a best bid/ask pair the book really showed. (The
    future's one later ticker samples its book between two 100 ms pushes.)"""
    tops: dict[str, set[tuple[str, str]]] = {}
    before: dict[str, tuple[str, str]] = {}
    verified: dict[str, int] = {}
    seen = 0
    compared = 0

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal seen, compared
        msg = orjson.loads(raw)
        arg = msg.get("arg", {})
        book = rp.keeper.books.get(arg.get("instId", ""))
        if book is None or "data" not in msg:
            return
        if arg["channel"] == "books":
            verified[book.symbol] = verified.get(book.symbol, 0) + rp.keeper.checksums_verified - seen
            seen = rp.keeper.checksums_verified
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            tops.setdefault(book.symbol, set()).add((bid[0], ask[0]))
        elif arg["channel"] == "tickers":
            tick = msg["data"][0]
            pair = (tick["bidPx"], tick["askPx"])
            if not book.synchronised:
                before[book.symbol] = pair
            elif book.symbol == "BTC-USDT" and pair != before[book.symbol]:
                assert pair in tops[book.symbol], (tick, book.best_bid(), book.best_ask())
                compared += 1

    replays, summary = replay(scheme, [capture("OKX.ws.1.0")], hook)
    assert summary.frames == 410 and summary.markets == 3 and summary.trades == 74
    assert summary.checksums_verified == 290 and summary.checksum_failures == 0
    assert verified == {"BTC-USD-220527": 99, "UNI-USD-SWAP": 93, "BTC-USDT": 98}
    assert compared == 23
    # No market lost sync in this session.
    assert summary.resyncs == 0 and summary.malformed == 0 and summary.reconnects_requested == 0
    (rp,) = replays
    for book in rp.keeper.books.values():
        assert book.synchronised and not book.crossed()
    assert (len(rp.keeper.books["BTC-USDT"].bids), len(rp.keeper.books["BTC-USDT"].asks)) == (400, 400)


def test_capture_trade_ids_are_continuous() -> None:
    """Trade ids per instrument have no holes: no trade push was lost."""
    ids: dict[str, list[int]] = {}

    def hook(_t: float, raw: str, rp: Replay) -> None:
        for event in rp.events:
            if isinstance(event, Trade):
                ids.setdefault(event.symbol, []).append(int(event.trade_id or 0))
        rp.events.clear()

    replay(scheme, [capture("OKX.ws.1.0")], hook)
    assert {s: len(v) for s, v in ids.items()} == {"BTC-USD-220527": 4, "UNI-USD-SWAP": 1, "BTC-USDT": 69}
    for seq in ids.values():
        assert seq == list(range(seq[0], seq[0] + len(seq)))


def test_capture_with_a_lost_push_is_caught_for_that_market_only() -> None:
    """Drop one BTC-USDT book push: its next checksum exposes the loss and
    only BTC-USDT goes out of sync."""
    session = load(scheme, [capture("OKX.ws.1.0")])
    (conn,) = session.connections
    pushes = [i for i, (_, raw) in enumerate(conn.frames) if '"books","instId":"BTC-USDT"},"action":"update"' in raw]
    lost = pushes[5]
    rp = Replay(scheme, conn, session.rest)
    for received, raw in conn.frames[:lost] + conn.frames[lost + 1 :]:
        rp.feed(received, raw)
    assert rp.keeper.checksum_failures == 1 and rp.translator.resyncs == 1
    assert sorted(s for s, b in rp.keeper.books.items() if not b.synchronised) == ["BTC-USDT"]
