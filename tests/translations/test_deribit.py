"""Deribit: hand-written notifications for each rule, then the real capture."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from level4.feed.translator import ConnectionWork, Translator
from level4.replay.replayer import Replay, replay
from tests.captures import capture
from tests.translations.harness import SchemeHarness
from translations.deribit import scheme
from translations.protocol import (
    Desync,
    Instruction,
    Instrument,
    MarketType,
    Reconnect,
    Snapshot,
    Trade,
    Update,
)

PERP = scheme.instrument("BTC", "USD", MarketType.PERP)
OPTION = scheme.from_symbol("BTC-24SEP21-8000-P")


def book(
    kind: str, change_id: int, prev: int | None, bids: list[Any], asks: list[Any], name: str = "BTC-PERPETUAL"
) -> dict:
    data: dict[str, Any] = {
        "type": kind,
        "timestamp": 1626993724318,
        "instrument_name": name,
        "change_id": change_id,
        "bids": bids,
        "asks": asks,
    }
    if prev is not None:
        data["prev_change_id"] = prev
    return {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": f"book.{name}.100ms", "data": data}}


SNAP = book("snapshot", 10, None, [["new", 0.0005, 153.1], ["new", 30000.5, 4714.0]], [["new", 30001.0, 20.0]])


class Feed(SchemeHarness):
    def __init__(self, *instruments: Instrument) -> None:
        super().__init__(scheme, instruments or [PERP])


def test_instrument_names() -> None:
    assert Instrument("BTC", "USD", MarketType.PERP, "BTC-PERPETUAL") == PERP
    assert scheme.instrument("btc", "usdc", MarketType.PERP).symbol == "BTC_USDC-PERPETUAL"
    assert scheme.from_symbol("BTC_USDC-PERPETUAL") == Instrument("BTC", "USDC", MarketType.PERP, "BTC_USDC-PERPETUAL")
    assert scheme.from_symbol("BTC-24SEP21") == Instrument("BTC", "USD", MarketType.FUTURE, "BTC-24SEP21")
    assert Instrument("BTC", "USD", MarketType.OPTION, "BTC-24SEP21-8000-P") == OPTION
    assert OPTION.tag("DERIBIT") == "DERIBIT.OPTION:BTC-24SEP21-8000-P"
    assert scheme.from_symbol("ETH_USDC") == Instrument("ETH", "USDC", MarketType.SPOT, "ETH_USDC")
    with pytest.raises(ValueError):
        scheme.instrument("BTC", "USD", MarketType.FUTURE)  # a dated future needs its expiry
    for bad in ("BTC", "BTC-24SEP21-8000", "-PERPETUAL"):
        with pytest.raises(ValueError):
            scheme.from_symbol(bad)


def test_subscribe_sets_heartbeat_and_public_channels() -> None:
    state = scheme.initial_state([PERP, OPTION])
    heartbeat, subscribe = (orjson.loads(f) for f in scheme.subscribe_msg(state))
    assert heartbeat == {"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat", "params": {"interval": 30}}
    assert subscribe == {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "public/subscribe",
        "params": {
            "channels": [
                "book.BTC-PERPETUAL.100ms",
                "book.BTC-24SEP21-8000-P.100ms",
                "trades.BTC-PERPETUAL.100ms",
                "trades.BTC-24SEP21-8000-P.100ms",
            ]
        },
    }
    # replay learns the markets from a recorded subscribe, whatever its interval
    assert scheme.instruments_from_subscribe(subscribe) == [PERP, OPTION]
    raw = {"method": "public/subscribe", "params": {"channels": ["book.BTC-24SEP21.raw", "ticker.BTC-24SEP21.raw"]}}
    assert [i.symbol for i in scheme.instruments_from_subscribe(raw)] == ["BTC-24SEP21"]


def test_snapshot_then_changes_keep_the_venues_numbers_exactly() -> None:
    feed = Feed()
    out = feed(
        SNAP,
        book("change", 11, 10, [["change", 30000.5, 4737.0], ["delete", 0.0005, 0.0]], [["new", 30000.75, 1e-05]]),
    )
    assert isinstance(out[0], Snapshot) and out[0].sequence == 10
    assert isinstance(out[1], Update) and out[1].sequence == 11 and out[1].timestamp == 1626993724.318
    assert feed.book() == {
        "synchronised": True,
        "bids": [["30000.5", "4737"]],
        "asks": [["30000.75", "0.00001"], ["30001", "20"]],
    }
    assert feed.sent == [] and feed.tr.synchronised()


def test_a_gap_in_change_ids_desyncs_and_resubscribes_that_book() -> None:
    feed = Feed()
    feed(SNAP, book("change", 11, 10, [["new", 1, 1]], []))
    out = feed(book("change", 13, 12, [["new", 2, 1]], []))  # change 12 never arrived
    assert [type(i) for i in out] == [Desync]
    assert feed.book() == {"synchronised": False, "bids": [], "asks": []}
    (send,) = feed.sent
    unsub, sub = (orjson.loads(f) for f in send.frames)
    assert unsub["method"] == "public/unsubscribe" and sub["method"] == "public/subscribe"
    assert unsub["params"] == sub["params"] == {"channels": ["book.BTC-PERPETUAL.100ms"]}
    # the old subscription's stragglers are dropped quietly, not applied, not another resync
    assert feed(book("change", 14, 13, [["new", 3, 1]], [])) == []
    assert feed.tr.resyncs == 1
    # the new subscription's snapshot makes the book whole again
    feed(book("snapshot", 20, None, [["new", 5, 1]], []), book("change", 21, 20, [], [["new", 6, 2]]))
    assert feed.book() == {"synchronised": True, "bids": [["5", "1"]], "asks": [["6", "2"]]}
    assert feed.tr.synchronised()  # one book's gap never costs the connection


def test_duplicate_and_out_of_order_changes_are_gaps() -> None:
    change = book("change", 11, 10, [["new", 1, 1]], [])
    feed = Feed()
    feed(SNAP, change)
    assert [type(i) for i in feed(change)] == [Desync]  # the same change twice

    feed = Feed()
    feed(SNAP)
    assert [type(i) for i in feed(book("change", 12, 11, [["new", 1, 1]], []))] == [Desync]  # 12 before 11


def test_change_before_any_snapshot_resubscribes() -> None:
    feed = Feed()
    out = feed(book("change", 11, 10, [["new", 1, 1]], []))
    assert [type(i) for i in out] == [Desync]
    assert len(feed.sent) == 1


def test_a_new_snapshot_replaces_the_book_and_restarts_the_chain() -> None:
    feed = Feed()
    feed(SNAP, book("change", 11, 10, [["new", 1, 1]], []))
    feed(book("snapshot", 50, None, [], []))  # empty on both sides
    assert feed.book() == {"synchronised": True, "bids": [], "asks": []}
    feed(book("change", 51, 50, [], [["new", 7.5, 3.0]]))
    assert feed.book()["asks"] == [["7.5", "3"]]
    assert feed.tr.resyncs == 0


def test_heartbeat_test_requests_are_answered() -> None:
    feed = Feed()
    assert feed({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "heartbeat"}}) == []
    feed({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}})
    (send,) = feed.sent
    (answer,) = send.frames
    assert orjson.loads(answer) == {"jsonrpc": "2.0", "id": 1, "method": "public/test", "params": {}}
    feed({"jsonrpc": "2.0", "id": 1, "result": {"version": "1.2.26"}})
    assert feed.tr.malformed == 0


def test_a_refused_subscription_reconnects_other_errors_are_counted() -> None:
    tr = Translator(scheme, [PERP])
    scheme.subscribe_msg(tr.state)  # ids 1 (heartbeat) and 2 (subscribe)
    out: list[Instruction] = []
    work = ConnectionWork()
    tr.feed_raw(b'{"jsonrpc":"2.0","id":1,"error":{"code":11050,"message":"bad_request"}}', out, work)
    assert work.reconnect is None and tr.malformed == 1 and tr.synchronised()
    tr.feed_raw(
        b'{"jsonrpc":"2.0","id":2,"error":{"code":13778,"message":"raw_subscriptions_not_available"}}', out, work
    )
    assert isinstance(work.reconnect, Reconnect) and not tr.synchronised()


def test_unknown_and_malformed_frames() -> None:
    feed = Feed()
    feed(SNAP)
    feed(b"not json", {"jsonrpc": "2.0", "method": "mystery"}, {"jsonrpc": "2.0", "method": "subscription"})
    assert feed.tr.malformed == 3 and feed.tr.resyncs == 0  # harmless: counted only
    assert feed.book()["synchronised"]
    out = feed(book("change", 11, 10, [["upsert", 1, 1]], []))  # an action we cannot apply
    assert [type(i) for i in out] == [Desync]
    assert feed.tr.malformed == 4
    assert not feed.book()["synchronised"] and len(feed.sent) == 1


def trades(*items: dict) -> dict:
    return {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {"channel": "trades.BTC-PERPETUAL.100ms", "data": list(items)},
    }


def trade(seq: int, direction: str, trade_id: str = "48079269") -> dict:
    return {
        "trade_seq": seq,
        "trade_id": trade_id,
        "timestamp": 1590484512188,
        "tick_direction": 2,
        "price": 8950.5,
        "mark_price": 8948.9,
        "instrument_name": "BTC-PERPETUAL",
        "index_price": 8955.88,
        "direction": direction,
        "amount": 10.0,
    }


def test_trades_carry_the_taker_side_and_venue_ids() -> None:
    feed = Feed()
    out = feed(trades(trade(30, "sell"), trade(31, "buy", "48079270")))
    assert [(t.side, t.price, t.size, t.trade_id, t.timestamp) for t in out if isinstance(t, Trade)] == [
        ("sell", "8950.5", "10", "48079269", 1590484512.188),
        ("buy", "8950.5", "10", "48079270", 1590484512.188),
    ]
    assert feed.tr.malformed == 0
    out = feed(trades(trade(34, "buy", "48079275")))  # trades 32 and 33 were lost: noted, book untouched
    assert [type(i) for i in out] == [Trade]
    assert feed.tr.malformed == 1 and "skipped 31 -> 34" in feed.work.malformed[-1].reason
    assert feed(trades(trade(35, "sideways"))) == []
    assert feed.tr.malformed == 2 and feed.tr.resyncs == 0


# --- the real capture ----------------------------------------------------------------

CAPTURE_MARKETS = {
    "BTC-24SEP21-8000-P",
    "BTC-30JUL21-24000-P",
    "ETH-30JUL21-2800-C",
    "BTC-31DEC21-34000-P",
    "BTC-24SEP21-34000-P",
    "BTC-24JUN22-15000-C",
    "BTC-31DEC21-300000-C",
    "ETH-27AUG21-4000-P",
    "BTC-25MAR22-30000-C",
    "ETH-23JUL21-2300-C",
}


def top(rp: Replay, symbol: str) -> tuple[float | None, ...] | None:
    book = rp.keeper.books[symbol]
    if not book.synchronised:
        return None
    bid, ask = book.best_bid(), book.best_ask()
    return (
        float(bid[0]) if bid else None,
        float(bid[1]) if bid else None,
        float(ask[0]) if ask else None,
        float(ask[1]) if ask else None,
    )


def test_capture_books_match_the_venues_ticker() -> None:
    """The ticker channel gives best bid and ask (price and amount) as of its
    timestamp. The venue sends it just before the book change of the same
    moment, so it is compared with the book once every book notification up
    to its timestamp has been applied and before any later one."""
    pending: dict[str, tuple[int, tuple[float | None, ...], tuple[float | None, ...] | None]] = {}
    compared: list[tuple[str, bool]] = []
    chains: dict[str, list[int]] = {}

    def settle(symbol: str) -> None:
        _, tick, ours = pending.pop(symbol)
        assert ours == tick, (symbol, tick, ours)
        compared.append((symbol, ours == tick))

    def hook(_t: float, raw: str, rp: Replay) -> None:
        params = orjson.loads(raw).get("params")
        if not params:
            return
        data = params["data"]
        if params["channel"].startswith("ticker."):
            symbol = data["instrument_name"]
            if symbol in pending:
                settle(symbol)
            tick = tuple(
                data[k] or None for k in ("best_bid_price", "best_bid_amount", "best_ask_price", "best_ask_amount")
            )
            pending[symbol] = (data["timestamp"], tick, top(rp, symbol))
        elif params["channel"].startswith("book."):
            symbol = data["instrument_name"]
            chains.setdefault(symbol, []).append(data["change_id"])
            assert rp.keeper.books[symbol].sequence == data["change_id"]
            if symbol in pending:
                stamp, tick, _ = pending[symbol]
                if data["timestamp"] <= stamp:
                    pending[symbol] = (stamp, tick, top(rp, symbol))
                else:
                    settle(symbol)  # the book as it stood at the ticker's moment

    replays, summary = replay(scheme, [capture("DERIBIT.ws.1.0")], hook)
    for symbol in list(pending):
        settle(symbol)
    assert len(compared) == 89 and all(ok for _, ok in compared)
    assert {s for s, _ in compared} == CAPTURE_MARKETS  # every market was checked
    assert summary.frames == 136 and summary.markets == 10 and summary.trades == 0
    assert summary.resyncs == 0 and summary.malformed == 0
    assert sum(len(c) for c in chains.values()) == 46  # 10 snapshots and 36 changes, every chain unbroken
    (rp,) = replays
    assert set(rp.keeper.books) == CAPTURE_MARKETS
    for book_ in rp.keeper.books.values():
        assert book_.synchronised and not book_.crossed()
        assert book_.sequence == chains[book_.symbol][-1]
