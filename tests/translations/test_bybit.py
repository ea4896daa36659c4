"""Bybit: hand-written v5 and legacy frames for each rule, then the real capture."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations.bybit import scheme
from translations.protocol import Desync, Instruction, Instrument, MarketType, Snapshot, Trade, Truncate, Update

BTC = scheme.instrument("BTC", "USDT", MarketType.PERP)
ETH = scheme.instrument("ETH", "USDT", MarketType.PERP)


class Feed(SchemeHarness):
    def __init__(self, *instruments: Instrument) -> None:
        super().__init__(scheme, instruments or [BTC])


def ob(kind: str, u: int, bids: list, asks: list, seq: int = 100, sym: str = "BTCUSDT", depth: int = 50) -> dict:
    return {
        "topic": f"orderbook.{depth}.{sym}",
        "type": kind,
        "ts": 1672304484978,
        "data": {"s": sym, "b": bids, "a": asks, "u": u, "seq": seq},
        "cts": 1672304484976,
    }


SNAP = ob("snapshot", 18521288, [["16493.50", "0.006"], ["16493.00", "0.100"]], [["16611.00", "0.029"]])


def expect_resync(feed: Feed, out: list[Instruction], topic: str = "orderbook.50.BTCUSDT") -> None:
    """A Desync for the market, and its book topic resubscribed (not the connection dropped)."""
    symbol = topic.rpartition(".")[2]
    assert [i.symbol for i in out if isinstance(i, Desync)] == [symbol], out
    assert feed.work.reconnect is None
    assert [orjson.loads(f) for f in feed.sent[-1].frames] == [
        {"op": "unsubscribe", "args": [topic]},
        {"op": "subscribe", "args": [topic]},
    ]
    assert not feed.keeper.books[symbol].synchronised


# --- names, subscriptions -----------------------------------------------------


def test_subscribe_frames_carry_at_most_ten_topics() -> None:
    insts = [scheme.instrument(b, "USDT", MarketType.PERP) for b in ("BTC", "ETH", "SOL", "XRP", "ADA", "DOT")]
    frames = [orjson.loads(f) for f in scheme.subscribe_msg(scheme.initial_state(insts))]
    assert frames[0] == {
        "op": "subscribe",
        "args": [
            "orderbook.50.BTCUSDT",
            "publicTrade.BTCUSDT",
            "orderbook.50.ETHUSDT",
            "publicTrade.ETHUSDT",
            "orderbook.50.SOLUSDT",
            "publicTrade.SOLUSDT",
            "orderbook.50.XRPUSDT",
            "publicTrade.XRPUSDT",
            "orderbook.50.ADAUSDT",
            "publicTrade.ADAUSDT",
        ],
    }
    assert frames[1] == {"op": "subscribe", "args": ["orderbook.50.DOTUSDT", "publicTrade.DOTUSDT"]}
    assert scheme.ping_msg(scheme.initial_state(insts)) == ['{"op":"ping"}'] and scheme.ping_interval == 20.0


def test_symbols_market_types_and_endpoints() -> None:
    spot = scheme.instrument("BTC", "USDT", MarketType.SPOT)
    assert Instrument("BTC", "USDT", MarketType.SPOT, "BTCUSDT") == spot
    assert Instrument("BTC", "USDT", MarketType.PERP, "BTCUSDT") == BTC
    inverse = scheme.instrument("BTC", "USD", MarketType.PERP)
    assert inverse.symbol == "BTCUSD"
    assert scheme.instrument("ETH", "USDC", MarketType.PERP).symbol == "ETHPERP"
    assert scheme.from_symbol("BTCUSDH25") == Instrument("BTC", "USD", MarketType.FUTURE, "BTCUSDH25")
    assert scheme.from_symbol("BTC-28MAR25") == Instrument("BTC", "USDC", MarketType.FUTURE, "BTC-28MAR25")
    assert scheme.from_symbol("ETHUSDT-21FEB25").pair == "ETH-USDT"
    assert scheme.from_symbol("ETHPERP") == Instrument("ETH", "USDC", MarketType.PERP, "ETHPERP")
    assert scheme.from_symbol("ETHBTC", "spot") == Instrument("ETH", "BTC", MarketType.SPOT, "ETHBTC")
    assert scheme.from_symbol("1000PEPEUSDT").base == "1000PEPE"
    assert scheme.endpoint([spot]) == "wss://stream.bybit.com/v5/public/spot"
    assert scheme.endpoint([BTC, ETH]) == "wss://stream.bybit.com/v5/public/linear"
    assert scheme.endpoint([inverse, scheme.from_symbol("BTCUSDH25")]) == "wss://stream.bybit.com/v5/public/inverse"
    with pytest.raises(ValueError):
        scheme.endpoint([spot, BTC])
    with pytest.raises(ValueError):
        scheme.instrument("BTC", "USD", MarketType.FUTURE)
    with pytest.raises(ValueError):
        scheme.from_symbol("BTC-28MAR25-60000-C")


def test_markets_from_recorded_subscriptions() -> None:
    v5 = {"op": "subscribe", "args": ["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT", "orderbook.1.BTCUSD"]}
    assert [(i.symbol, i.quote) for i in scheme.instruments_from_subscribe(v5)] == [
        ("BTCUSDT", "USDT"),
        ("BTCUSD", "USD"),
    ]
    legacy = {"op": "subscribe", "args": ["orderBookL2_25.BCHUSDT"]}
    assert scheme.instruments_from_subscribe(legacy) == [Instrument("BCH", "USDT", MarketType.PERP, "BCHUSDT")]
    assert [
        i.symbol
        for i in scheme.instruments_from_subscribe({"op": "subscribe", "args": ["orderBookL2_25.BTCUSD|ETHUSD"]})
    ] == [
        "BTCUSD",
        "ETHUSD",
    ]
    assert scheme.instruments_from_subscribe({"op": "subscribe", "args": ["trade.BCHUSDT"]}) == []
    assert scheme.instruments_from_subscribe({"op": "ping"}) == []


# --- v5 book ------------------------------------------------------------------


def test_snapshot_then_deltas_keep_exact_strings_and_the_depth() -> None:
    feed = Feed()
    out = feed(SNAP)
    assert isinstance(out[0], Snapshot) and out[0].sequence == 18521288
    assert out[0].timestamp == 1672304484.976  # the matching engine's time
    out = feed(ob("delta", 18521289, [["16493.50", "0"], ["16492.50", "1.500"]], [["16611.00", "0.030"]]))
    assert [type(i) for i in out] == [Update, Truncate]
    assert isinstance(out[1], Truncate) and out[1].depth == 50
    assert feed.book() == {
        "synchronised": True,
        "bids": [["16493.00", "0.100"], ["16492.50", "1.500"]],
        "asks": [["16611.00", "0.030"]],
    }
    assert feed.keeper.books["BTCUSDT"].sequence == 18521289


def test_levels_beyond_the_subscribed_depth_are_cut() -> None:
    feed = Feed()
    feed(ob("snapshot", 5, [["10", "1"]], [["11", "1"]], depth=1))
    feed(ob("delta", 6, [["10.5", "2"]], [], depth=1))  # the venue stops reporting 10
    assert feed.book() == {"synchronised": True, "bids": [["10.5", "2"]], "asks": [["11", "1"]]}


def test_gap_in_update_ids_resubscribes_and_recovers() -> None:
    feed = Feed(BTC, ETH)
    feed(SNAP, ob("snapshot", 7, [["1200", "1"]], [], sym="ETHUSDT"))
    out = feed(ob("delta", 18521290, [["16493.50", "1"]], []))  # 18521289 never came
    expect_resync(feed, out)
    assert feed.tr.synchronised() and feed.keeper.books["ETHUSDT"].synchronised
    # deltas in flight before the fresh snapshot are dropped without a second resync
    assert feed(ob("delta", 18521291, [["1", "1"]], [])) == []
    feed(ob("snapshot", 18521300, [["16490.00", "2"]], [["16495.00", "3"]]))
    assert feed.book() == {"synchronised": True, "bids": [["16490.00", "2"]], "asks": [["16495.00", "3"]]}
    feed(ob("delta", 18521301, [], [["16495.00", "0"]]))
    assert feed.book()["asks"] == [] and feed.tr.resyncs == 1


def test_duplicate_delta_is_a_loss_of_sync() -> None:
    feed = Feed()
    delta = ob("delta", 18521289, [["16493.50", "0.5"]], [])
    feed(SNAP, delta)
    expect_resync(feed, feed(delta))


def test_out_of_order_delta_is_a_loss_of_sync() -> None:
    feed = Feed()
    feed(SNAP, ob("delta", 18521289, [], []), ob("delta", 18521290, [], []))
    expect_resync(feed, feed(ob("delta", 18521288, [["16493.50", "7"]], [])))


def test_sequence_running_backwards_is_a_loss_of_sync() -> None:
    feed = Feed()
    feed(SNAP)
    expect_resync(feed, feed(ob("delta", 18521289, [], [], seq=99)))


def test_delta_before_any_snapshot_is_a_loss_of_sync() -> None:
    feed = Feed()
    expect_resync(feed, feed(ob("delta", 3, [["1", "1"]], [])))


def test_depth_and_topic_follow_what_the_venue_sends() -> None:
    feed = Feed()
    feed(ob("snapshot", 1, [], [], depth=200))
    no_seq = ob("delta", 2, [["1", "1"]], [], depth=200)
    del no_seq["data"]["seq"]
    out = feed(no_seq)
    assert isinstance(out[-1], Truncate) and out[-1].depth == 200
    expect_resync(feed, feed(ob("delta", 4, [], [], depth=200)), "orderbook.200.BTCUSDT")


def test_snapshot_after_deltas_replaces_the_book() -> None:
    # After a service restart the venue sends u = 1 with a fresh snapshot.
    feed = Feed()
    feed(SNAP, ob("delta", 18521289, [["16000", "1"]], []))
    feed(ob("snapshot", 1, [], [["17000", "2"]], seq=5))
    assert feed.book() == {"synchronised": True, "bids": [], "asks": [["17000", "2"]]}
    feed(ob("delta", 2, [["16999", "1"]], [], seq=6))
    assert feed.book()["bids"] == [["16999", "1"]] and feed.tr.resyncs == 0


def test_empty_snapshot_and_zero_size_deletes() -> None:
    feed = Feed()
    feed(ob("snapshot", 10, [], []))
    assert feed.book() == {"synchronised": True, "bids": [], "asks": []}
    feed(ob("delta", 11, [["5.0", "1"]], [["6.0", "1"]]), ob("delta", 12, [["5", "0"]], [["6.00", "0.0"]]))
    assert feed.book() == {"synchronised": True, "bids": [], "asks": []}


def test_public_trades_name_the_taker() -> None:
    feed = Feed()
    frame = {
        "topic": "publicTrade.BTCUSDT",
        "type": "snapshot",
        "ts": 1672304486868,
        "data": [
            {
                "T": 1672304486865,
                "s": "BTCUSDT",
                "S": "Buy",
                "v": "0.001",
                "p": "16578.50",
                "i": "20f43950",
                "BT": False,
            },
            {
                "T": 1672304486866,
                "s": "BTCUSDT",
                "S": "Sell",
                "v": "0.5",
                "p": "16578.00",
                "i": "20f43951",
                "BT": False,
            },
        ],
    }
    trades = feed(frame)
    assert all(isinstance(t, Trade) for t in trades)
    assert [(t.side, t.price, t.size, t.trade_id, t.timestamp) for t in trades if isinstance(t, Trade)] == [
        ("buy", "16578.50", "0.001", "20f43950", 1672304486.865),
        ("sell", "16578.00", "0.5", "20f43951", 1672304486.866),
    ]


def test_acks_pongs_errors_and_unknown_frames() -> None:
    feed = Feed()
    ack = {"success": True, "ret_msg": "", "conn_id": "c1", "req_id": "", "op": "subscribe"}
    pong = {"success": True, "ret_msg": "pong", "conn_id": "c1", "req_id": "", "op": "ping"}
    spot_pong = {"req_id": "", "op": "pong", "args": ["1675418560633"], "conn_id": "c2"}
    assert feed(ack, pong, spot_pong) == [] and feed.tr.malformed == 0
    feed("not json", {"what": 1}, {"topic": "tickers.BTCUSDT", "data": {}})
    assert feed.tr.malformed == 3 and feed.work.reconnect is None
    feed({"success": False, "ret_msg": "error:handler not found,topic:orderbook.50.NOPE", "op": "subscribe"})
    assert feed.work.reconnect is not None and not feed.tr.synchronised()


def test_malformed_delta_resyncs() -> None:
    feed = Feed()
    feed(SNAP)
    bad = ob("delta", 18521289, [], [])
    del bad["data"]["u"]
    expect_resync(feed, feed(bad))
    assert feed.tr.malformed == 1


# --- legacy realtime_public -----------------------------------------------------


def lrow(rid: str, side: str, price: str, size: float | None = None, sym: str = "BCHUSDT") -> dict:
    r: dict[str, Any] = {"price": price, "symbol": sym, "id": rid, "side": side}
    if size is not None:
        r["size"] = size
    return r


def legacy(kind: str, data: Any, seq: int, sym: str = "BCHUSDT") -> dict:
    return {
        "topic": f"orderBookL2_25.{sym}",
        "type": kind,
        "data": data,
        "cross_seq": str(seq),
        "timestamp_e6": "1618677786389362",
    }


BCH = scheme.from_symbol("BCHUSDT")
LSNAP = legacy(
    "snapshot",
    {"order_book": [lrow("10530500", "Buy", "1053.05", 2.63), lrow("10531000", "Sell", "1053.10", 10.969999)]},
    864131773,
)


def delta(seq: int, delete: list | None = None, update: list | None = None, insert: list | None = None) -> dict:
    return legacy("delta", {"delete": delete or [], "update": update or [], "insert": insert or []}, seq)


def test_legacy_snapshot_and_id_keyed_deltas() -> None:
    feed = Feed(BCH)
    out = feed(LSNAP)
    assert isinstance(out[0], Snapshot) and out[0].timestamp == 1618677786.389362
    assert feed.book("BCHUSDT") == {
        "synchronised": True,
        "bids": [["1053.05", "2.63"]],
        "asks": [["1053.10", "10.969999"]],
    }
    feed(
        delta(
            864131780,
            delete=[lrow("10530500", "Buy", "1053.05")],
            update=[lrow("10531000", "Sell", "1053.10", 4)],
            insert=[lrow("10529500", "Buy", "1052.95", 20.3), lrow("10530500", "Buy", "1053.05", 1.5)],
        )
    )
    assert feed.book("BCHUSDT") == {
        "synchronised": True,
        "bids": [["1053.05", "1.5"], ["1052.95", "20.3"]],
        "asks": [["1053.10", "4"]],
    }
    assert feed.keeper.books["BCHUSDT"].sequence == 864131780


def test_legacy_inverse_snapshot_is_a_plain_list() -> None:
    feed = Feed(scheme.from_symbol("BTCUSD"))
    rows = [lrow(1, "Buy", "7000.5", 100, "BTCUSD"), lrow(2, "Sell", "7001.0", 5, "BTCUSD")]
    feed(legacy("snapshot", rows, 10, "BTCUSD"))
    assert feed.book("BTCUSD") == {"synchronised": True, "bids": [["7000.5", "100"]], "asks": [["7001.0", "5"]]}


@pytest.mark.parametrize(
    "bad",
    [
        delta(864131780, delete=[lrow("999", "Buy", "9.99")]),
        delta(864131780, update=[lrow("999", "Buy", "9.99", 1)]),
        delta(864131780, insert=[lrow("10530500", "Buy", "1053.05", 1)]),  # the id is already there
        delta(864131780, update=[lrow("10530500", "Buy", "1053.00", 1)]),  # the id is at another price
        delta(864131772),  # cross sequence ran backwards
    ],
)
def test_legacy_loss_of_sync(bad: dict) -> None:
    feed = Feed(BCH)
    feed(LSNAP)
    expect_resync(feed, feed(bad), "orderBookL2_25.BCHUSDT")
    assert feed(delta(864131790, insert=[lrow("1", "Buy", "1", 1)])) == []  # dropped until the snapshot
    feed(LSNAP)
    assert feed.keeper.books["BCHUSDT"].synchronised


def test_legacy_delta_before_snapshot_resubscribes_the_legacy_topic() -> None:
    feed = Feed(BCH)
    expect_resync(feed, feed(delta(5, insert=[lrow("1", "Buy", "1", 1)])), "orderBookL2_25.BCHUSDT")


def test_legacy_trades_name_the_taker() -> None:
    feed = Feed(BCH)
    frame = {
        "topic": "trade.BCHUSDT",
        "data": [
            {
                "symbol": "BCHUSDT",
                "tick_direction": "MinusTick",
                "price": "1053.90",
                "size": 0.14,
                "timestamp": "2021-04-17T16:43:05.000Z",
                "trade_time_ms": "1618677785116",
                "side": "Sell",
                "trade_id": "01cacfe9-8d1c-5ee4-995d-d79a43f955a6",
            }
        ],
    }
    (t,) = feed(frame)
    assert isinstance(t, Trade)
    assert (t.side, t.price, t.size, t.trade_id, t.timestamp) == (
        "sell",
        "1053.90",
        "0.14",
        "01cacfe9-8d1c-5ee4-995d-d79a43f955a6",
        1618677785.116,
    )


# --- the recorded session -------------------------------------------------------


def test_capture_books_hold_the_venues_depth_and_never_cross() -> None:
    """The session carries no top-of-book stream. What the venue does promise
    is checked at every book frame: `orderBookL2_25` keeps exactly 25 levels a
    side (it deletes what leaves the window by id), the book is never crossed,
    every delete and update names an id at the price the book holds it (the
    scheme checks that), and the book's sequence is the frame's cross_seq."""
    checked = 0

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal checked
        if not raw.startswith('{"topic":"orderBookL2_25.'):
            return
        frame = orjson.loads(raw)
        book = rp.keeper.books[frame["topic"].partition(".")[2]]
        assert book.synchronised
        assert len(book.bids) == 25 and len(book.asks) == 25, (book.symbol, len(book.bids), len(book.asks))
        assert not book.crossed()
        assert book.sequence == int(frame["cross_seq"])
        checked += 1

    replays, summary = replay(scheme, [capture("BYBIT.ws.25.0")], hook)
    assert checked == 3260
    assert summary.frames == 3342 and summary.markets == 8 and summary.trades == 101
    # Every id was known and cross_seq only rose: this session never lost sync.
    assert summary.resyncs == 0 and summary.malformed == 0 and summary.reconnects_requested == 0
    for rp in replays:
        assert {i.market_type for i in rp.translator.instruments} == {MarketType.PERP}
        for book in rp.keeper.books.values():
            assert book.synchronised and not book.crossed()
