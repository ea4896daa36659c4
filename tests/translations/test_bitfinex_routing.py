"""Bitfinex markets sharing one connection, frame by frame: routing by the
channel ids the venue assigns, the connection-wide sequence kept per
connection (a gap renews the connection, since the lost frame may have been
any market's), unsubscribing by channel id, and a checksum failure that
resubscribes its market alone. The simulator's dialect plays the venue,
including its cap of 25 channels a connection."""

from __future__ import annotations

import orjson

from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.dialect_base import ClientSession
from level4.simulator.limits_enforcer import STREAM_CAP, LimitsEnforcer
from tests.simulator.simulator_harness import make_markets
from tests.translations.routed_connection import RoutedConnection
from translations import limits_for
from translations.bitfinex import SEQ_ALL, scheme
from translations.protocol import Renew

PAIRS = ["BTC-USD", "ETH-USD", "SOL-USD"]


def connection(pairs: list[str] = PAIRS) -> RoutedConnection:
    conn = RoutedConnection(make_markets("BITFINEX", pairs))
    conn.subscribe([m.instrument.symbol for m in conn.sim.markets.values()])
    return conn


def test_three_markets_on_one_connection_each_keep_the_venues_book() -> None:
    conn = connection()
    assert len(conn.session.subscribed) == 3
    assert conn.conn.flags & SEQ_ALL  # the connection asked for, and checks, the sequence
    assert sorted(set(conn.conn.channels.values())) == sorted(conn.markets)
    conn.drive(600, heartbeat_every=50)
    assert conn.renewed == []
    assert conn.conn.sequence is not None and conn.conn.sequence > 600
    conn.assert_books_equal()
    for symbol in conn.markets:
        assert conn.desyncs(symbol) == []
        # a market's own state reads no connection-wide number: it sees only its channels
        assert conn.markets[symbol].tr.state.flags == 0


def test_markets_joining_later_take_their_channels_on_the_same_connection() -> None:
    conn = RoutedConnection(make_markets("BITFINEX", PAIRS))
    first, second, third = list(conn.instruments)
    conn.subscribe([first])
    conn.drive(100)
    conn.subscribe([second, third])
    conn.drive(300)
    assert conn.renewed == []
    conn.assert_books_equal()


def test_a_gap_in_the_connection_wide_sequence_renews_the_connection() -> None:
    conn = connection()
    conn.drive(60)
    conn.session.extra["bitfinex"].sequence += 1  # a frame lost on its way, whichever market's
    conn.drive(3)
    assert len(conn.renewed) == 1 and "sequence gap" in conn.renewed[0]
    before = {s: len(h.out) for s, h in conn.markets.items()}
    conn.drive(30)  # the rest of the connection's frames go nowhere until it is renewed
    assert {s: len(h.out) for s, h in conn.markets.items()} == before
    assert len(conn.renewed) == 1


def test_repeated_sequence_numbers_are_dropped_not_routed() -> None:
    route_state = scheme.connection_state()
    _, route_state = scheme.route({"event": "conf", "status": "OK", "flags": SEQ_ALL}, route_state)
    subscribed = {"event": "subscribed", "channel": "book", "chanId": 5, "symbol": "tBTCUSD", "prec": "P0"}
    assert scheme.route(subscribed, route_state)[0] == ("tBTCUSD",)
    assert scheme.route([5, "hb", 1], route_state)[0] == ("tBTCUSD",)
    assert scheme.route([5, "hb", 2], route_state)[0] == ("tBTCUSD",)
    assert scheme.route([5, "hb", 2], route_state)[0] == ()
    targets, route_state = scheme.route([5, "hb", 4], route_state)
    assert isinstance(targets, Renew) and targets.reason == "sequence gap 2 -> 4"
    assert scheme.route([5, "hb", 5], route_state)[0] == ()  # the connection is being replaced


def test_a_venue_restart_notice_renews_the_connection() -> None:
    route_state = scheme.connection_state()
    targets, route_state = scheme.route({"event": "info", "code": 20051, "msg": "Stopping"}, route_state)
    assert isinstance(targets, Renew) and "20051" in targets.reason
    greeting = {"event": "info", "version": 2, "platform": {"status": 1}}
    assert scheme.route(greeting, scheme.connection_state())[0] is None


def test_a_checksum_failure_resubscribes_that_market_alone() -> None:
    conn = connection()
    conn.drive(90)
    victim, *others = list(conn.markets)
    state = conn.markets[victim].tr.state
    book_chan = state.markets[victim].book_chan
    assert book_chan is not None and conn.conn.channels[book_chan] == victim
    before = {s: len(conn.markets[s].out) for s in others}
    client = conn.session.extra["bitfinex"]
    # A checksum the book disagrees with, in its place in the connection's sequence.
    conn.receive([conn.dialect._data(client, book_chan, "cs", 12345)])  # type: ignore[attr-defined]
    assert [r.split(" ")[0] for r in conn.desyncs(victim)] == ["checksum"]
    unsubscribes = [r for r in conn.requests if r.get("event") == "unsubscribe"]
    assert unsubscribes == [{"event": "unsubscribe", "chanId": book_chan}]  # its book alone, by id
    new_chan = state.markets[victim].book_chan
    assert new_chan not in (None, book_chan) and conn.conn.channels[new_chan] == victim
    assert book_chan not in conn.conn.channels  # the venue's `unsubscribed` retired it
    conn.drive(300)
    assert conn.renewed == []
    conn.assert_books_equal()
    assert all(len(conn.markets[s].out) > before[s] for s in others)  # they carried on
    assert all(conn.desyncs(s) == [] for s in others)


def test_a_market_leaving_unsubscribes_its_channels_by_id_and_the_rest_carry_on() -> None:
    conn = connection()
    conn.drive(60)
    gone, *staying = list(conn.markets)
    chans = sorted(c for c, s in conn.conn.channels.items() if s == gone)
    assert len(chans) == 2  # book and trades
    conn.unsubscribe(gone)
    assert [r for r in conn.requests if r.get("event") == "unsubscribe"] == [
        {"event": "unsubscribe", "chanId": c} for c in chans
    ]
    assert conn.session.subscribed == set(staying)
    assert scheme.unsubscribe_on(conn.conn, [gone])[0] == []  # asked once only
    assert conn.conn.retired == set()  # the venue's `unsubscribed` answers closed them
    conn.drive(200)
    assert conn.renewed == [] and not conn.own_malformed()
    conn.assert_books_equal()


def test_the_simulator_refuses_channels_over_the_cap_with_the_venues_error() -> None:
    pairs = [f"C{n:02d}-USD" for n in range(13)]
    sim = make_markets("BITFINEX", pairs)
    dialect = dialect_for("BITFINEX")
    enforcer = LimitsEnforcer("BITFINEX", limits_for("BITFINEX"))
    session = ClientSession()
    enforcer.opened(session, 0.0)
    assert session.extra[STREAM_CAP] == 25
    answers: list[dict[str, object]] = []
    for market in sim.markets.values():
        for raw in scheme.subscribe_msg(scheme.initial_state([market.instrument])):
            out = dialect.on_client_frame(session, orjson.loads(raw), sim.markets, sim.now)
            answers += [orjson.loads(a) for a in out if a.startswith("{")]
            assert enforcer.after_message(session) is None  # refused in words, not by a close
    errors = [a for a in answers if a.get("event") == "error"]
    assert [(e["code"], e["msg"], e["channel"]) for e in errors] == [(10305, "subscribe: limit", "trades")]
    assert len(session.extra["streams"]) == 25
    assert enforcer.describe(0.0)["refusals"] == {"streams": 1}
    assert enforcer.describe(0.0)["peaks"]["streams"]["peak"] == 25
