"""bitFlyer: hand-written channel messages for each rule, then the real capture."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from level4.feed.events import BookStatus
from level4.feed.translator import ConnectionWork, Translator
from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations.bitflyer import CROSSED, ONE_SIDED, book_mid, scaled, scheme
from translations.protocol import (
    Desync,
    Instruction,
    Instrument,
    MarketType,
    Reconnect,
    Snapshot,
    Trade,
    Update,
    Verify,
)

BTC = scheme.instrument("BTC", "JPY", MarketType.SPOT)


def message(channel: str, body: Any) -> dict:
    return {"jsonrpc": "2.0", "method": "channelMessage", "params": {"channel": channel, "message": body}}


def levels(pairs: list[tuple[float, float]]) -> list[dict[str, float]]:
    return [{"price": p, "size": s} for p, s in pairs]


def snapshot(mid: float, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> dict:
    return message("lightning_board_snapshot_BTC_JPY", {"mid_price": mid, "bids": levels(bids), "asks": levels(asks)})


def board(mid: float, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> dict:
    return message("lightning_board_BTC_JPY", {"mid_price": mid, "bids": levels(bids), "asks": levels(asks)})


SNAP = snapshot(5860954.0, [(5859870.0, 0.04), (5859000.0, 1.5)], [(5862038.0, 0.02), (5863000.0, 0.1)])


class Feed(SchemeHarness):
    def __init__(self, *instruments: Instrument) -> None:
        super().__init__(scheme, instruments or [BTC])


def test_product_codes() -> None:
    assert Instrument("BTC", "JPY", MarketType.SPOT, "BTC_JPY") == BTC
    assert scheme.instrument("btc", "jpy", MarketType.PERP).symbol == "FX_BTC_JPY"
    assert scheme.from_symbol("ETH_BTC") == Instrument("ETH", "BTC", MarketType.SPOT, "ETH_BTC")
    assert scheme.from_symbol("FX_BTC_JPY") == Instrument("BTC", "JPY", MarketType.PERP, "FX_BTC_JPY")
    assert scheme.from_symbol("BTCJPY24DEC2021") == Instrument("BTC", "JPY", MarketType.FUTURE, "BTCJPY24DEC2021")
    assert scheme.from_symbol("BTCJPY_MAT1WK") == Instrument("BTC", "JPY", MarketType.FUTURE, "BTCJPY_MAT1WK")
    assert scheme.from_symbol("BTCJPY24DEC2021").tag("BITFLYER") == "BITFLYER.FUTURE:BTCJPY24DEC2021"
    with pytest.raises(ValueError):
        scheme.instrument("BTC", "JPY", MarketType.FUTURE)
    for bad in ("BTC", "FX_BTC", "A_B_C"):
        with pytest.raises(ValueError):
            scheme.from_symbol(bad)


def test_subscribe_frames_per_product() -> None:
    state = scheme.initial_state([BTC, scheme.from_symbol("FX_BTC_JPY")])
    frames = [orjson.loads(f) for f in scheme.subscribe_msg(state)]
    assert frames[0] == {
        "jsonrpc": "2.0",
        "method": "subscribe",
        "params": {"channel": "lightning_board_snapshot_BTC_JPY"},
        "id": 1,
    }
    assert [f["params"]["channel"] for f in frames] == [
        "lightning_board_snapshot_BTC_JPY",
        "lightning_board_BTC_JPY",
        "lightning_executions_BTC_JPY",
        "lightning_board_snapshot_FX_BTC_JPY",
        "lightning_board_FX_BTC_JPY",
        "lightning_executions_FX_BTC_JPY",
    ]
    assert [f["id"] for f in frames] == [1, 2, 3, 4, 5, 6]
    # replay learns the markets from the recorded board subscriptions only
    assert scheme.instruments_from_subscribe(frames[1]) == [BTC]
    assert scheme.instruments_from_subscribe(frames[2]) == []
    recorded = {"method": "subscribe", "params": {"channel": "lightning_board_snapshot_BTCJPY24DEC2021"}}
    assert [i.symbol for i in scheme.instruments_from_subscribe(recorded)] == ["BTCJPY24DEC2021"]


def test_diffs_before_the_first_snapshot_are_dropped_not_buffered() -> None:
    feed = Feed()
    # this diff is older than the snapshot that follows; replaying it would resurrect 5861000
    assert feed(board(5860954.0, [(5861000.0, 0.3)], [])) == []
    assert feed.tr.resyncs == 0 and feed.tr.malformed == 0
    out = feed(SNAP, board(5860954.0, [(5859000.0, 0.0)], [(5862500.0, 0.25)]))
    assert [type(i) for i in out] == [Snapshot, Verify, Update, Verify]
    assert feed.book() == {
        "synchronised": True,
        "bids": [["5859870", "0.04"]],
        "asks": [["5862038", "0.02"], ["5862500", "0.25"], ["5863000", "0.1"]],
    }
    assert feed.keeper.checksums_verified == 2 and feed.keeper.checksum_failures == 0


def test_mid_price_is_checked_on_the_price_grid() -> None:
    # half a yen is rounded down on the yen grid
    assert book_mid([("100", "1")], [("103", "1")]) == scaled("101")
    # the grid is the finest the top levels show: 96.1 and 96.2 are on a 0.01 grid here
    assert book_mid([("96.1", "1"), ("96.05", "1")], [("96.2", "1")]) == scaled("96.15")
    assert book_mid([("96.01", "1")], [("96.04", "1")]) == scaled("96.02")
    assert book_mid([("0.00919", "1")], [("0.00923", "1")]) == scaled("0.00921")
    assert book_mid([], [("1", "1")]) == ONE_SIDED
    assert book_mid([("2", "1")], [("2", "1")]) == CROSSED


def test_a_mid_price_the_book_disagrees_with_desyncs_until_the_next_snapshot() -> None:
    feed = Feed()
    feed(SNAP)
    # the venue says the mid moved, but no level that would move it arrived
    out = feed(board(5861000.0, [(5850000.0, 1.0)], []))
    assert [type(i) for i in out] == [Update, Verify, Desync]
    assert "mid_price 5861000 but book mid 5860954" in out[-1].reason  # type: ignore[attr-defined]
    assert feed.book() == {"synchronised": False, "bids": [], "asks": []}
    (send,) = feed.sent
    assert [(f["method"], f["params"]["channel"]) for f in map(orjson.loads, send.frames)] == [
        ("unsubscribe", "lightning_board_snapshot_BTC_JPY"),
        ("subscribe", "lightning_board_snapshot_BTC_JPY"),
    ]
    assert feed(board(5860954.0, [(5859870.0, 0.0)], [])) == []  # nothing to apply it to
    feed(SNAP)
    assert feed.book()["synchronised"] and feed.tr.resyncs == 1
    assert feed.tr.synchronised()  # one product's trouble never costs the connection


def test_a_crossed_book_desyncs() -> None:
    feed = Feed()
    feed(SNAP)
    out = feed(board(5860954.0, [(5862100.0, 0.5)], []))  # a bid above the best ask
    assert isinstance(out[-1], Desync) and out[-1].reason == "crossed book"


def test_one_sided_books_are_not_judged() -> None:
    feed = Feed()
    feed(snapshot(5862038.0, [], [(5862038.0, 0.02)]))
    feed(board(5862038.0, [], [(5863000.0, 0.1)]))
    assert feed.book() == {"synchronised": True, "bids": [], "asks": [["5862038", "0.02"], ["5863000", "0.1"]]}
    assert feed.tr.resyncs == 0


def test_a_later_snapshot_replaces_the_book() -> None:
    feed = Feed()
    feed(SNAP, board(5860954.0, [(5855555.0, 2.0)], []))
    feed(snapshot(5861500.0, [(5861000.0, 1.0)], [(5862000.0, 1.0)]))
    assert feed.book() == {"synchronised": True, "bids": [["5861000", "1"]], "asks": [["5862000", "1"]]}
    feed(snapshot(0.0, [], []))  # an empty board, no mid to check
    assert feed.book() == {"synchronised": True, "bids": [], "asks": []}
    assert feed.tr.resyncs == 0


def test_executions_give_the_taker_side() -> None:
    execution = {
        "id": 2284079807,
        "side": "SELL",
        "price": 5860832.0,
        "size": 0.01,
        "exec_date": "2021-12-12T23:05:29.9692063Z",
        "buy_child_order_acceptance_id": "JRF20211212-230529-223057",
        "sell_child_order_acceptance_id": "JRF20211212-230529-081757",
    }
    feed = Feed()
    auction = {**execution, "id": 2284079808, "side": ""}
    out = feed(message("lightning_executions_BTC_JPY", [execution, {**execution, "side": "BUY"}, auction]))
    assert [(t.side, t.price, t.size, t.trade_id) for t in out if isinstance(t, Trade)] == [
        ("sell", "5860832", "0.01", "2284079807"),
        ("buy", "5860832", "0.01", "2284079807"),
        ("", "5860832", "0.01", "2284079808"),  # an auction (itayose) fill has no taker
    ]
    assert out[0].timestamp == pytest.approx(1639350329.9692063)  # type: ignore[union-attr]
    assert feed(message("lightning_executions_BTC_JPY", [{**execution, "side": "UP"}])) == []
    assert feed.tr.malformed == 1 and feed.tr.resyncs == 0  # a bad trade never touches the book


def test_responses_unknown_and_malformed_frames() -> None:
    feed = Feed()
    feed(SNAP)
    feed(
        {"jsonrpc": "2.0", "id": 1, "result": True},
        message("lightning_ticker_BTC_JPY", {"best_bid": 1.0}),
    )
    assert feed.tr.malformed == 0
    feed(b"garbage", {"jsonrpc": "2.0", "method": "mystery"}, message("lightning_board_ETH_JPY", {}))
    assert feed.tr.malformed == 3 and feed.tr.resyncs == 0 and feed.book()["synchronised"]
    out = feed(message("lightning_board_BTC_JPY", {"mid_price": 1.0, "bids": [{"price": 1.0}], "asks": []}))
    assert [type(i) for i in out] == [Desync]  # a diff we cannot read may have lost a level
    assert feed.tr.malformed == 4 and len(feed.sent) == 1


def test_a_refused_subscription_reconnects() -> None:
    tr = Translator(scheme, [BTC])
    scheme.subscribe_msg(tr.state)
    out: list[Instruction] = []
    work = ConnectionWork()
    tr.feed_raw(b'{"jsonrpc":"2.0","id":99,"error":{"code":-32602,"message":"Invalid params"}}', out, work)
    assert work.reconnect is None and tr.synchronised()
    tr.feed_raw(b'{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"Invalid params"}}', out, work)
    assert isinstance(work.reconnect, Reconnect) and not tr.synchronised()


# --- the real capture ----------------------------------------------------------------

CAPTURE_MARKETS = {
    "XLM_JPY",
    "BTCJPY24DEC2021",
    "FX_BTC_JPY",
    "MONA_JPY",
    "BTC_EUR",
    "BTC_USD",
    "BTCJPY17DEC2021",
    "BCH_BTC",
    "ETH_JPY",
    "XRP_JPY",
}


def test_capture_books_match_the_venues_ticker_and_mid_prices() -> None:
    """Each ticker (best bid/ask with sizes) is sent just before the board
    diff that brings the book to it, so it is compared once that diff is
    applied. Every snapshot and diff after the first snapshot is checked
    against the venue's mid_price."""
    pending: dict[str, tuple[float, float, float, float]] = {}
    compared: dict[str, int] = {}
    early_diffs = 0
    snapshots_seen: set[str] = set()
    lost: list[tuple[float, str, str]] = []

    def hook(received: float, raw: str, rp: Replay) -> None:
        nonlocal early_diffs
        params = orjson.loads(raw)["params"]
        channel, body = params["channel"], params["message"]
        if channel.startswith("lightning_ticker_"):
            pending[channel[len("lightning_ticker_") :]] = (
                body["best_bid"],
                body["best_bid_size"],
                body["best_ask"],
                body["best_ask_size"],
            )
        elif channel.startswith("lightning_board_snapshot_"):
            snapshots_seen.add(channel[len("lightning_board_snapshot_") :])
        elif channel.startswith("lightning_board_"):
            symbol = channel[len("lightning_board_") :]
            book = rp.keeper.books[symbol]
            if symbol not in snapshots_seen:
                early_diffs += 1
                assert not book.synchronised  # dropped, never applied
            tick = pending.pop(symbol, None)
            if tick is not None and book.synchronised:
                bid, ask = book.best_bid(), book.best_ask()
                assert bid is not None and ask is not None
                ours = (float(bid[0]), float(bid[1]), float(ask[0]), float(ask[1]))
                assert ours == tick, (symbol, tick, ours)
                compared[symbol] = compared.get(symbol, 0) + 1
        for event in rp.events:
            if isinstance(event, BookStatus) and not event.synchronised:
                lost.append((received, event.symbol, event.reason or ""))
        rp.events.clear()

    replays, summary = replay(scheme, [capture("BITFLYER.ws.1.0")], hook)
    assert summary.frames == 1103 and summary.markets == 10 and summary.trades == 162
    assert sum(compared.values()) == 233, compared
    assert set(compared) == CAPTURE_MARKETS, compared
    assert early_diffs == 33
    # 60 snapshots and 653 diffs checked against mid_price: the 722 diffs less the 33 before a
    # first snapshot and the 36 that arrived while FX_BTC_JPY waited for a new one
    assert summary.checksums_verified == 713
    # FX_BTC_JPY really lost sync once: the first diff after a snapshot carried
    # changes older than that snapshot, and its mid_price disagreed with the book.
    assert summary.checksum_failures == 1 and summary.resyncs == 1 and summary.malformed == 0
    assert lost == [(1639350352.28747, "FX_BTC_JPY", "mid_price 5869789 but book mid 5869709")]
    (rp,) = replays
    assert set(rp.keeper.books) == CAPTURE_MARKETS
    for book in rp.keeper.books.values():
        # FX_BTC_JPY included: the venue's next periodic snapshot made it whole again
        assert book.synchronised and not book.crossed(), book.symbol
