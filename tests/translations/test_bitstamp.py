"""Bitstamp: hand-written frames for each rule, then the real capture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from level4.replay.replayer import Replay, load
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations.bitstamp import scheme
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

BTC = scheme.instrument("BTC", "USD", MarketType.SPOT)
ETH = scheme.instrument("ETH", "EUR", MarketType.SPOT)
PATH = "/api/v2/order_book/btcusd"
Levels = list[list[str]]
T0 = 1641343691_000000  # a microtimestamp


class Feed(SchemeHarness):
    def __init__(self) -> None:
        super().__init__(scheme, [BTC, ETH])

    def snapshot(
        self, mts: int, bids: list[list[str]], asks: list[list[str]], pair: str = "btcusd"
    ) -> list[Instruction]:
        body = {"timestamp": str(mts // 1_000_000), "microtimestamp": str(mts), "bids": bids, "asks": asks}
        return self.step(RestAnswer(pair, f"/api/v2/order_book/{pair}", body))


def ack(channel: str) -> dict[str, Any]:
    return {"event": "bts:subscription_succeeded", "channel": channel, "data": {}}


def diff(
    mts: int, bids: list[list[str]] | None = None, asks: list[list[str]] | None = None, pair: str = "btcusd"
) -> dict:
    data = {"timestamp": str(mts // 1_000_000), "microtimestamp": str(mts), "bids": bids or [], "asks": asks or []}
    return {"data": data, "channel": f"diff_order_book_{pair}", "event": "data"}


def kinds(instructions: list[Instruction]) -> list[type]:
    return [type(i) for i in instructions]


SNAP_BIDS = [["100.00", "1.00000000"], ["99.00", "2.00000000"]]
SNAP_ASKS = [["101.00", "1.50000000"], ["102.00", "3.00000000"]]


def synced(mts: int = T0 + 500) -> Feed:
    f = Feed()
    f.step(ack("diff_order_book_btcusd"))
    f.snapshot(mts, SNAP_BIDS, SNAP_ASKS)
    return f


# --- connection frames and names ------------------------------------------------


def test_subscribe_frames_name_diff_book_and_live_trades() -> None:
    frames = [orjson.loads(f) for f in scheme.subscribe_msg(scheme.initial_state([BTC, ETH]))]
    assert [f["data"]["channel"] for f in frames] == [
        "diff_order_book_btcusd",
        "diff_order_book_etheur",
        "live_trades_btcusd",
        "live_trades_etheur",
    ]
    assert all(f["event"] == "bts:subscribe" for f in frames)
    assert [i for f in frames for i in scheme.instruments_from_subscribe(f)] == [BTC, ETH]
    assert orjson.loads(scheme.ping_msg(scheme.initial_state([BTC]))[0]) == {"event": "bts:heartbeat"}
    assert (BTC.base, BTC.quote, BTC.symbol) == ("BTC", "USD", "btcusd")


def test_pair_split_agrees_with_the_venues_pair_list() -> None:
    line = capture("BITSTAMP.0").read_text().splitlines()[0]
    pairs = orjson.loads(line.partition(": ")[2])
    wrong = []
    for entry in pairs:
        ins = scheme.from_symbol(entry["url_symbol"])
        base, _, quote = entry["name"].partition("/")
        if (ins.base, ins.quote, ins.symbol) != (normalise(base), normalise(quote), entry["url_symbol"]):
            wrong.append(entry["url_symbol"])
    assert len(pairs) == 140 and wrong == []
    assert (scheme.from_symbol("usdtusd").base, scheme.from_symbol("btcusdt").quote) == ("USDT", "USDT")


def test_heartbeat_answer_is_quiet_and_reconnect_request_reconnects() -> None:
    f = synced()
    assert f.step({"event": "bts:heartbeat", "channel": "", "data": {"status": "success"}}) == []
    assert f.tr.malformed == 0
    assert kinds(f.step({"event": "bts:request_reconnect", "channel": "", "data": ""})) == [Reconnect]
    assert not f.tr.synchronised()


def test_venue_error_reconnects() -> None:
    f = Feed()
    out = f.step({"event": "bts:error", "channel": "", "data": {"code": None, "message": "Bad subscription string."}})
    # every book of the connection cleared; the new connection waits the backoff
    assert kinds(out) == [Desync, Desync, Reconnect] and f.tr.malformed == 1
    assert isinstance(out[-1], Reconnect) and out[-1].backoff and "Bad subscription string." in out[-1].reason


# --- the snapshot/diff join ----------------------------------------------------


def test_book_subscription_fetches_the_snapshot_and_trades_do_not() -> None:
    f = Feed()
    assert f.step(ack("live_trades_btcusd")) == []
    assert f.step(ack("diff_order_book_btcusd")) == [Fetch("btcusd", PATH)]
    assert f.step(diff(T0 + 1)) == []  # buffered, the fetch is already out


def test_diff_before_any_acknowledgement_fetches_too() -> None:
    f = Feed()
    assert f.step(diff(T0)) == [Fetch("btcusd", PATH)]


def test_snapshot_drops_older_diffs_and_applies_newer_ones_exactly() -> None:
    f = Feed()
    f.step(ack("diff_order_book_btcusd"))
    f.step(diff(T0 + 100, [["100.00", "9.00000000"]]))  # in the snapshot already
    f.step(diff(T0 + 600, [["100.00", "0.00000000"]], [["101.00", "0.25000000"]]))
    out = f.snapshot(T0 + 500, SNAP_BIDS, SNAP_ASKS)
    assert kinds(out) == [Snapshot, Update]
    assert out[0].timestamp == (T0 + 500) / 1e6 and out[1].timestamp == (T0 + 600) / 1e6
    assert f.step(diff(T0 + 700, [["98.50", "4.00000000"]])) != []
    assert f.book() == {
        "synchronised": True,
        "bids": [["99.00", "2.00000000"], ["98.50", "4.00000000"]],
        "asks": [["101.00", "0.25000000"], ["102.00", "3.00000000"]],
    }


def test_diffs_older_than_the_snapshot_arriving_after_it_are_dropped() -> None:
    """In the recorded session the snapshots were fetched while diffs queued up
    unread; they arrive after the snapshot and must not be applied."""
    f = synced(T0 + 500)
    assert f.step(diff(T0 + 400, [["100.00", "0.00000000"]])) == []
    assert f.step(diff(T0 + 500, [["100.00", "0.00000000"]])) == []
    assert kinds(f.step(diff(T0 + 501, [["100.00", "5.00000000"]]))) == [Update]
    assert f.book()["bids"][0] == ["100.00", "5.00000000"]


def test_snapshot_older_than_every_buffered_diff_is_fetched_again() -> None:
    f = Feed()
    f.step(ack("diff_order_book_btcusd"))
    f.step(diff(T0 + 900))
    out = f.snapshot(T0 + 500, SNAP_BIDS, SNAP_ASKS)  # what changed between 500 and 900?
    assert out == [Fetch("btcusd", PATH)]
    assert not f.keeper.books["btcusd"].synchronised
    assert kinds(f.snapshot(T0 + 950, SNAP_BIDS, SNAP_ASKS)) == [Snapshot]


def test_snapshots_that_never_join_give_up_with_a_reconnect() -> None:
    f = Feed()
    f.step(ack("diff_order_book_btcusd"))
    f.step(diff(T0 + 900))
    out: list[Instruction] = []
    for _ in range(MAX_FETCHES):
        out = f.snapshot(T0 + 500, SNAP_BIDS, SNAP_ASKS)
    assert kinds(out) == [Desync, Reconnect]
    assert f.step(diff(T0 + 901)) == []  # that market waits for the reconnect


def test_microtimestamp_running_backwards_is_a_desync_and_a_new_fetch() -> None:
    f = synced(T0 + 500)
    f.step(diff(T0 + 800, [["99.00", "0.00000000"]]))
    out = f.step(diff(T0 + 700, [["99.00", "6.00000000"]]))
    assert kinds(out) == [Desync, Fetch]
    assert "ran backwards" in out[0].reason and f.book()["synchronised"] is False
    f.step(diff(T0 + 850, [["96.00", "1.00000000"]]))  # the new snapshot has this one
    f.step(diff(T0 + 1000, [["97.00", "1.00000000"]]))
    out = f.snapshot(T0 + 900, [["98.00", "1.00000000"]], [])
    assert kinds(out) == [Snapshot, Update]
    assert f.book() == {"synchronised": True, "bids": [["98.00", "1.00000000"], ["97.00", "1.00000000"]], "asks": []}


def test_repeated_diff_is_harmless() -> None:
    f = synced(T0 + 500)
    f.step(diff(T0 + 600, [["100.00", "7.00000000"]]))
    assert kinds(f.step(diff(T0 + 600, [["100.00", "7.00000000"]]))) == [Update]
    assert f.book()["bids"][0] == ["100.00", "7.00000000"] and f.book()["synchronised"] is True


def test_timestamp_disagreeing_with_microtimestamp_is_malformed_and_resyncs() -> None:
    f = synced()
    bad = diff(T0 + 600)
    bad["data"]["timestamp"] = "1"
    assert kinds(f.step(bad)) == [Desync, Fetch]
    assert f.tr.malformed == 1


def test_empty_sides_and_deletes_of_absent_levels() -> None:
    f = Feed()
    f.step(ack("diff_order_book_btcusd"))
    f.snapshot(T0, [], [])
    f.step(diff(T0 + 1, [], [["5.0", "0.00000000"]]))
    f.step(diff(T0 + 2, [["4.0", "1.00000000"]], []))
    f.step(diff(T0 + 3, [["4.0", "0.00000000"]], []))
    assert f.book() == {"synchronised": True, "bids": [], "asks": []}


def test_failed_snapshot_desyncs_that_market_only() -> None:
    f = Feed()
    f.step(ack("diff_order_book_btcusd"))
    f.step(ack("diff_order_book_etheur"))
    f.snapshot(T0, SNAP_BIDS, SNAP_ASKS, pair="etheur")
    out = f.step(RestAnswer("btcusd", PATH, None, "HTTP 404"))
    assert kinds(out) == [Desync, Reconnect] and not f.tr.synchronised()
    assert f.step(diff(T0 + 5)) == []  # no fetch storm while the reconnect is pending
    assert kinds(f.step(diff(T0 + 5, [["1.0", "1.0"]], pair="etheur"))) == [Update]
    assert f.keeper.books["etheur"].synchronised


def test_unrequested_snapshot_is_not_applied() -> None:
    f = synced()
    assert f.snapshot(T0 + 9000, [], []) == [] and f.tr.malformed == 1
    assert f.book()["bids"] == SNAP_BIDS


# --- trades, unknown and malformed frames ----------------------------------------


def trade(trade_id: int, kind: int, price: str = "3805.44", amount: str = "0.07920000") -> dict[str, Any]:
    data = {"id": trade_id, "timestamp": "1641343699", "amount": float(amount), "amount_str": amount}
    data |= {"price": float(price), "price_str": price, "type": kind, "microtimestamp": "1641343699596000"}
    return {"data": data, "channel": "live_trades_btcusd", "event": "trade"}


def test_trades_give_taker_side_exact_strings_and_venue_time() -> None:
    f = Feed()
    out = f.step(trade(5, 0)) + f.step(trade(6, 1, "3802.90", "3.23948640"))
    assert out == [
        Trade("btcusd", "buy", "3805.44", "0.07920000", "5", 1641343699.596),
        Trade("btcusd", "sell", "3802.90", "3.23948640", "6", 1641343699.596),
    ]


def test_trade_ids_running_backwards_are_reported() -> None:
    f = Feed()
    f.step(trade(10, 0))
    out = f.step(trade(9, 1))
    assert kinds(out) == [Trade] and f.tr.malformed == 1


def test_unknown_trade_type_is_malformed() -> None:
    f = Feed()
    assert f.step(trade(1, 7)) == [] and f.tr.malformed == 1


def test_unknown_and_garbage_frames_are_counted_not_fatal() -> None:
    f = synced()
    assert f.step(b"not json") == []
    assert f.step({"event": "mystery", "channel": "x"}) == []
    assert f.step({"event": "data", "channel": "order_book_btcusd", "data": {}}) == []
    assert f.step({"event": "data", "channel": "diff_order_book_ltcusd", "data": {}}) == []
    assert f.tr.malformed == 4 and f.tr.synchronised() and f.book()["synchronised"] is True


def test_malformed_diff_resyncs_that_market() -> None:
    f = synced()
    out = f.step({"event": "data", "channel": "diff_order_book_btcusd", "data": {"bids": []}})
    assert kinds(out) == [Desync, Fetch]
    assert f.tr.malformed == 1 and f.book()["synchronised"] is False


def test_translate_never_raises_on_mangled_capture_frames() -> None:
    """Every recorded frame of a stretch, each field in turn removed or mistyped."""
    lines = capture("BITSTAMP.ws.1.0").read_text().splitlines()[40:140]
    state = scheme.initial_state([scheme.from_symbol(p) for p in ("ethusd", "bateur", "adaeur", "batbtc")])
    fed = 0
    for line in lines:
        frame = orjson.loads(line.partition(": ")[2])
        for key in [*frame, *(f"data.{k}" for k in frame.get("data") or {})]:
            for value in (None, "x", [], {}, -1, "__delete__"):
                mangled = dict(frame)
                mangled["data"] = dict(frame["data"])
                target, name = (mangled["data"], key[5:]) if key.startswith("data.") else (mangled, key)
                if value == "__delete__":
                    del target[name]
                else:
                    target[name] = value
                scheme.translate(mangled, state)
                fed += 1
    for odd in (RestAnswer("ethusd", "/x", [1]), RestAnswer("ethusd", "/x", {"microtimestamp": "a"}), 5, None):
        scheme.translate(odd, state)
    assert fed > 3000


# --- the real capture -------------------------------------------------------------


def run_capture(ws: Path) -> tuple[Replay, dict[str, int]]:
    """Replay the session frame by frame. Before each diff the book will apply,
    every level it deletes must be in the book: Bitstamp only reports deleting
    levels that exist, so a delete of an absent level means the book missed a
    change. Books must never be crossed."""
    session = load(scheme, [ws, capture("BITSTAMP.http.0.0")])
    (conn,) = session.connections
    rp = Replay(scheme, conn, session.rest)
    seen = {"applied": 0, "dropped": 0, "deletes": 0, "absent": 0, "frames": 0}
    for received, raw in conn.frames:
        frame = orjson.loads(raw)
        channel = frame.get("channel", "")
        if frame.get("event") == "data" and channel.startswith("diff_order_book_"):
            pair = channel[16:]
            market = rp.translator.state.markets[pair]
            book = rp.keeper.books[pair]
            data = frame["data"]
            if market.synced and int(data["microtimestamp"]) > market.snapshot_mts:
                seen["applied"] += 1
                for held, name in ((book.bids_levels(), "bids"), (book.asks_levels(), "asks")):
                    prices = {float(lv[0]) for lv in held}
                    for price, size in data[name]:
                        if float(size) == 0.0:
                            seen["deletes"] += 1
                            seen["absent"] += float(price) not in prices
            else:
                seen["dropped"] += 1
        rp.feed(received, raw)
        seen["frames"] += 1
        for pair, book in rp.keeper.books.items():
            assert not book.crossed(), (pair, received)
    rp.finish()
    return rp, seen


def test_capture_books_stay_consistent_with_the_venues_own_deletes() -> None:
    rp, seen = run_capture(capture("BITSTAMP.ws.1.0"))
    assert seen == {"applied": 615, "dropped": 102, "deletes": 736, "absent": 0, "frames": 747}
    tr = rp.translator
    assert (tr.frames, tr.trades, tr.resyncs, tr.malformed, rp.reconnects_requested) == (747, 10, 0, 0, 0)
    books = rp.keeper.books
    assert len(books) == 10 and all(book.synchronised for book in books.values())
    # sgbeur never changed during the session: its book is its snapshot.
    assert books["sgbeur"].best_bid() == ("0.14695", "4567.41344936")
    trades = [e for e in rp.events if isinstance(e, Trade)]
    assert {t.symbol for t in trades} == {"ethusd"} and [t.side for t in trades].count("buy") == 1


def test_capture_evidence_catches_a_lost_diff(tmp_path: Path) -> None:
    """The same session with one ethusd diff removed: Bitstamp's diffs carry no
    sequence, so the scheme cannot see the loss, but the venue's later delete
    of the level that diff had added finds it absent. The delete check above
    therefore has teeth."""
    lines = capture("BITSTAMP.ws.1.0").read_text().splitlines(keepends=True)
    victim = next(i for i, line in enumerate(lines) if '"microtimestamp":"1641343720828107"' in line)
    cut = tmp_path / "BITSTAMP.ws.1.0"
    cut.write_text("".join(lines[:victim] + lines[victim + 1 :]))
    _, seen = run_capture(cut)
    assert seen["absent"] > 0
