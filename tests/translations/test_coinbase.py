"""Coinbase: hand-written frames for each rule, then the real capture."""

from __future__ import annotations

import orjson

from level4.feed.bookkeeper import BookKeeper
from level4.feed.translator import ConnectionWork, Translator
from level4.replay.replayer import Replay, replay
from tests.captures import capture
from translations.coinbase import scheme
from translations.protocol import Desync, Instruction, MarketType, Reconnect, Snapshot, Trade, Update
from translations.timeparse import iso_seconds

BTC = scheme.instrument("BTC", "USD", MarketType.SPOT)


def run(*frames: dict) -> tuple[list[Instruction], ConnectionWork, Translator]:
    tr = Translator(scheme, [BTC])
    out: list[Instruction] = []
    work = ConnectionWork()
    for f in frames:
        tr.feed_raw(orjson.dumps(f), out, work)
    return out, work, tr


SNAP = {"type": "snapshot", "product_id": "BTC-USD", "bids": [["100.10", "1.5"]], "asks": [["100.20", "2"]]}


def test_subscribe_names_public_channels() -> None:
    (frame,) = scheme.subscribe_msg(scheme.initial_state([BTC]))
    msg = orjson.loads(frame)
    assert msg == {
        "type": "subscribe",
        "product_ids": ["BTC-USD"],
        "channels": ["level2_batch", "matches", "heartbeat"],
    }


def test_snapshot_then_update_keeps_exact_strings() -> None:
    upd = {
        "type": "l2update",
        "product_id": "BTC-USD",
        "time": "2021-04-17T16:43:37.075687Z",
        "changes": [["buy", "100.10", "0"], ["sell", "100.15", "0.30000000"]],
    }
    out, work, _ = run(SNAP, upd)
    assert isinstance(out[0], Snapshot) and isinstance(out[1], Update)
    keeper = BookKeeper(["BTC-USD"])
    keeper.apply(out, [], [])
    book = keeper.books["BTC-USD"]
    assert book.as_dict() == {"synchronised": True, "bids": [], "asks": [["100.15", "0.30000000"], ["100.20", "2"]]}
    assert work.reconnect is None


def test_update_before_snapshot_is_a_desync_and_reconnect() -> None:
    upd = {"type": "l2update", "product_id": "BTC-USD", "changes": [["buy", "1", "1"]]}
    out, work, tr = run(upd)
    assert [type(i) for i in out] == [Desync]
    assert isinstance(work.reconnect, Reconnect)
    assert not tr.synchronised()


def test_match_gives_taker_side() -> None:
    match = {
        "type": "match",
        "trade_id": 7,
        "side": "sell",
        "size": "0.5",
        "price": "100.2",
        "product_id": "BTC-USD",
        "sequence": 10,
        "time": "2021-04-17T16:43:37.1Z",
    }
    out, _, _ = run(SNAP, match)
    trade = out[-1]
    assert isinstance(trade, Trade)
    assert (trade.side, trade.price, trade.size, trade.trade_id) == ("buy", "100.2", "0.5", "7")


def test_garbage_and_unknown_frames_are_counted_not_fatal() -> None:
    tr = Translator(scheme, [BTC])
    out: list[Instruction] = []
    work = ConnectionWork()
    tr.feed_raw(orjson.dumps(SNAP), out, work)
    tr.feed_raw(b"not json at all", out, work)
    tr.feed_raw(b'{"type":"mystery"}', out, work)
    assert work.reconnect is None  # harmless frames cost nothing but a count
    tr.feed_raw(b'{"type":"l2update","product_id":"BTC-USD","changes":[["up","1"]]}', out, work)
    assert tr.malformed == 3
    assert tr.frames == 4
    # a malformed book change may have lost a level: that market resyncs
    assert isinstance(out[-1], Desync) and work.reconnect is not None


def test_capture_books_match_the_venues_ticker() -> None:
    """The ticker channel reports best bid/ask after each trade. Once our book
    has seen the venue's change for that moment (venue time not behind the
    ticker's), its top must equal the ticker's exactly."""
    checked = 0
    first_update: dict[str, float] = {}

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal checked
        if not raw.startswith('{"type":"ticker"'):
            return
        tick = orjson.loads(raw)
        book = rp.keeper.books.get(tick.get("product_id", ""))
        if book is None or not book.synchronised or book.timestamp is None:
            return
        first = first_update.setdefault(book.symbol, book.timestamp)
        stamp = iso_seconds(tick["time"])
        # Tickers sent on subscribing describe a moment before the snapshot;
        # a ticker ahead of the changes received so far is not yet comparable.
        if stamp < first or book.timestamp < stamp:
            return
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None and ask is not None
        assert float(bid[0]) == float(tick["best_bid"]), (tick, bid)
        assert float(ask[0]) == float(tick["best_ask"]), (tick, ask)
        checked += 1

    replays, summary = replay(scheme, [capture("COINBASE.ws.28.0")], hook)
    assert checked > 50
    assert summary.markets == 10 and summary.trades == 97
    for rp in replays:
        for book in rp.keeper.books.values():
            assert book.synchronised and not book.crossed()
