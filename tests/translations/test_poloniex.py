"""Poloniex: hand-written frames for each rule, then the real capture."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations import poloniex
from translations.poloniex import scheme
from translations.protocol import Desync, Malformed, MarketType, Reconnect, Send, Snapshot, Trade, Update

BTC = scheme.instrument("BTC", "USDT", MarketType.SPOT)


class Feed(SchemeHarness):
    def __init__(self) -> None:
        super().__init__(scheme, [BTC])

    __call__ = SchemeHarness.feed_with_sends  # book instructions and frames to send, in order


def book(action: str, last_id: int, new_id: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    item = {"symbol": "BTC_USDT", "createTime": 1661123517832, "asks": asks, "bids": bids}
    item.update(lastId=last_id, id=new_id, ts=1661123517837)
    return {"channel": "book_lv2", "data": [item], "action": action}


def upd(last_id: int, new_id: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    return book("update", last_id, new_id, bids, asks)


SNAP = book("snapshot", 99, 100, [["21612.26", "0.68"], ["21612.00", "1"]], [["21617.15", "0.34"]])


def test_subscribe_and_ping_frames() -> None:
    state = scheme.initial_state([BTC])
    frames = [orjson.loads(f) for f in scheme.subscribe_msg(state)]
    assert frames == [
        {"event": "subscribe", "channel": ["book_lv2"], "symbols": ["BTC_USDT"]},
        {"event": "subscribe", "channel": ["trades"], "symbols": ["BTC_USDT"]},
    ]
    assert [orjson.loads(f) for f in scheme.ping_msg(state)] == [{"event": "ping"}]
    assert scheme.ping_interval is not None and scheme.ping_interval < 30  # the venue cuts silent clients at 30 s
    assert scheme.ws_url == "wss://ws.poloniex.com/ws/public"


def test_symbols_and_the_venues_old_currency_names() -> None:
    assert BTC.symbol == "BTC_USDT" and BTC.pair == "BTC-USDT"
    assert scheme.instrument("xlm", "usdt", MarketType.SPOT).symbol == "STR_USDT"
    assert scheme.from_symbol("STR_BTC").pair == "XLM-BTC"
    assert scheme.from_symbol("BCHSV_USDT").pair == "BSV-USDT"
    with pytest.raises(ValueError):
        scheme.from_symbol("BTCUSDT")
    with pytest.raises(ValueError):
        scheme.instrument("BTC", "USDT", MarketType.PERP)
    sub = {"event": "subscribe", "channel": ["book_lv2"], "symbols": ["BTC_USDT", "STR_USDT"]}
    assert [i.pair for i in scheme.instruments_from_subscribe(sub)] == ["BTC-USDT", "XLM-USDT"]
    assert scheme.instruments_from_subscribe({"event": "subscribe", "channel": ["trades"], "symbols": ["X_Y"]}) == []


def test_snapshot_then_updates_keep_exact_strings() -> None:
    feed = Feed()
    got = feed(SNAP, upd(100, 101, [["21612.26", "0"], ["21612.10", "0.340000"]], []), upd(101, 103, [], []))
    assert [type(i) for i in got] == [Snapshot, Update, Update]
    assert feed.book() == {
        "synchronised": True,
        "bids": [["21612.10", "0.340000"], ["21612.00", "1"]],
        "asks": [["21617.15", "0.34"]],
    }
    # ids may skip within a frame: continuity is lastId against the previous id
    assert feed.keeper.books["BTC_USDT"].sequence == 103
    assert feed.keeper.books["BTC_USDT"].timestamp == 1661123517.832


def test_empty_sides() -> None:
    feed = Feed()
    feed(book("snapshot", 1, 2, [], []), upd(2, 3, [], [["5", "1"]]))
    assert feed.book() == {"synchronised": True, "bids": [], "asks": [["5", "1"]]}


def test_gap_clears_the_book_and_resubscribes() -> None:
    feed = Feed()
    feed(SNAP, upd(100, 101, [["21612.50", "1"]], []))
    got = feed(upd(102, 103, [["21612.60", "1"]], []))
    assert [type(i) for i in got] == [Desync, Send]
    assert feed.book()["synchronised"] is False
    frames = [orjson.loads(f) for f in got[1].frames]  # type: ignore[union-attr]
    assert frames == [
        {"event": "unsubscribe", "channel": ["book_lv2"], "symbols": ["BTC_USDT"]},
        {"event": "subscribe", "channel": ["book_lv2"], "symbols": ["BTC_USDT"]},
    ]
    assert feed(upd(103, 104, [["1", "1"]], [])) == []  # in flight: dropped until the snapshot
    feed({"event": "unsubscribe", "channel": "book_lv2", "symbols": ["BTC_USDT"]})
    feed({"event": "subscribe", "channel": "book_lv2", "symbols": ["BTC_USDT"]})
    feed(book("snapshot", 199, 200, [["1", "1"]], [["3", "1"]]), upd(200, 201, [["2", "1"]], []))
    assert feed.book() == {"synchronised": True, "bids": [["2", "1"], ["1", "1"]], "asks": [["3", "1"]]}
    assert feed.tr.synchronised() and feed.work.reconnect is None and feed.tr.malformed == 0


def test_duplicate_and_older_updates_are_dropped() -> None:
    feed = Feed()
    feed(SNAP, upd(100, 101, [["21612.50", "1"]], []))
    before = feed.book()
    assert feed(upd(100, 101, [["21612.50", "1"]], []), upd(95, 99, [["1", "1"]], [])) == []
    assert feed.book() == before


def test_out_of_order_updates_are_a_gap() -> None:
    feed = Feed()
    feed(SNAP)
    got = feed(upd(101, 102, [], []), upd(100, 101, [], []))
    assert [type(i) for i in got] == [Desync, Send]


def test_update_before_snapshot_resubscribes() -> None:
    feed = Feed()
    assert [type(i) for i in feed(upd(1, 2, [], []))] == [Desync, Send]


def test_snapshot_after_updates_replaces_the_book() -> None:
    feed = Feed()
    feed(SNAP, upd(100, 101, [["21612.50", "1"]], []), book("snapshot", 300, 301, [["1", "2"]], []))
    feed(upd(301, 302, [], [["9", "1"]]))
    assert feed.book() == {"synchronised": True, "bids": [["1", "2"]], "asks": [["9", "1"]]}


def test_no_snapshot_after_resubscribing_gives_up_the_connection() -> None:
    feed = Feed()
    feed(SNAP, upd(105, 106, [], []))
    for i in range(poloniex.MAX_DROPPED):
        feed(upd(200 + i, 201 + i, [], []))
    assert feed.work.reconnect is None
    feed(upd(5000, 5001, [], []))
    assert isinstance(feed.work.reconnect, Reconnect) and not feed.tr.synchronised()
    assert feed.work.reconnect.backoff  # the venue failed to resynchronise: no new connection at once


def test_trades_give_taker_side() -> None:
    feed = Feed()
    frame = {
        "channel": "trades",
        "data": [
            {
                "symbol": "BTC_USDT",
                "amount": "248.3516391",
                "quantity": "0.01149",
                "takerSide": "sell",
                "createTime": 1661123520381,
                "price": "21614.59",
                "id": "60184114",
                "ts": 1661123520386,
            }
        ],
    }
    (trade,) = feed(frame)
    assert trade == Trade("BTC_USDT", "sell", "21614.59", "0.01149", "60184114", 1661123520.381)
    other = {"channel": "trades", "data": [dict(frame["data"][0], symbol="ETH_USDT")]}  # type: ignore[arg-type]
    assert feed(other) == []


def test_garbage_unknown_and_malformed_frames() -> None:
    feed = Feed()
    feed(SNAP)
    feed(b"not json", {"channel": "mystery", "data": []}, {"what": 1}, {"event": "pong"})
    assert feed.tr.malformed == 3 and feed.work.reconnect is None
    assert feed.book()["synchronised"] is True
    # a book frame that cannot be read may have lost a change: that market resyncs
    got = feed({"channel": "book_lv2", "data": [{"symbol": "BTC_USDT", "id": 101}], "action": "update"})
    assert [type(i) for i in got] == [Desync, Send]
    assert isinstance(feed.work.malformed[-1], Malformed) and feed.book()["synchronised"] is False
    assert feed({"channel": "book_lv2", "data": [{"symbol": "BTC_USDT"}], "action": "update"}) == []  # resyncing
    feed({"channel": "book_lv2", "data": [], "action": "replace"})
    assert feed.tr.malformed == 6


def test_a_level_the_book_cannot_read_renews_the_connection() -> None:
    feed = Feed()
    feed(SNAP)
    feed(upd(100, 101, [["21612.50"]], []))
    assert feed.book()["synchronised"] is False and feed.tr.malformed == 1
    assert isinstance(feed.work.reconnect, Reconnect) and "bad level" in feed.work.reconnect.reason


def test_venue_error_reconnects() -> None:
    feed = Feed()
    feed({"event": "error", "message": "Invalid symbol"})
    assert isinstance(feed.work.reconnect, Reconnect) and not feed.tr.synchronised()


# --- the real capture --------------------------------------------------------


def test_capture_keeps_every_book_in_sync_and_trades_hit_the_top() -> None:
    """The session has no top-of-book stream, but three kinds of venue
    evidence: every update's lastId continues the previous id; book_lv2
    keeps exactly the best 20 levels, so after every change each side must
    still hold 20 levels (or all the market has); and each trade happened
    at our book's best price on the side its taker hit, as of the last
    change stamped before the trade."""
    depth_checks = 0
    trade_checks = 0
    last_id: dict[str, int] = {}
    snapshot_depth: dict[str, tuple[int, int]] = {}
    tops: dict[str, list[tuple[float, str, str]]] = {}  # symbol -> (venue time, best bid, best ask) after each change

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal depth_checks, trade_checks
        frame = orjson.loads(raw)
        if frame.get("channel") == "book_lv2" and "data" in frame:
            for item in frame["data"]:
                symbol = item["symbol"]
                if frame["action"] == "snapshot":
                    snapshot_depth[symbol] = (len(item["bids"]), len(item["asks"]))
                else:
                    assert item["lastId"] == last_id[symbol]
                last_id[symbol] = item["id"]
                book = rp.keeper.books[symbol]
                assert book.synchronised and not book.crossed()
                bids, asks = snapshot_depth[symbol]
                assert (len(book.bids), len(book.asks)) == (bids, asks)
                depth_checks += 1
                bid, ask = book.best_bid(), book.best_ask()
                assert book.timestamp is not None and bid is not None and ask is not None
                tops.setdefault(symbol, []).append((book.timestamp, bid[0], ask[0]))
        elif frame.get("channel") == "trades" and "data" in frame:
            for trade in frame["data"]:
                # the change that took the traded size off the book may come first, stamped the same moment
                when = trade["createTime"] / 1000.0
                _, bid, ask = [top for top in tops[trade["symbol"]] if top[0] < when][-1]
                assert (ask if trade["takerSide"] == "buy" else bid) == trade["price"], trade
                trade_checks += 1

    replays, summary = replay(scheme, [capture("POLONIEX.ws.1.0")], hook)
    assert summary.frames == 302 and summary.markets == 11 and summary.trades == 6
    assert summary.resyncs == 0 and summary.malformed == 0 and summary.reconnects_requested == 0
    assert depth_checks == 294 and trade_checks == 6
    assert snapshot_depth["DYP_USDT"] == (11, 20)  # the one thin book
    (rp,) = replays
    assert set(rp.keeper.books) == set(last_id)
    for symbol, ob in rp.keeper.books.items():
        assert ob.synchronised and not ob.crossed()
        assert ob.sequence == last_id[symbol]
