"""BitMEX: hand-written frames for each rule, then the real capture."""

from __future__ import annotations

from typing import Any

import orjson

from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations.bitmex import scheme
from translations.numbers import to_decimal_str
from translations.protocol import Desync, Instruction, Instrument, MarketType, Snapshot, Trade, Update
from translations.timeparse import iso_seconds

XBT = scheme.instrument("BTC", "USD", MarketType.PERP)
SOL = scheme.instrument("SOL", "USDT", MarketType.PERP)


class Feed(SchemeHarness):
    def __init__(self, *instruments: Instrument) -> None:
        super().__init__(scheme, instruments or [XBT])


def row(rid: int, side: str, size: int | None = None, price: float | None = None, sym: str = "XBTUSD") -> dict:
    r: dict[str, Any] = {"symbol": sym, "id": rid, "side": side}
    if size is not None:
        r["size"] = size
    if price is not None:
        r["price"] = price
    return r


def partial(*rows: dict, sym: str = "XBTUSD") -> dict:
    return {
        "table": "orderBookL2",
        "action": "partial",
        "keys": ["symbol", "id", "side"],
        "filter": {"symbol": sym},
        "data": list(rows),
    }


def action(kind: str, *rows: dict) -> dict:
    return {"table": "orderBookL2", "action": kind, "data": list(rows)}


PARTIAL = partial(row(1, "Sell", 300, 32187.5), row(2, "Sell", 100, 32187), row(3, "Buy", 500, 32186.5))


def test_subscribe_asks_for_book_and_trades() -> None:
    (frame,) = scheme.subscribe_msg(scheme.initial_state([XBT, SOL]))
    assert orjson.loads(frame) == {
        "op": "subscribe",
        "args": ["orderBookL2:XBTUSD", "orderBookL2:SOLUSDT", "trade:XBTUSD", "trade:SOLUSDT"],
    }
    assert scheme.ws_url == "wss://ws.bitmex.com/realtime"
    assert scheme.ping_msg(scheme.initial_state([XBT])) == ["ping"]


def test_symbols_and_market_types() -> None:
    assert Instrument("BTC", "USD", MarketType.PERP, "XBTUSD") == XBT
    assert XBT.tag("BITMEX") == "BITMEX.PERP:BTC-USD"
    assert SOL.symbol == "SOLUSDT"
    assert scheme.instrument("BTC", "USDT", MarketType.SPOT).symbol == "XBT_USDT"
    assert scheme.from_symbol("XBT_USDT") == Instrument("BTC", "USDT", MarketType.SPOT, "XBT_USDT")
    assert scheme.from_symbol("ETHUSD") == Instrument("ETH", "USD", MarketType.PERP, "ETHUSD")
    assert scheme.from_symbol("XRPU21") == Instrument("XRP", "BTC", MarketType.FUTURE, "XRPU21")
    assert scheme.from_symbol("TRXU21").tag("BITMEX") == "BITMEX.FUTURE:TRXU21"
    assert scheme.from_symbol("XBTZ21") == Instrument("BTC", "USD", MarketType.FUTURE, "XBTZ21")
    assert scheme.from_symbol("ETHUSDU21") == Instrument("ETH", "USD", MarketType.FUTURE, "ETHUSDU21")
    assert scheme.from_symbol("XBTEURU21") == Instrument("BTC", "EUR", MarketType.FUTURE, "XBTEURU21")
    for bad in ("", "XBT", "_USDT"):
        try:
            scheme.from_symbol(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_markets_from_recorded_subscriptions_and_urls() -> None:
    frame = {"op": "subscribe", "args": ["orderBookL2:XRPU21", "orderBookL2:XBTUSD", "quote:XBTUSD"]}
    assert [i.symbol for i in scheme.instruments_from_subscribe(frame)] == ["XRPU21", "XBTUSD"]
    assert scheme.instruments_from_subscribe({"op": "subscribe", "args": ["trade:XBTUSD"]}) == []
    url = "wss://ws.bitmex.com/realtime?subscribe=instrument,orderBookL2_25:XBTUSD,trade:XBTUSD"
    assert scheme.instruments_from_url(url) == [XBT]


def test_partial_then_rows_without_price_use_the_id_map() -> None:
    feed = Feed()
    out = feed(PARTIAL)
    assert isinstance(out[0], Snapshot)
    assert feed.book() == {
        "synchronised": True,
        "bids": [["32186.5", "500"]],
        "asks": [["32187", "100"], ["32187.5", "300"]],
    }
    # 2021 dialect: update and delete rows carry no price.
    feed(action("update", row(3, "Buy", 700)), action("delete", row(2, "Sell")))
    feed(action("insert", row(4, "Buy", 20, 32186), row(5, "Sell", 1, 32190)))
    assert feed.book() == {
        "synchronised": True,
        "bids": [["32186.5", "700"], ["32186", "20"]],
        "asks": [["32187.5", "300"], ["32190", "1"]],
    }
    assert feed.tr.resyncs == 0 and feed.sent == []


def test_prices_sent_as_json_numbers_come_out_as_exact_decimals() -> None:
    feed = Feed(scheme.from_symbol("TRXU21"))
    feed(partial(row(1, "Buy", 14700, 0.0000016425, "TRXU21"), row(2, "Sell", 700, 1e-08, "TRXU21"), sym="TRXU21"))
    assert feed.book("TRXU21")["bids"] == [["0.0000016425", "14700"]]
    assert feed.book("TRXU21")["asks"] == [["0.00000001", "700"]]


def test_current_rows_carry_price_and_time() -> None:
    feed = Feed()
    feed(PARTIAL)
    stamp = "2023-05-19T08:51:44.911Z"
    upd = action("update", {**row(3, "Buy", 42800, 32186.5), "timestamp": stamp})
    (ins,) = feed(upd)
    assert isinstance(ins, Update) and ins.timestamp == iso_seconds(stamp)
    assert feed.book()["bids"] == [["32186.5", "42800"]]


def expect_resync(feed: Feed, out: list[Instruction], symbol: str = "XBTUSD", table: str = "orderBookL2") -> None:
    """A Desync for the market, and its book topic resubscribed (not the connection dropped)."""
    assert [i.symbol for i in out if isinstance(i, Desync)] == [symbol], out
    assert feed.work.reconnect is None
    send = feed.sent[-1]
    topic = f"{table}:{symbol}"
    assert [orjson.loads(f) for f in send.frames] == [
        {"op": "unsubscribe", "args": [topic]},
        {"op": "subscribe", "args": [topic]},
    ]


def test_update_for_unknown_id_resubscribes_that_market() -> None:
    feed = Feed()
    feed(PARTIAL)
    out = feed(action("update", row(99, "Buy", 5)))
    expect_resync(feed, out)
    assert feed.book() == {"synchronised": False, "bids": [], "asks": []}
    assert feed.tr.synchronised()  # the connection stays: only that market resyncs
    # rows in flight before the fresh partial are dropped, not a second resync
    assert feed(action("insert", row(7, "Buy", 1, 32180))) == []
    assert feed(action("update", row(3, "Buy", 5))) == []
    feed(partial(row(8, "Buy", 9, 32181)))
    assert feed.book() == {"synchronised": True, "bids": [["32181", "9"]], "asks": []}
    assert feed.tr.resyncs == 1


def test_delete_for_unknown_id_is_a_loss_of_sync() -> None:
    feed = Feed()
    feed(PARTIAL)
    expect_resync(feed, feed(action("delete", row(42, "Sell"))))
    assert not feed.keeper.books["XBTUSD"].synchronised


def test_duplicate_insert_is_a_loss_of_sync() -> None:
    feed = Feed()
    feed(PARTIAL)
    feed(action("insert", row(4, "Buy", 20, 32186)))
    expect_resync(feed, feed(action("insert", row(4, "Buy", 20, 32186))))


def test_row_disagreeing_with_its_level_is_a_loss_of_sync() -> None:
    feed = Feed()
    feed(PARTIAL)
    expect_resync(feed, feed(action("update", row(3, "Buy", 1, 32100))))  # id 3 is at 32186.5
    feed = Feed()
    feed(PARTIAL)
    expect_resync(feed, feed(action("delete", row(3, "Sell"))))  # id 3 is a bid


def test_rows_before_the_partial_are_dropped() -> None:
    # The venue may send rows before a new subscription's partial; the partial holds them.
    feed = Feed()
    assert feed(action("insert", row(1, "Buy", 1, 1.5)), action("update", row(1, "Buy", 2))) == []
    assert feed.tr.resyncs == 0 and not feed.keeper.books["XBTUSD"].synchronised
    feed(PARTIAL)
    assert feed.keeper.books["XBTUSD"].synchronised


def test_empty_partial_and_deleting_to_an_empty_side() -> None:
    feed = Feed()
    feed(partial())
    assert feed.book() == {"synchronised": True, "bids": [], "asks": []}
    feed(action("insert", row(1, "Buy", 3, 100)), action("delete", row(1, "Buy")))
    assert feed.book() == {"synchronised": True, "bids": [], "asks": []}


def test_one_frame_two_markets_only_the_broken_one_resyncs() -> None:
    feed = Feed(XBT, SOL)
    feed(PARTIAL, partial(row(10, "Buy", 5, 27.47, "SOLUSDT"), sym="SOLUSDT"))
    out = feed(action("update", row(10, "Buy", 6, sym="SOLUSDT"), row(77, "Sell", 1)))
    expect_resync(feed, out, "XBTUSD")
    assert feed.book("SOLUSDT") == {"synchronised": True, "bids": [["27.47", "6"]], "asks": []}
    assert not feed.keeper.books["XBTUSD"].synchronised


def test_trades_name_the_taker_and_skip_history() -> None:
    feed = Feed()
    hist = {"table": "trade", "action": "partial", "data": [{"symbol": "XBTUSD", "side": "Sell", "price": 1}]}
    trade = {
        "table": "trade",
        "action": "insert",
        "data": [
            {
                "timestamp": "2021-07-22T22:36:10.014Z",
                "symbol": "XBTUSD",
                "side": "Sell",
                "size": 1200,
                "price": 32186.5,
                "trdMatchID": "39744121-c20e-44ba-8cc8-a6b8cdf72885",
            },
            {"timestamp": "2021-07-22T22:36:10.014Z", "symbol": "ETHUSD", "side": "Buy", "size": 1, "price": 2},
        ],
    }
    out = feed(hist, trade)
    assert len(out) == 1 and isinstance(out[0], Trade)
    t = out[0]
    assert (t.side, t.price, t.size, t.trade_id) == ("sell", "32186.5", "1200", "39744121-c20e-44ba-8cc8-a6b8cdf72885")
    assert t.timestamp == iso_seconds("2021-07-22T22:36:10.014Z")


def test_keepalive_acks_and_unknown_frames() -> None:
    feed = Feed()
    welcome = {"info": "Welcome to the BitMEX Realtime API.", "version": "2021-07-14T01:26:29.000Z"}
    ack = {"success": True, "subscribe": "orderBookL2:XBTUSD", "request": {"op": "subscribe"}}
    quote = {"table": "quote", "action": "insert", "data": []}
    assert feed(welcome, ack, quote, "pong") == []
    assert feed.tr.malformed == 0
    feed("ping")
    assert feed.sent[-1].frames == ["pong"]
    feed("hello", {"mystery": 1}, {"table": "mystery", "action": "insert", "data": []})
    assert feed.tr.malformed == 3 and feed.work.reconnect is None


def test_malformed_book_row_resyncs_and_subscribe_errors_reconnect() -> None:
    feed = Feed()
    feed(PARTIAL)
    out = feed(action("insert", {"symbol": "XBTUSD", "id": 5, "side": "Up", "size": 1, "price": 2}))
    assert feed.tr.malformed == 1
    expect_resync(feed, out)
    err = {"status": 400, "error": "Unknown table: orderBookL3", "meta": {}, "request": {"op": "subscribe"}}
    feed(err)
    assert feed.work.reconnect is not None and not feed.tr.synchronised()


def test_capture_books_match_the_venues_quotes() -> None:
    """The session also subscribed to `quote`, the venue's own top of book
    (price and size). Each quote frame's last row is the top at the moment it
    was sent, so the book must equal it exactly when the frame arrives."""
    compared: dict[str, int] = {}
    book_frames = 0

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal book_frames
        if raw.startswith('{"table":"orderBookL2"'):
            book_frames += 1
            for book in rp.keeper.books.values():
                assert not book.crossed(), book.symbol
            return
        if not raw.startswith('{"table":"quote","action":"insert"'):
            return
        q = orjson.loads(raw)["data"][-1]
        book = rp.keeper.books[q["symbol"]]
        assert book.synchronised
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None and ask is not None
        assert (bid[0], bid[1]) == (to_decimal_str(q["bidPrice"]), to_decimal_str(q["bidSize"])), q
        assert (ask[0], ask[1]) == (to_decimal_str(q["askPrice"]), to_decimal_str(q["askSize"])), q
        compared[q["symbol"]] = compared.get(q["symbol"], 0) + 1

    replays, summary = replay(scheme, [capture("BITMEX.ws.1.0")], hook)
    assert summary.frames == 2120 and book_frames == 1979
    assert sum(compared.values()) == 83 and compared["XBTUSD"] == 28
    assert len(compared) == 9  # every market but TRXU21, whose top did not move
    assert summary.markets == 10 and summary.trades == 17
    # No id ever went missing: the session kept sync throughout.
    assert summary.resyncs == 0 and summary.malformed == 0 and summary.reconnects_requested == 0
    books = {s: b for rp in replays for s, b in rp.keeper.books.items()}
    assert len(books["XBTUSD"].bids) == 5557 and len(books["XBTUSD"].asks) == 3795
    for book in books.values():
        assert book.synchronised and not book.crossed()
    types = {i.symbol: i.market_type for rp in replays for i in rp.translator.instruments}
    assert types["XRPU21"] is MarketType.FUTURE and types["TRXU21"] is MarketType.FUTURE
    assert types["XBTUSD"] is MarketType.PERP and types["MATICUSDT"] is MarketType.PERP
