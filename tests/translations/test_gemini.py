"""Gemini: hand-written frames for each rule, then the real capture."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from level4.feed.bookkeeper import BookKeeper
from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.harness import remedied
from translations.gemini import scheme
from translations.protocol import Desync, Instruction, Malformed, MarketType, Reconnect, Snapshot, Trade, Update

BTC = scheme.instrument("BTC", "USD", MarketType.SPOT)


class Session:
    def __init__(self) -> None:
        self.state = scheme.initial_state([BTC])
        self.keeper = BookKeeper(["BTCUSD"])

    def feed(self, frame: Any) -> list[Instruction]:
        out, self.state = scheme.translate(frame, self.state)
        out = remedied(scheme, self.state, out)
        self.keeper.apply(out, [], [])
        return out

    @property
    def book(self) -> Any:
        return self.keeper.books["BTCUSD"]


HISTORY = [
    {"type": "trade", "symbol": "BTCUSD", "event_id": 100, "timestamp": 1624493651491, "price": "9122.04",
     "quantity": "0.0073173", "side": "sell"},
    {"type": "trade", "symbol": "BTCUSD", "event_id": 90, "timestamp": 1624493650000, "price": "9122.07",
     "quantity": "1", "side": "buy"},
]  # fmt: skip
FULL = {
    "type": "l2_updates",
    "symbol": "BTCUSD",
    "changes": [["buy", "9122.04", "0.00121425"], ["buy", "9122.00", "2"], ["sell", "9122.07", "0.98942292"]],
    "trades": HISTORY,
    "auction_events": [],
}


def trade(event_id: int, side: str = "buy", price: str = "9122.07", quantity: str = "0.5") -> dict[str, Any]:
    return {
        "type": "trade",
        "symbol": "BTCUSD",
        "event_id": event_id,
        "timestamp": 1624493670759,
        "price": price,
        "quantity": quantity,
        "side": side,
    }


def test_subscribe_frame_and_symbols() -> None:
    (frame,) = scheme.subscribe_msg(scheme.initial_state([BTC, scheme.instrument("ETH", "GBP", MarketType.SPOT)]))
    msg = orjson.loads(frame)
    assert msg == {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": ["BTCUSD", "ETHGBP"]}]}
    assert [i.pair for i in scheme.instruments_from_subscribe(msg)] == ["BTC-USD", "ETH-GBP"]
    assert scheme.ws_url == "wss://api.gemini.com/v2/marketdata"
    assert scheme.from_symbol("BTCGUSD").pair == "BTC-GUSD"
    assert scheme.from_symbol("LINKETH").pair == "LINK-ETH"
    assert scheme.from_symbol("ANKRUSD").pair == "ANKR-USD"
    perp = scheme.from_symbol("BTCGUSDPERP")
    assert (perp.pair, perp.market_type) == ("BTC-GUSD", MarketType.PERP)
    assert scheme.instrument("BTC", "GUSD", MarketType.PERP) == perp
    with pytest.raises(ValueError):
        scheme.from_symbol("BTCXYZ")


def test_first_frame_is_the_whole_book_then_changes_with_exact_strings() -> None:
    s = Session()
    out = s.feed(FULL)
    assert [type(i) for i in out] == [Snapshot]  # the trades that came with it are history
    out = s.feed(
        {"type": "l2_updates", "symbol": "BTCUSD", "changes": [["buy", "9122.04", "0"], ["sell", "9122.10", "3.50"]]}
    )
    assert isinstance(out[0], Update)
    assert s.book.as_dict() == {
        "synchronised": True,
        "bids": [["9122.00", "2"]],
        "asks": [["9122.07", "0.98942292"], ["9122.10", "3.50"]],
    }


def test_empty_side_and_removing_a_level_never_seen() -> None:
    s = Session()
    s.feed({"type": "l2_updates", "symbol": "BTCUSD", "changes": [["buy", "1.5", "2"]], "trades": []})
    assert s.book.as_dict() == {"synchronised": True, "bids": [["1.5", "2"]], "asks": []}
    # Gemini reports a level born and gone within one batch as a removal: harmless
    out = s.feed({"type": "l2_updates", "symbol": "BTCUSD", "changes": [["sell", "2", "0"]]})
    assert isinstance(out[0], Update) and s.book.synchronised and s.book.as_dict()["asks"] == []


def test_a_full_book_after_changes_replaces_the_book() -> None:
    s = Session()
    s.feed(FULL)
    s.feed({"type": "l2_updates", "symbol": "BTCUSD", "changes": [["buy", "9000", "1"]]})
    out = s.feed({"type": "l2_updates", "symbol": "BTCUSD", "changes": [["sell", "9500", "1"]], "trades": []})
    assert isinstance(out[0], Snapshot)
    assert s.book.as_dict() == {"synchronised": True, "bids": [], "asks": [["9500", "1"]]}


def test_trades_name_the_taker_and_repeats_are_dropped() -> None:
    s = Session()
    s.feed(FULL)
    assert s.feed(trade(100)) == []  # already in the history sent with the book
    assert s.feed(trade(95)) == []
    out = s.feed(trade(101, "sell", "9122.04", "0.00121425"))
    assert out == [Trade("BTCUSD", "sell", "9122.04", "0.00121425", "101", 1624493670.759)]
    assert s.feed(trade(101, "sell", "9122.04", "0.00121425")) == []
    frame = trade(102) | {"tid": 2840140800042677}
    (t,) = s.feed(frame)
    assert isinstance(t, Trade) and (t.side, t.trade_id) == ("buy", "2840140800042677")


def test_unreadable_change_desyncs_until_a_new_connection_brings_the_book() -> None:
    s = Session()
    s.feed(FULL)
    out = s.feed({"type": "l2_updates", "symbol": "BTCUSD", "changes": [["up", "9122.04", "1"]]})
    assert [type(i) for i in out] == [Malformed, Desync, Reconnect]
    assert not s.book.synchronised and not scheme.synchronised(s.state)
    # later changes on this connection cannot rebuild it
    assert s.feed({"type": "l2_updates", "symbol": "BTCUSD", "changes": [["buy", "1", "1"]]}) == []
    assert not s.book.synchronised
    out = s.feed({"type": "l2_updates", "symbol": "BTCUSD", "changes": [["buy", "9", "1"], ["sell", "9.5", "1"]]})
    assert out == []
    out = s.feed({"type": "l2_updates", "symbol": "BTCUSD", "changes": [["buy", "9", "1"]], "trades": []})
    assert isinstance(out[0], Snapshot) and s.book.synchronised


def test_unknown_and_harmless_frames() -> None:
    s = Session()
    s.feed(FULL)
    assert s.feed({"type": "heartbeat", "timestamp": 1624493666869}) == []
    assert s.feed({"type": "auction_open", "symbol": "BTCUSD"}) == []
    assert [type(i) for i in s.feed({"type": "mystery"})] == [Malformed]
    assert [type(i) for i in s.feed("not json")] == [Malformed]
    assert [type(i) for i in s.feed({"result": "error", "reason": "InvalidJson"})] == [Malformed]
    assert [type(i) for i in s.feed({"type": "l2_updates", "symbol": "ETHUSD", "changes": []})] == [Malformed]
    assert s.book.synchronised and scheme.synchronised(s.state)
    out = s.feed({"type": "trade", "symbol": "BTCUSD", "event_id": 500})  # no price: unreadable, but no book change
    assert [type(i) for i in out] == [Malformed] and s.book.synchronised


# --- the real capture ----------------------------------------------------------


def test_capture_books_agree_with_every_trade() -> None:
    """GEMINI.ws.1.0: ten l2 books for 31 seconds. The dialect has no
    sequence or checksum, so the venue's evidence is its trades: each live
    trade must hit a level resting on the maker side of our book, at a price
    no better than that side's best and with at least the traded quantity
    there, and the books must never cross. No market loses sync in this
    session: its 34 removals of levels the book never held are Gemini's way
    of reporting a level born and gone within one batch (32 sit in a batch
    where a new level appears on the same side, a quote moving on; the other
    two in batches pulling quotes), and the trade evidence holds."""
    checked = 0
    crossed = 0

    def hook(_t: float, raw: str, rp: Replay) -> None:
        nonlocal checked, crossed
        frame = orjson.loads(raw)
        book = rp.keeper.books.get(frame.get("symbol", ""))
        if book is None or not book.synchronised:
            return
        crossed += book.crossed()
        if frame["type"] != "trade":
            return
        price, quantity = Decimal(frame["price"]), Decimal(frame["quantity"])
        levels = book.asks_levels() if frame["side"] == "buy" else book.bids_levels()
        maker = {Decimal(lv[0]): Decimal(lv[1]) for lv in levels}
        assert price in maker, frame
        assert maker[price] >= quantity
        best_maker = book.best_ask() if frame["side"] == "buy" else book.best_bid()
        assert best_maker is not None and best_maker == levels[0]
        # the best maker level is at least as good
        assert Decimal(best_maker[0]) <= price if frame["side"] == "buy" else Decimal(best_maker[0]) >= price
        other = book.best_bid() if frame["side"] == "buy" else book.best_ask()
        if other is not None:
            best_other = Decimal(other[0])
            assert best_other < price if frame["side"] == "buy" else best_other > price
        checked += 1

    replays, summary = replay(scheme, [capture("GEMINI.ws.1.0")], hook)
    assert summary.frames == 678 and summary.markets == 10 and summary.trades == 16
    assert checked == 16
    assert summary.malformed == 0 and summary.resyncs == 0 and summary.reconnects_requested == 0
    assert crossed == 0
    (rp,) = replays
    for book in rp.keeper.books.values():
        assert book.synchronised and not book.crossed() and len(book.bids) and len(book.asks)
