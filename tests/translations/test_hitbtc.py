"""HitBTC: hand-written frames for each rule (api/3 and api/2), then the real captures."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations import hitbtc
from translations.hitbtc import scheme
from translations.protocol import Desync, Malformed, MarketType, Reconnect, Send, Snapshot, Trade, Update
from translations.timeparse import iso_seconds

BTC = scheme.instrument("BTC", "USDT", MarketType.SPOT)


class Feed(SchemeHarness):
    def __init__(self) -> None:
        super().__init__(scheme, [BTC])

    __call__ = SchemeHarness.feed_with_sends  # book instructions and frames to send, in order


def snap(s: int, bids: list[list[str]], asks: list[list[str]], t: int = 1633806854624) -> dict[str, Any]:
    return {"ch": "orderbook/full", "snapshot": {"BTCUSDT": {"t": t, "s": s, "a": asks, "b": bids}}}


def upd(s: int, bids: list[list[str]], asks: list[list[str]], t: int = 1633806854817) -> dict[str, Any]:
    return {"ch": "orderbook/full", "update": {"BTCUSDT": {"t": t, "s": s, "a": asks, "b": bids}}}


SNAP = snap(10, [["100.10", "1.5"], ["100.00", "2"]], [["100.20", "2"], ["100.30", "1"]])


def test_subscribe_asks_for_the_full_book_and_trades_in_api3() -> None:
    frames = [orjson.loads(f) for f in scheme.subscribe_msg(scheme.initial_state([BTC]))]
    assert frames == [
        {"method": "subscribe", "ch": "orderbook/full", "params": {"symbols": ["BTCUSDT"]}, "id": 1},
        {"method": "subscribe", "ch": "trades", "params": {"symbols": ["BTCUSDT"]}, "id": 2},
    ]
    assert scheme.ws_url == "wss://api.hitbtc.com/api/3/ws/public"
    assert scheme.ping_msg(scheme.initial_state([BTC])) == []


def test_symbols_split_on_quotes_and_usd_is_tether() -> None:
    assert scheme.instrument("btc", "usdt", MarketType.SPOT).symbol == "BTCUSDT"
    assert scheme.instrument("BTC", "USDT", MarketType.PERP).symbol == "BTCUSDT_PERP"
    with pytest.raises(ValueError):
        scheme.instrument("BTC", "USD", MarketType.SPOT)  # the venue's USD is USDT
    with pytest.raises(ValueError):
        scheme.instrument("BTC", "USDT", MarketType.OPTION)
    pairs = {s: scheme.from_symbol(s).pair for s in ("DCRETH", "USDTUSDP", "BTCEOSDT", "EOSETH", "MTXUSD", "DGBTUSD")}
    assert pairs == {
        "DCRETH": "DCR-ETH",
        "USDTUSDP": "USDT-USDP",
        "BTCEOSDT": "BTC-EOSDT",
        "EOSETH": "EOS-ETH",
        "MTXUSD": "MTX-USDT",
        "DGBTUSD": "DGB-TUSD",
    }
    perp = scheme.from_symbol("BTCUSDT_PERP")
    assert (perp.pair, perp.market_type) == ("BTC-USDT", MarketType.PERP)
    with pytest.raises(ValueError):
        scheme.from_symbol("NOQUOTE")


def _venue_lists() -> list[tuple[str, str, str]]:
    """(symbol, base, quote) from the symbol lists both venues served."""
    rows: list[tuple[str, str, str]] = []
    for name in ("HITBTC.0", "FMFW.0"):
        with open(capture(name), encoding="utf-8") as fh:
            for line in fh:
                if "/public/symbol -> " not in line:
                    continue
                body = orjson.loads(line.split(": ", 1)[1])
                if isinstance(body, list):  # api/2
                    rows.extend((r["id"], r["baseCurrency"], r["quoteCurrency"]) for r in body)
                else:  # api/3: base is null for derivatives, which name an underlying
                    rows.extend(
                        (s, r["base_currency"] or r["underlying"], r["quote_currency"]) for s, r in body.items()
                    )
    return rows


def test_every_listed_symbol_splits_as_the_venue_says() -> None:
    rows = _venue_lists()
    assert len(rows) == 1242 + 424
    for symbol, base, quote in rows:
        inst = scheme.from_symbol(symbol)
        want = (hitbtc.ALIASES.get(base, base), hitbtc.ALIASES.get(quote, quote))
        assert (inst.base, inst.quote) == want, symbol


def test_instruments_from_subscribe_both_dialects() -> None:
    v3 = {"method": "subscribe", "ch": "orderbook/full", "params": {"symbols": ["BTCUSDT", "DCRETH"]}, "id": 1}
    assert [i.symbol for i in scheme.instruments_from_subscribe(v3)] == ["BTCUSDT", "DCRETH"]
    trades = {"method": "subscribe", "ch": "trades", "params": {"symbols": ["BTCUSDT"]}, "id": 1}
    assert scheme.instruments_from_subscribe(trades) == []
    v2 = {"method": "subscribeOrderbook", "params": {"symbol": "EURSUSD"}, "id": "x"}
    assert [i.pair for i in scheme.instruments_from_subscribe(v2)] == ["EURS-USDT"]
    assert scheme.instruments_from_subscribe({"method": "subscribeTrades", "params": {"symbol": "EURSUSD"}}) == []


def test_snapshot_then_updates_keep_exact_strings() -> None:
    feed = Feed()
    feed(SNAP, upd(11, [["100.10", "0"], ["100.05", "0.30000000"]], []), upd(12, [], [["100.20", "2.50"]]))
    assert [type(i) for i in feed.out] == [Snapshot, Update, Update]
    assert feed.book() == {
        "synchronised": True,
        "bids": [["100.05", "0.30000000"], ["100.00", "2"]],
        "asks": [["100.20", "2.50"], ["100.30", "1"]],
    }
    assert feed.keeper.books["BTCUSDT"].sequence == 12
    assert feed.keeper.books["BTCUSDT"].timestamp == 1633806854.817


def test_empty_sides_and_missing_sides() -> None:
    feed = Feed()
    feed(snap(1, [], []), {"ch": "orderbook/full", "update": {"BTCUSDT": {"t": 1, "s": 2, "a": [["5", "1"]]}}})
    assert feed.book() == {"synchronised": True, "bids": [], "asks": [["5", "1"]]}


def test_gap_clears_the_book_and_resubscribes_that_symbol() -> None:
    feed = Feed()
    feed(SNAP, upd(11, [["100.11", "1"]], []))
    got = feed(upd(13, [["100.12", "1"]], []))
    assert [type(i) for i in got] == [Desync, Send]
    assert "11 -> 13" in got[0].reason  # type: ignore[union-attr]
    frames = [orjson.loads(f) for f in got[1].frames]  # type: ignore[union-attr]
    assert frames[0] == {"method": "unsubscribe", "ch": "orderbook/full", "params": {"symbols": ["BTCUSDT"]}, "id": 102}
    assert frames[1]["method"] == "subscribe" and frames[1]["params"] == {"symbols": ["BTCUSDT"]}
    assert feed.book()["synchronised"] is False
    # changes still in flight are dropped quietly until the new snapshot
    assert feed(upd(14, [["1", "1"]], [])) == []
    feed({"result": {"ch": "orderbook/full", "subscriptions": ["BTCUSDT"]}, "id": 103})
    feed(snap(20, [["99", "1"]], [["101", "1"]]), upd(21, [], [["101", "0"]]))
    assert feed.book() == {"synchronised": True, "bids": [["99", "1"]], "asks": []}
    assert feed.tr.synchronised() and feed.work.reconnect is None


def test_duplicate_and_older_updates_are_dropped() -> None:
    feed = Feed()
    feed(SNAP, upd(11, [["100.11", "1"]], []))
    before = feed.book()
    assert feed(upd(11, [["100.11", "1"]], []), upd(9, [["100.10", "5"]], [])) == []
    assert feed.book() == before


def test_out_of_order_updates_are_a_gap() -> None:
    feed = Feed()
    feed(SNAP)
    got = feed(upd(12, [], []), upd(11, [], []))
    assert [type(i) for i in got] == [Desync, Send]
    assert feed.book()["synchronised"] is False


def test_update_before_snapshot_resubscribes() -> None:
    feed = Feed()
    got = feed(upd(5, [["1", "1"]], []))
    assert [type(i) for i in got] == [Desync, Send]


def test_snapshot_after_updates_replaces_the_book() -> None:
    feed = Feed()
    feed(SNAP, upd(11, [["100.11", "1"]], []), snap(30, [["50", "1"]], [["60", "2"]]), upd(31, [["51", "1"]], []))
    assert feed.book() == {"synchronised": True, "bids": [["51", "1"], ["50", "1"]], "asks": [["60", "2"]]}


def test_no_snapshot_after_resubscribing_gives_up_the_connection() -> None:
    feed = Feed()
    feed(SNAP, upd(13, [], []))
    for s in range(14, 14 + hitbtc.MAX_DROPPED):
        feed(upd(s, [], []))
    assert feed.work.reconnect is None
    feed(upd(5000, [], []))
    assert isinstance(feed.work.reconnect, Reconnect) and not feed.tr.synchronised()
    assert feed.work.reconnect.backoff  # the venue failed to resynchronise: no new connection at once


def test_trades_give_taker_side_and_ignore_history() -> None:
    feed = Feed()
    history = {"ch": "trades", "snapshot": {"BTCUSDT": [{"t": 1, "i": 1, "p": "1", "q": "1", "s": "buy"}]}}
    trade = {
        "ch": "trades",
        "update": {"BTCUSDT": [{"t": 1633806855208, "i": 1417984574, "p": "0.0008788", "q": "0.20", "s": "sell"}]},
    }
    got = feed(SNAP, history, trade)
    trades = [i for i in got if isinstance(i, Trade)]
    assert trades == [Trade("BTCUSDT", "sell", "0.0008788", "0.20", "1417984574", 1633806855.208)]
    # trades of markets not asked for are not ours
    assert feed({"ch": "trades", "update": {"ETHBTC": [{"t": 1, "i": 2, "p": "1", "q": "1", "s": "buy"}]}}) == []


def test_garbage_and_unknown_frames_are_counted_not_fatal() -> None:
    feed = Feed()
    feed(SNAP)
    feed(b"not json", {"ch": "mystery", "data": {}}, {"hello": 1})
    feed({"ch": "ticker/1s", "data": {"BTCUSDT": {"a": "1", "b": "1"}}}, {"ch": "candles/M1", "update": {}})
    assert feed.tr.malformed == 3 and feed.work.reconnect is None
    assert feed.book()["synchronised"] is True
    # a book frame that cannot be read may have lost a change: that market resyncs
    got = feed({"ch": "orderbook/full", "update": {"BTCUSDT": {"t": 1, "s": "12", "a": [], "b": []}}})
    assert [type(i) for i in got] == [Desync, Send]
    assert isinstance(feed.work.malformed[-1], Malformed)
    assert feed.book()["synchronised"] is False
    got = feed({"ch": "orderbook/full", "update": {"BTCUSDT": {"t": 1, "s": "12", "a": [], "b": []}}})
    assert got == []  # already resyncing: no second request


def test_a_level_the_book_cannot_read_renews_the_connection() -> None:
    feed = Feed()
    feed(SNAP)
    feed(upd(11, [["100.11"]], []))
    assert feed.book()["synchronised"] is False and feed.tr.malformed == 1
    assert isinstance(feed.work.reconnect, Reconnect) and "bad level" in feed.work.reconnect.reason


def test_venue_error_reconnects() -> None:
    feed = Feed()
    feed({"error": {"code": 2001, "message": "Symbol not found", "description": "ZZZ"}, "id": 1})
    assert isinstance(feed.work.reconnect, Reconnect) and not feed.tr.synchronised()


# --- api/2 -------------------------------------------------------------------


def v2(method: str, seq: int, bid: list[tuple[str, str]], ask: list[tuple[str, str]]) -> dict[str, Any]:
    def side(levels: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"price": p, "size": q} for p, q in levels]

    params = {"ask": side(ask), "bid": side(bid), "symbol": "BTCUSDT", "sequence": seq}
    params["timestamp"] = "2021-07-15T03:06:43.095Z"
    return {"jsonrpc": "2.0", "method": method, "params": params}


def test_legacy_book_and_gap_resubscribes_in_api2() -> None:
    feed = Feed()
    feed(
        v2("snapshotOrderbook", 7, [("1.0", "5")], [("2.0", "5")]),
        v2("updateOrderbook", 8, [("1.0", "0"), ("1.5", "1")], []),
    )
    assert feed.book() == {"synchronised": True, "bids": [["1.5", "1"]], "asks": [["2.0", "5"]]}
    assert feed.keeper.books["BTCUSDT"].timestamp == iso_seconds("2021-07-15T03:06:43.095Z")
    got = feed(v2("updateOrderbook", 10, [], []))
    assert [type(i) for i in got] == [Desync, Send]
    frames = [orjson.loads(f) for f in got[1].frames]  # type: ignore[union-attr]
    assert [f["method"] for f in frames] == ["unsubscribeOrderbook", "subscribeOrderbook"]
    assert frames[1]["params"] == {"symbol": "BTCUSDT"}


def test_legacy_trades() -> None:
    feed = Feed()
    data = {"id": 54469813, "price": "0.054670", "quantity": "0.183", "side": "buy"}
    data["timestamp"] = "2017-10-19T16:34:25.041Z"
    frame = {"jsonrpc": "2.0", "method": "updateTrades", "params": {"data": [data], "symbol": "BTCUSDT"}}
    snapshot = dict(frame, method="snapshotTrades")
    (trade,) = feed(snapshot, frame)
    assert trade == Trade("BTCUSDT", "buy", "0.054670", "0.183", "54469813", iso_seconds("2017-10-19T16:34:25.041Z"))


# --- the real captures -------------------------------------------------------


class TopEvidence:
    """The venue's own best bid/ask at venue time t, checked against our book
    as it stood once every change up to t was applied: that is the book just
    before the first change stamped after t (or the final book)."""

    def __init__(self) -> None:
        self.pending: dict[str, list[tuple[float, str, str]]] = {}
        self.top: dict[str, tuple[float, str, str]] = {}  # symbol -> (book time, bid, ask)
        self.checked = 0
        self.passed_by = 0  # reports of a moment our book had already moved past

    def report(self, symbol: str, t: float, bid: str, ask: str) -> None:
        top = self.top.get(symbol)
        if top is None or t < top[0]:
            self.passed_by += 1
            return
        self.pending.setdefault(symbol, []).append((t, bid, ask))

    def change(self, symbol: str, t: float, rp: Replay) -> None:
        """Call after our book applied a change stamped t."""
        top = self.top.get(symbol)
        waiting = self.pending.get(symbol)
        if top is not None and waiting:
            due = [w for w in waiting if w[0] < t]
            self.pending[symbol] = [w for w in waiting if w[0] >= t]
            for _, bid, ask in due:
                assert (top[1], top[2]) == (bid, ask), (symbol, top, bid, ask)
                self.checked += 1
        book = rp.keeper.books[symbol]
        best_bid, best_ask = book.best_bid(), book.best_ask()
        assert book.synchronised and best_bid is not None and best_ask is not None
        self.top[symbol] = (t, best_bid[0], best_ask[0])

    def finish(self) -> None:
        for symbol, waiting in self.pending.items():
            top = self.top[symbol]
            for _, bid, ask in waiting:
                assert (top[1], top[2]) == (bid, ask), (symbol, top, bid, ask)
                self.checked += 1


def test_fmfw_capture_api3_books_match_the_venues_ticker() -> None:
    """FMFW runs the HitBTC api/3 platform; its ticker/1s channel gives the
    best bid and ask with the venue time of that state."""
    evidence = TopEvidence()
    last_seq: dict[str, int] = {}

    def hook(_t: float, raw: str, rp: Replay) -> None:
        frame = orjson.loads(raw)
        if frame.get("ch") == "orderbook/full":
            for symbol, data in (frame.get("update") or {}).items():
                # every update continues its symbol's sequence, so nothing was lost
                assert data["s"] == last_seq[symbol] + 1
                last_seq[symbol] = data["s"]
                evidence.change(symbol, data["t"] / 1000.0, rp)
            for symbol, data in (frame.get("snapshot") or {}).items():
                last_seq[symbol] = data["s"]
                evidence.change(symbol, data["t"] / 1000.0, rp)
        elif frame.get("ch") == "ticker/1s":
            for symbol, tick in frame["data"].items():
                evidence.report(symbol, tick["t"] / 1000.0, tick["b"], tick["a"])

    replays, summary = replay(scheme, [capture("FMFW.ws.1.0")], hook)
    evidence.finish()
    # all 75 tickers: 65 compared, and the first of each market, sent on
    # subscribing, describe a moment before its book's snapshot
    assert (evidence.checked, evidence.passed_by) == (65, 10)
    assert summary.frames == 966 and summary.markets == 10 and summary.trades == 4
    assert summary.resyncs == 0 and summary.malformed == 0 and summary.reconnects_requested == 0
    (rp,) = replays
    assert set(last_seq) == set(rp.keeper.books)
    for symbol, book in rp.keeper.books.items():
        assert book.synchronised and not book.crossed()
        assert book.sequence == last_seq[symbol]
    assert len(rp.keeper.books["EOSUSDT"].asks) == 4152


def test_hitbtc_capture_api2_books_match_ticker_and_resent_snapshots() -> None:
    """The legacy session carries two kinds of venue evidence. Its ticker is
    pushed in the same stream right after the book change it reflects (its
    timestamp is when it was sent, not the book's time), so at each ticker
    our book's top must equal it. And the venue sent every book a second
    time, unasked, at the sequence our book had reached: the book built from
    the deltas must equal that snapshot exactly."""
    ticks = 0
    resent = 0
    before: dict[str, tuple[int | None, dict[str, object]]] = {}

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal ticks, resent
        frame = orjson.loads(raw)
        method = frame.get("method")
        if method in ("snapshotOrderbook", "updateOrderbook"):
            params = frame["params"]
            symbol = params["symbol"]
            book = rp.keeper.books[symbol]
            if method == "snapshotOrderbook" and symbol in before:
                seq, state = before[symbol]
                assert params["sequence"] == seq
                assert state == {
                    "synchronised": True,
                    "bids": [[lv["price"], lv["size"]] for lv in params["bid"]],
                    "asks": [[lv["price"], lv["size"]] for lv in params["ask"]],
                }
                resent += 1
            before[symbol] = (book.sequence, book.as_dict())
        elif method == "ticker":
            tick = frame["params"]
            book = rp.keeper.books[tick["symbol"]]
            assert book.synchronised  # every ticker came after its book's snapshot
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            assert (bid[0], ask[0]) == (tick["bid"], tick["ask"]), tick
            ticks += 1

    replays, summary = replay(scheme, [capture("HITBTC.ws.1.0")], hook)
    assert resent == 10
    assert ticks == 203
    assert summary.frames == 800 and summary.markets == 10 and summary.trades == 0
    assert summary.resyncs == 0 and summary.malformed == 0 and summary.reconnects_requested == 0
    for rp in replays:
        assert {i.pair for i in rp.translator.instruments} >= {"MTX-USDT", "EURS-USDT", "DNT-BTC"}
        for book in rp.keeper.books.values():
            assert book.synchronised and not book.crossed()
