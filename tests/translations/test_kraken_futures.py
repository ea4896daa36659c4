"""Kraken Futures: hand-written messages for each rule, then the real session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations import scheme_for_market, scheme_for_url
from translations.kraken_futures import scheme
from translations.numbers import to_decimal_str
from translations.protocol import Desync, Malformed, MarketType, Reconnect, Snapshot, Trade, Update

PERP = scheme.instrument("BTC", "USD", MarketType.PERP)
PID = PERP.symbol


def snapshot(seq: int) -> dict[str, Any]:
    bids = [{"price": 100.5, "qty": 2.0}, {"price": 100.0, "qty": 1.0}]
    asks = [{"price": 101.0, "qty": 3.0}]
    return {"feed": "book_snapshot", "product_id": PID, "timestamp": 1, "seq": seq, "bids": bids, "asks": asks}


def delta(seq: int, side: str, price: float, qty: float) -> dict[str, Any]:
    return {"feed": "book", "product_id": PID, "side": side, "seq": seq, "price": price, "qty": qty, "timestamp": 2}


def harness() -> SchemeHarness:
    return SchemeHarness(scheme, [PERP], PID)


def test_names() -> None:
    assert PID == "PF_XBTUSD" and PERP.tag("KRAKEN") == "KRAKEN.PERP:BTC-USD"
    assert scheme.from_symbol("pi_xrpusd").market_type is MarketType.PERP
    dated = scheme.from_symbol("FI_XBTUSD_210924")
    assert dated.market_type is MarketType.FUTURE and dated.base == "BTC"
    assert dated.tag("KRAKEN") == "KRAKEN.FUTURE:FI_XBTUSD_210924"
    assert scheme_for_market("KRAKEN", "BTC", "USD", MarketType.PERP)[0] is scheme
    assert scheme_for_market("KRAKEN", "BTC", "USD", MarketType.SPOT)[0].api == ""
    assert scheme_for_url("KRAKEN", "futures.kraken.com") is scheme
    with pytest.raises(ValueError):
        scheme.from_symbol("PI_XBTJPY")


def test_subscribes_book_and_trades_of_every_product() -> None:
    frames = [orjson.loads(f) for f in scheme.subscribe_msg(scheme.initial_state([PERP]))]
    assert frames == [
        {"event": "subscribe", "feed": "book", "product_ids": [PID]},
        {"event": "subscribe", "feed": "trade", "product_ids": [PID]},
    ]


def test_snapshot_then_deltas_in_seq_order() -> None:
    h = harness()
    out = h.feed({"event": "subscribed", "feed": "book", "product_ids": [PID]}, snapshot(10))
    assert [type(i) for i in out] == [Snapshot]
    out = h.feed(delta(11, "buy", 100.5, 0.0), delta(12, "sell", 101.25, 4.5))
    assert [type(i) for i in out] == [Update, Update]
    book = h.book()
    assert [tuple(x) for x in book["bids"]] == [("100", "1")]
    assert [tuple(x) for x in book["asks"]] == [("101", "3"), ("101.25", "4.5")]
    assert h.keeper.books[PID].sequence == 12


def test_a_seq_gap_resubscribes_that_book_alone() -> None:
    h = harness()
    h.feed(snapshot(10), delta(11, "buy", 99.0, 1.0))
    out = h.feed(delta(13, "buy", 98.0, 1.0))
    assert any(isinstance(i, Desync) and "expected 12, got 13" in i.reason for i in out)
    assert [orjson.loads(f) for f in h.sends] == [
        {"event": "unsubscribe", "feed": "book", "product_ids": [PID]},
        {"event": "subscribe", "feed": "book", "product_ids": [PID]},
    ]
    assert h.work.reconnect is None and not h.keeper.books[PID].synchronised
    assert h.feed(delta(14, "buy", 97.0, 1.0)) == []  # nothing applies until the new snapshot
    h.feed(snapshot(20))
    assert h.keeper.books[PID].synchronised


def test_repeats_and_deltas_before_the_snapshot_change_nothing() -> None:
    h = harness()
    assert h.feed(delta(5, "buy", 99.0, 1.0)) == []
    h.feed(snapshot(10))
    assert h.feed(delta(10, "buy", 99.0, 1.0)) == []
    assert [tuple(x) for x in h.book()["bids"]] == [("100.5", "2"), ("100", "1")]


def test_trades_keep_the_takers_side_and_the_snapshot_of_past_trades_is_not_replayed() -> None:
    h = harness()
    past = {"feed": "trade_snapshot", "product_id": PID, "trades": [{"side": "buy", "price": 1.0, "qty": 1.0}]}
    trade = {"feed": "trade", "product_id": PID, "uid": "u-1", "side": "sell", "type": "fill"}
    trade |= {"seq": 7, "time": 1626994887094, "qty": 50.0, "price": 439.2}
    out = h.feed(past, trade)
    assert out == [Trade(PID, "sell", "439.2", "50", "u-1", 1626994887.094)]


def test_venue_errors_reconnect_and_garbage_is_counted() -> None:
    h = harness()
    out = h.feed({"event": "error", "message": "Invalid product id"})
    assert any(isinstance(i, Reconnect) for i in [*out, h.work.reconnect])
    h2 = harness()
    h2.feed(snapshot(10))
    out = h2.feed({"feed": "book", "product_id": PID, "side": "up", "seq": 11, "price": 1.0, "qty": 1.0})
    assert any(isinstance(i, Malformed) for i in h2.work.malformed) and any(isinstance(i, Desync) for i in out)


# --- the real session ---------------------------------------------------------------

FINAL_SEQ = {"PI_ETHUSD": 26664749, "PI_LTCUSD": 3423484, "FI_XBTUSD_210924": 13502800}


def test_session_books_match_every_ticker_and_keep_seq_unbroken() -> None:
    """ticker_lite carries the venue's best bid and ask: at every one of them the book's
    best prices are the same numbers; no book is ever crossed; every book message of
    every product follows its predecessor's seq."""
    compared = 0

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal compared
        for book in rp.keeper.books.values():
            assert not book.crossed()
        if '"ticker_lite"' in raw[:30]:
            tick = orjson.loads(raw)
            book = rp.keeper.books[tick["product_id"]]
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            assert (bid[0], ask[0]) == (to_decimal_str(tick["bid"]), to_decimal_str(tick["ask"])), tick
            compared += 1

    ws = capture("KRAKEN_FUTURES.ws.1.0")
    replays, summary = replay(scheme, [ws], hook)
    assert compared == 107
    assert summary.markets == 10 and summary.resyncs == 0 and summary.malformed == 0 and summary.trades == 3
    books = replays[0].keeper.books
    assert all(b.synchronised for b in books.values())
    last_seq: dict[str, int] = {}
    for line in ws.read_text().splitlines():
        if '"feed":"book' in line and " <- " not in line:
            msg = orjson.loads(line.partition(": ")[2])
            if "seq" in msg:
                last_seq[msg["product_id"]] = msg["seq"]
    assert {pid: b.sequence for pid, b in books.items()} == last_seq
    assert {pid: last_seq[pid] for pid in FINAL_SEQ} == FINAL_SEQ


def test_a_lost_book_message_resubscribes_that_product_only(tmp_path: Path) -> None:
    ws = capture("KRAKEN_FUTURES.ws.1.0")
    lines = ws.read_text().splitlines(keepends=True)
    victim = [i for i, line in enumerate(lines) if '{"feed":"book","product_id":"PI_ETHUSD"' in line][30]
    cut = tmp_path / "KRAKEN_FUTURES.ws.1.0"
    cut.write_text("".join(lines[:victim] + lines[victim + 1 :]))
    replays, summary = replay(scheme, [cut])
    books = replays[0].keeper.books
    assert summary.resyncs == 1 and summary.reconnects_requested == 0
    assert not books["PI_ETHUSD"].synchronised and "seq jumped" in (books["PI_ETHUSD"].reason or "")
    assert all(b.synchronised for pid, b in books.items() if pid != "PI_ETHUSD")
