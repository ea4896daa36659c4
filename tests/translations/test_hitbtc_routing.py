"""HitBTC markets sharing one connection, frame by frame: one api/3 request
subscribes many symbols, frames route by the symbols keying their payload,
each market keeps its own sequence `s` (a gap resubscribes that market alone),
a market leaving unsubscribes by symbol, and a venue error refuses only the
markets still waiting for their book. The simulator's dialect plays the venue."""

from __future__ import annotations

import orjson

from tests.simulator.simulator_harness import make_markets
from tests.translations.routed_connection import RoutedConnection
from translations.hitbtc import BOOK_CHANNEL, scheme
from translations.protocol import ALL_MARKETS, Loss

PAIRS = ["BTC-USDT", "ETH-USDT", "SOL-USDT", "ADA-USDT"]


def connection() -> RoutedConnection:
    conn = RoutedConnection(make_markets("HITBTC", PAIRS))
    conn.subscribe(list(conn.instruments))
    return conn


def test_one_request_subscribes_every_market_and_each_keeps_the_venues_book() -> None:
    conn = connection()
    books = [r for r in conn.requests if r.get("ch") == BOOK_CHANNEL]
    assert len(books) == 1 and sorted(books[0]["params"]["symbols"]) == sorted(conn.markets)
    conn.drive(800)
    conn.assert_books_equal()
    assert all(conn.desyncs(s) == [] for s in conn.markets)


def test_a_gap_resubscribes_that_market_alone() -> None:
    conn = connection()
    conn.drive(100)
    victim, *others = list(conn.markets)
    before = {s: len(conn.markets[s].out) for s in others}
    conn.sim.markets[victim].update_id += 3  # changes lost on their way to this market
    conn.drive(8)
    assert [reason.split(" ")[:2] for reason in conn.desyncs(victim)] == [["sequence", "gap"]]
    assert all(conn.desyncs(s) == [] for s in others)
    # its own state's resubscribe, of its book alone, on the same connection
    unsubscribes = [r for r in conn.requests if r.get("method") == "unsubscribe"]
    assert [(r["ch"], r["params"]["symbols"]) for r in unsubscribes] == [(BOOK_CHANNEL, [victim])]
    conn.drive(400)
    conn.assert_books_equal()
    assert all(len(conn.markets[s].out) > before[s] for s in others)
    assert all(conn.desyncs(s) == [] for s in others)


def test_a_market_leaving_is_unsubscribed_by_symbol_and_the_rest_carry_on() -> None:
    conn = connection()
    conn.drive(100)
    gone, *staying = list(conn.markets)
    conn.unsubscribe(gone)
    assert conn.session.subscribed == set(staying)
    conn.drive(300)
    conn.assert_books_equal()


def test_a_venue_error_refuses_only_markets_still_waiting_for_their_book() -> None:
    conn = connection()
    conn.drive(50)
    late = RoutedConnection(make_markets("HITBTC", ["XRP-USDT"]))
    late_symbol = next(iter(late.instruments))
    error = {"error": {"code": 2001, "message": "Symbol not found", "description": late_symbol}, "id": 1}
    assert scheme.route(error, None)[0] is ALL_MARKETS
    waiting = scheme.initial_state([late.instruments[late_symbol]])
    out, waiting = scheme.translate(error, waiting)
    assert [(getattr(i, "symbol", None), getattr(i, "kind", None)) for i in out][1:] == [
        (late_symbol, Loss.VENUE_ERROR)
    ]
    for symbol, harness in conn.markets.items():
        malformed = harness.tr.malformed
        assert harness.feed(error) == []  # counted, not lost
        assert harness.tr.malformed == malformed + 1
        assert harness.book()["synchronised"], symbol


def test_one_notification_of_several_symbols_reaches_each_of_them_whole() -> None:
    conn = connection()
    conn.drive(40)
    first, second, *_ = list(conn.markets)
    seqs = {s: conn.sim.markets[s].update_id for s in (first, second)}
    both = {
        "ch": BOOK_CHANNEL,
        "update": {
            first: {"t": 1, "s": seqs[first] + 1, "a": [], "b": [["1.00", "2"]]},
            second: {"t": 1, "s": seqs[second] + 1, "a": [["99999.00", "3"]], "b": []},
        },
    }
    assert scheme.route(both, None)[0] == [first, second]
    conn.receive([orjson.dumps(both).decode()])
    for symbol in (first, second):
        assert conn.markets[symbol].tr.malformed == 0, symbol
        assert conn.desyncs(symbol) == [], symbol
    assert ["1.00", "2"] in conn.book(first)["bids"]
    assert ["99999.00", "3"] in conn.book(second)["asks"]
