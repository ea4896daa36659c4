"""Binance spot: hand-written frames for each rule, then the real capture."""

from __future__ import annotations

import bisect
from pathlib import Path

import orjson
import pytest

from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.binance_evidence import book_tickers
from tests.translations.harness import SchemeHarness
from translations.binance import scheme
from translations.protocol import (
    Desync,
    Fetch,
    Instruction,
    MarketType,
    Reconnect,
    RestAnswer,
    Snapshot,
    Trade,
    Update,
)
from translations.rest_snapshot import MAX_FETCHES
from translations.symbols import normalise

BTC = scheme.instrument("BTC", "USDT", MarketType.SPOT)
PATH = "/api/v3/depth?symbol=BTCUSDT&limit=1000"


class Feed(SchemeHarness):
    def __init__(self) -> None:
        super().__init__(scheme, [BTC])

    def snapshot(self, last_id: int, bids: list[list[str]], asks: list[list[str]]) -> list[Instruction]:
        return self.step(RestAnswer(BTC.symbol, PATH, {"lastUpdateId": last_id, "bids": bids, "asks": asks}))


def diff(first: int, final: int, bids: list[list[str]] | None = None, asks: list[list[str]] | None = None) -> dict:
    data = {"e": "depthUpdate", "E": 1700000000123, "s": "BTCUSDT", "U": first, "u": final}
    data["b"] = bids or []
    data["a"] = asks or []
    return {"stream": "btcusdt@depth@100ms", "data": data}


def kinds(instructions: list[Instruction]) -> list[type]:
    return [type(i) for i in instructions]


SNAP_BIDS = [["100.00", "1.0"], ["99.00", "2.0"]]
SNAP_ASKS = [["101.00", "1.5"], ["102.00", "3.0"]]


def synced(last_id: int = 10) -> Feed:
    """A feed past the join: one diff buffered, snapshot at `last_id` applied."""
    f = Feed()
    f.step(diff(last_id - 2, last_id - 1))
    f.snapshot(last_id, SNAP_BIDS, SNAP_ASKS)
    return f


# --- connection frames and names ------------------------------------------------


def test_subscribe_frame_names_depth_and_trade_streams() -> None:
    (frame,) = scheme.subscribe_msg(scheme.initial_state([BTC]))
    assert orjson.loads(frame) == {"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms", "btcusdt@trade"], "id": 1}
    assert scheme.instruments_from_subscribe(orjson.loads(frame)) == [BTC]
    assert scheme.ws_url == "wss://stream.binance.com:9443/stream"


def test_keepalive_asks_for_the_subscription_list_with_fresh_ids() -> None:
    state = scheme.initial_state([BTC])
    first = orjson.loads(scheme.ping_msg(state)[0])
    second = orjson.loads(scheme.ping_msg(state)[0])
    assert first["method"] == "LIST_SUBSCRIPTIONS" and second["id"] == first["id"] + 1 and first["id"] != 1


def test_subscription_list_without_the_book_stream_reconnects() -> None:
    f = synced()
    assert f.step({"result": ["btcusdt@depth@100ms", "btcusdt@trade"], "id": 3}) == []
    out = f.step({"result": ["btcusdt@trade"], "id": 4})
    assert kinds(out) == [Desync, Reconnect]
    assert not f.tr.synchronised()


def test_subscribe_acknowledgement_is_quiet_and_an_error_reconnects() -> None:
    f = Feed()
    assert f.step({"result": None, "id": 1}) == []
    out = f.step({"error": {"code": 2, "msg": "Invalid request"}, "id": 1})
    # a venue error: the book is cleared, and the new connection waits the backoff
    assert kinds(out) == [Desync, Reconnect] and f.tr.malformed == 1
    assert isinstance(out[-1], Reconnect) and out[-1].backoff
    out = Feed().step({"code": 2, "msg": "Invalid request: unknown variant", "id": 1})
    assert kinds(out) == [Desync, Reconnect]


def test_markets_from_a_combined_stream_url() -> None:
    url = (
        "wss://stream.binance.com:9443/stream?streams=nknusdt@depth@100ms/blzeth@depth@100ms/"
        "nknusdt@bookTicker/runeeur@aggTrade"
    )
    got = [(i.base, i.quote, i.symbol) for i in scheme.instruments_from_url(url)]
    assert got == [("NKN", "USDT", "NKNUSDT"), ("BLZ", "ETH", "BLZETH")]
    assert [i.symbol for i in scheme.instruments_from_url("wss://stream.binance.com:9443/ws/ethbtc@depth")] == [
        "ETHBTC"
    ]


def test_symbols_split_on_the_longest_known_quote() -> None:
    cases = {"BTCUSDT": ("BTC", "USDT"), "ETHBUSD": ("ETH", "BUSD"), "BTCTUSD": ("BTC", "TUSD")}
    cases |= {"BTCFDUSD": ("BTC", "FDUSD"), "ADAEUR": ("ADA", "EUR"), "BTCUSD": ("BTC", "USD")}
    cases |= {"BCHABCBTC": ("BCH", "BTC"), "USDTTRY": ("USDT", "TRY")}
    for sym, pair in cases.items():
        ins = scheme.from_symbol(sym)
        assert (ins.base, ins.quote, ins.symbol) == (*pair, sym)
    with pytest.raises(ValueError):
        scheme.from_symbol("USDT")
    with pytest.raises(ValueError):
        scheme.instrument("BTC", "USDT", MarketType.PERP)


def test_symbol_split_agrees_with_the_venues_symbol_list() -> None:
    """Every symbol of the recorded exchangeInfo splits into its own base and
    quote (normalised: Binance's old BCC is BCH)."""
    line = capture("BINANCE.0").read_text().splitlines()[0]
    info = orjson.loads(line.partition(": ")[2])
    wrong = []
    for entry in info["symbols"]:
        ins = scheme.from_symbol(entry["symbol"])
        if (ins.base, ins.quote) != (normalise(entry["baseAsset"]), normalise(entry["quoteAsset"])):
            wrong.append(entry["symbol"])
    assert len(info["symbols"]) == 1695 and wrong == []


# --- the snapshot/diff join ----------------------------------------------------


def test_first_diff_is_buffered_and_fetches_the_snapshot() -> None:
    f = Feed()
    out = f.step(diff(5, 7, [["99.50", "4"]]))
    assert [type(i) for i in out] == [Fetch]
    assert out[0] == Fetch("BTCUSDT", PATH)
    assert f.step(diff(8, 9)) == []  # still buffering, one fetch only
    assert not f.keeper.books["BTCUSDT"].synchronised


def opened(f: Feed) -> list[Instruction]:
    """The subscription has gone out (the mediator calls this on connect)."""
    book: list[Instruction] = []
    f.work.clear()
    f.tr.opened(book, f.work)
    return [*book, *f.work.fetches, *f.work.sends]


def test_the_snapshot_is_asked_for_when_the_subscription_goes_out_not_on_the_first_diff() -> None:
    f = Feed()
    assert opened(f) == [Fetch("BTCUSDT", PATH)]
    assert f.step(diff(5, 7)) == []  # buffered: the snapshot is already asked for
    out = f.snapshot(8, SNAP_BIDS, SNAP_ASKS)
    assert kinds(out) == [Snapshot]  # the buffered diff is in it already
    assert kinds(f.step(diff(8, 9))) == [Update]  # straddles 8 + 1
    assert opened(f) == []  # synchronised: nothing more to ask


def test_a_snapshot_answered_before_any_diff_waits_for_the_first_diff() -> None:
    f = Feed()
    opened(f)
    assert f.snapshot(10, SNAP_BIDS, SNAP_ASKS) == []  # only the first diff can tell if it will do
    assert not f.keeper.books["BTCUSDT"].synchronised
    out = f.step(diff(9, 12, [["98.00", "1"]]))  # straddles 10 + 1: the snapshot joins the stream
    assert kinds(out) == [Snapshot, Update]
    assert out[0].sequence == 10 and out[1].sequence == 12
    assert kinds(f.step(diff(13, 13))) == [Update]
    assert f.book()["bids"] == [["100.00", "1.0"], ["99.00", "2.0"], ["98.00", "1"]]


def test_a_snapshot_answered_before_any_diff_and_older_than_the_stream_is_fetched_again() -> None:
    f = Feed()
    opened(f)
    assert f.snapshot(10, SNAP_BIDS, SNAP_ASKS) == []
    out = f.step(diff(15, 16))  # 11..14 happened before the subscription: the snapshot misses them
    assert out == [Fetch("BTCUSDT", PATH)]
    assert not f.keeper.books["BTCUSDT"].synchronised
    assert f.step(diff(17, 17)) == []  # buffered
    out = f.snapshot(16, SNAP_BIDS, SNAP_ASKS)  # newer than the first diff: joins, drops 15..16
    assert kinds(out) == [Snapshot, Update]
    assert out[1].sequence == 17


def test_a_new_connection_asks_anew_and_an_old_held_snapshot_is_forgotten() -> None:
    f = Feed()
    opened(f)
    f.snapshot(10, SNAP_BIDS, SNAP_ASKS)  # held, waiting for a first diff that never comes
    f.tr.reset()  # the connection is lost; a new one begins
    assert opened(f) == [Fetch("BTCUSDT", PATH)]
    out = f.step(diff(40, 41))
    assert out == []  # buffered for the new snapshot, not joined to the old one
    assert kinds(f.snapshot(40, SNAP_BIDS, SNAP_ASKS)) == [Snapshot, Update]


def test_snapshot_drops_what_it_has_and_applies_the_rest_exactly() -> None:
    f = Feed()
    f.step(diff(5, 7, [["99.50", "4"]]))  # in the snapshot already
    f.step(diff(8, 11, [["100.00", "0"]], [["101.00", "0.25000000"]]))  # straddles 10+1
    out = f.snapshot(10, SNAP_BIDS, SNAP_ASKS)
    assert kinds(out) == [Snapshot, Update]
    assert out[0].sequence == 10 and out[1].sequence == 11 and out[1].timestamp == 1700000000.123
    f.step(diff(12, 12, [["99.00", "2.50"]], []))
    assert f.book() == {
        "synchronised": True,
        "bids": [["99.00", "2.50"]],
        "asks": [["101.00", "0.25000000"], ["102.00", "3.0"]],
    }
    assert f.keeper.books["BTCUSDT"].sequence == 12


def test_snapshot_newer_than_every_buffered_diff_waits_for_the_straddling_one() -> None:
    f = Feed()
    f.step(diff(5, 7))
    out = f.snapshot(20, SNAP_BIDS, SNAP_ASKS)
    assert kinds(out) == [Snapshot]
    assert f.step(diff(8, 20)) == []  # u <= lastUpdateId: already in the snapshot
    out = f.step(diff(19, 22, [["98.00", "1"]]))  # straddles 21
    assert kinds(out) == [Update]
    assert kinds(f.step(diff(23, 23))) == [Update]


def test_first_diff_after_snapshot_must_straddle() -> None:
    f = Feed()
    f.step(diff(5, 7))
    f.snapshot(20, SNAP_BIDS, SNAP_ASKS)
    out = f.step(diff(22, 23))  # 21 is missing
    assert kinds(out) == [Desync, Fetch]
    assert not f.keeper.books["BTCUSDT"].synchronised


def test_snapshot_older_than_the_stream_is_fetched_again() -> None:
    f = Feed()
    f.step(diff(30, 31))
    out = f.snapshot(20, SNAP_BIDS, SNAP_ASKS)  # 21..29 were never seen
    assert kinds(out) == [Fetch]
    assert not f.keeper.books["BTCUSDT"].synchronised
    out = f.snapshot(29, SNAP_BIDS, SNAP_ASKS)  # 29 + 1 == U: joins exactly
    assert kinds(out) == [Snapshot, Update]


def test_snapshots_that_never_join_give_up_with_a_reconnect() -> None:
    f = Feed()
    f.step(diff(30, 31))
    out: list[Instruction] = []
    for _ in range(MAX_FETCHES):
        out = f.snapshot(20, SNAP_BIDS, SNAP_ASKS)
    assert kinds(out) == [Desync, Reconnect]
    assert not f.tr.synchronised()


def test_gap_is_a_desync_and_a_new_fetch_then_a_fresh_join() -> None:
    f = synced()
    assert kinds(f.step(diff(11, 12))) == [Update]
    out = f.step(diff(14, 15, [["1", "1"]]))  # 13 lost
    assert kinds(out) == [Desync, Fetch]
    assert "expected 13" in out[0].reason
    assert f.book()["synchronised"] is False
    assert f.step(diff(16, 16)) == []  # buffered while the fetch is out
    out = f.snapshot(15, [["50", "1"]], [["60", "1"]])
    assert kinds(out) == [Snapshot, Update]
    assert f.keeper.books["BTCUSDT"].sequence == 16 and f.book()["synchronised"] is True


def test_out_of_order_diffs_are_a_desync() -> None:
    f = synced()
    out = f.step(diff(12, 12))  # 11 comes later
    assert kinds(out) == [Desync, Fetch]
    assert f.step(diff(11, 11)) == []  # only buffered now


def test_duplicate_diff_is_ignored() -> None:
    f = synced()
    f.step(diff(11, 12, [["100.00", "7"]]))
    f.step(diff(13, 13, [["100.00", "8"]]))
    assert f.step(diff(11, 12, [["100.00", "7"]])) == []
    assert f.book()["bids"][0] == ["100.00", "8"]


def test_overlapping_diff_after_the_join_is_a_desync() -> None:
    f = synced()
    f.step(diff(11, 12))
    assert kinds(f.step(diff(12, 14))) == [Desync, Fetch]


def test_empty_sides_and_deletes_of_absent_levels() -> None:
    f = Feed()
    f.step(diff(1, 1))
    f.snapshot(1, [], [])
    f.step(diff(2, 2, [], [["5.0", "0.00000000"]]))
    assert f.book() == {"synchronised": True, "bids": [], "asks": []}
    f.step(diff(3, 3, [["4.0", "1.00000000"]], []))
    f.step(diff(4, 4, [["4.0", "0.00000000"]], []))
    assert f.book() == {"synchronised": True, "bids": [], "asks": []}


def test_failed_snapshot_fetch_desyncs_and_reconnects() -> None:
    f = Feed()
    f.step(diff(1, 1))
    out = f.step(RestAnswer("BTCUSDT", PATH, None, "HTTP 429"))
    assert kinds(out) == [Desync, Reconnect]
    assert not f.tr.synchronised()
    out = Feed()
    out.step(diff(1, 1))
    assert kinds(out.step(RestAnswer("BTCUSDT", PATH, {"code": -1121, "msg": "Invalid symbol."}))) == [
        Desync,
        Reconnect,
    ]


def test_unrequested_snapshot_is_not_applied() -> None:
    f = synced()
    out = f.snapshot(50, [["1", "1"]], [])
    assert out == [] and f.tr.malformed == 1
    assert f.keeper.books["BTCUSDT"].sequence == 10


# --- trades, unknown and malformed frames ----------------------------------------


def test_trade_and_aggtrade_give_taker_side() -> None:
    f = Feed()
    trade = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 42, "p": "100.10", "q": "0.50", "T": 1700000000500, "m": True}
    agg = {"e": "aggTrade", "E": 1, "s": "BTCUSDT", "a": 7, "p": "100.20", "q": "1.00", "f": 1, "l": 2}
    agg |= {"T": 1700000001000, "m": False, "M": True}
    out = f.step({"stream": "btcusdt@trade", "data": trade}) + f.step({"stream": "btcusdt@aggTrade", "data": agg})
    assert out == [
        Trade("BTCUSDT", "sell", "100.10", "0.50", "42", 1700000000.5),
        Trade("BTCUSDT", "buy", "100.20", "1.00", "7", 1700000001.0),
    ]
    assert f.tr.trades == 2


def test_raw_stream_events_without_the_envelope() -> None:
    f = Feed()
    assert kinds(f.step(diff(1, 1)["data"])) == [Fetch]


def test_book_ticker_and_klines_are_ignored() -> None:
    f = synced()
    tick = {"u": 11, "s": "BTCUSDT", "b": "100.00", "B": "1.0", "a": "101.00", "A": "1.5"}
    assert f.step({"stream": "btcusdt@bookTicker", "data": tick}) == []
    assert f.step({"stream": "btcusdt@kline_1m", "data": {"e": "kline", "E": 1, "s": "BTCUSDT", "k": {}}}) == []
    assert f.tr.malformed == 0


def test_unknown_and_garbage_frames_are_counted_not_fatal() -> None:
    f = synced()
    assert f.step(b"not json") == []
    assert f.step({"stream": "x", "data": {"e": "mystery"}}) == []
    assert f.step({"stream": "x", "data": [1, 2]}) == []
    assert f.tr.malformed == 3 and f.tr.synchronised() and f.book()["synchronised"] is True


def test_malformed_diff_resyncs_that_market() -> None:
    f = synced()
    out = f.step({"stream": "btcusdt@depth@100ms", "data": {"e": "depthUpdate", "s": "BTCUSDT", "U": 11}})
    assert kinds(out) == [Desync, Fetch]
    assert f.tr.malformed == 1 and f.book()["synchronised"] is False


def test_malformed_diff_while_buffering_leaves_a_hole_the_join_catches() -> None:
    f = Feed()
    f.step(diff(5, 7))
    bad = diff(8, 8)
    bad["data"]["U"] = "8"
    assert f.step(bad) == [] and f.tr.malformed == 1  # already fetching: nothing more to do yet
    f.step(diff(9, 9))
    out = f.snapshot(7, SNAP_BIDS, SNAP_ASKS)
    assert kinds(out) == [Snapshot, Desync, Fetch]


def test_translate_never_raises_on_mangled_capture_frames() -> None:
    """Every recorded frame with each field in turn removed or given a wrong type."""
    state = scheme.initial_state([scheme.from_symbol(s) for s in ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR")])
    lines = capture("BINANCE.ws.1.0").read_text().splitlines()[1:40]
    fed = 0
    for line in lines:
        if not line.strip():
            continue
        frame = orjson.loads(line.partition(": ")[2])
        for key in list(frame["data"]):
            for value in (None, "x", [], {}, -1):
                data = dict(frame["data"])
                data[key] = value
                scheme.translate({"stream": frame["stream"], "data": data}, state)
                fed += 1
            data = dict(frame["data"])
            del data[key]
            scheme.translate({"stream": frame["stream"], "data": data}, state)
            fed += 1
    for odd in (RestAnswer("NKNUSDT", "/x", [1]), RestAnswer("NKNUSDT", "/x", {"lastUpdateId": "a"}), 5, None):
        scheme.translate(odd, state)
    assert fed > 1000


def test_diff_for_an_unsubscribed_market_is_malformed_only() -> None:
    f = synced()
    other = diff(1, 1)
    other["data"]["s"] = "ETHBTC"
    assert f.step(other) == [] and f.tr.malformed == 1


def test_server_shutdown_reconnects() -> None:
    f = synced()
    assert kinds(f.step({"stream": "x", "data": {"e": "serverShutdown", "E": 1}})) == [Reconnect]


# --- the real capture -------------------------------------------------------------


def test_capture_books_match_the_venues_book_ticker() -> None:
    """bookTicker is pushed on every change of the best bid or ask, stamped with
    the update id `u` after which it holds. So once a book has applied diffs up
    to update id L, the session's last bookTicker with u <= L describes the
    book's top at L (a top change in between would have its own ticker), price
    and size exactly. Tickers usually arrive before the 100ms diff batch that
    contains their update, so the comparison uses the whole session's tickers,
    and starts only once a ticker at or before L exists."""
    ws = capture("BINANCE.ws.1.0")
    tickers = book_tickers(ws)
    ids = {sym: [t["u"] for t in ticks] for sym, ticks in tickers.items()}
    compared: dict[str, int] = {}
    exact = 0
    seen: set[tuple[str, int]] = set()
    depth_frames: dict[str, int] = {}

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal exact
        if "@depth" in raw[:40]:
            sym = raw[11:].partition("@")[0].upper()
            depth_frames[sym] = depth_frames.get(sym, 0) + 1
        for sym, book in rp.keeper.books.items():
            assert not book.crossed(), sym
            if not book.synchronised or book.sequence is None or (sym, book.sequence) in seen:
                continue
            seen.add((sym, book.sequence))
            i = bisect.bisect_right(ids.get(sym, []), book.sequence) - 1
            if i < 0:
                continue
            tick = tickers[sym][i]
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            assert (bid[0], bid[1], ask[0], ask[1]) == (tick["b"], tick["B"], tick["a"], tick["A"]), (tick, bid, ask)
            compared[sym] = compared.get(sym, 0) + 1
            exact += tick["u"] == book.sequence

    replays, summary = replay(scheme, [ws, capture("BINANCE.http.0.0")], hook)
    assert summary.frames == 265 and summary.markets == 4 and summary.trades == 2
    assert summary.resyncs == 0 and summary.malformed == 0 and summary.reconnects_requested == 0
    assert depth_frames == {"NKNUSDT": 150, "BLZETH": 10, "LRCBTC": 15, "RUNEEUR": 2}
    # RUNEEUR had no bookTicker in the session: its evidence is continuity alone.
    assert compared == {"NKNUSDT": 143, "LRCBTC": 13, "BLZETH": 3}
    assert exact == 26
    (rp,) = replays
    finals = {sym: book.sequence for sym, book in rp.keeper.books.items() if book.synchronised}
    # Every diff joined its predecessor up to the last update id the session saw.
    assert finals == {"NKNUSDT": 499870179, "BLZETH": 281916638, "LRCBTC": 259345563, "RUNEEUR": 15602513}


def test_capture_with_a_lost_diff_is_detected(tmp_path: Path) -> None:
    """The same session with one NKNUSDT diff removed: the jump in update ids is
    caught, the book is marked not synchronised, and the refetch finds no
    recorded answer; the other markets are untouched."""
    ws = capture("BINANCE.ws.1.0")
    lines = ws.read_text().splitlines(keepends=True)
    victim = next(i for i, line in enumerate(lines) if '"U":499869800' in line)
    cut = tmp_path / "BINANCE.ws.1.0"
    cut.write_text("".join(lines[:victim] + lines[victim + 1 :]))
    replays, summary = replay(scheme, [cut, capture("BINANCE.http.0.0")])
    books = replays[0].keeper.books
    assert not books["NKNUSDT"].synchronised and "no recorded answer" in (books["NKNUSDT"].reason or "")
    assert all(books[s].synchronised for s in ("BLZETH", "LRCBTC", "RUNEEUR"))
    assert summary.resyncs == 2  # the jump, then the failed refetch
    assert summary.reconnects_requested == 1
