"""The simulator's Gemini dialect, read back by the Gemini scheme: after
random order flow the scheme's books equal the reference books exactly."""

from __future__ import annotations

from typing import Any

import orjson

from level4.simulator.dialects.dialect_base import ClientSession
from level4.simulator.dialects.gemini_dialect import dialect
from tests.simulator.simulator_harness import NOW, DialectClient, Pair, PairSpec, make_markets
from translations.gemini import scheme

PAIRS: list[PairSpec] = ["BTC-USD", "ETH-GBP", Pair("BAT-BTC", tick_decimals=8)]


def connected(seed: int, allow_reconnect: bool = False) -> DialectClient:
    sim = make_markets("GEMINI", PAIRS, seed, dt=1.0)
    client = DialectClient(sim, allow_reconnect=allow_reconnect, allow_malformed=allow_reconnect)
    client.connect()
    return client


def drive(client: DialectClient, steps: int) -> None:
    client.drive(steps, heartbeat_every=250)


def test_round_trip_books_and_trades_exactly() -> None:
    client = connected(seed=21)
    assert client.session.subscribed == set(client.markets)
    drive(client, 3000)
    client.assert_books_equal()  # Gemini's decimal strings come back unchanged: "0.50000000" stays
    assert client.tr.malformed == 0 and client.tr.resyncs == 0
    assert len(client.made) > 200
    client.assert_trades()
    # the scheme never asks anything after subscribing, and there is nothing to verify
    assert client.requests == [orjson.loads(f) for f in scheme.subscribe_msg(client.tr.state)]
    assert client.keeper.checksums_verified == 0


def test_a_repeated_trade_is_not_a_new_one() -> None:
    client = connected(seed=4)
    sim = client.sim
    repeats = 0
    for n in range(600):
        flow = sim.flows[n % len(sim.flows)]
        step = sim.step(flow)
        frames = client.book_change(flow.market, step.bids, step.asks)
        if step.trade is not None:
            trade = dialect.on_trade(client.session, flow.market, step.trade, sim.now)
            frames += trade + trade  # delivered twice
            client.made.append((flow.market.instrument.symbol, step.trade))
            repeats += 1
        client.receive(frames)
    assert repeats > 30 and len(client.trades) == repeats
    client.assert_trades()
    client.assert_books_equal()


def test_unreadable_change_then_a_new_connection_rebuilds_the_book() -> None:
    client = connected(seed=8, allow_reconnect=True)
    drive(client, 500)
    symbol = "BTCUSD"
    bad = orjson.dumps({"type": "l2_updates", "symbol": symbol, "changes": [["bid", "1", "1"]]}).decode()
    client.receive([bad])
    assert len(client.reconnects) == 1 and client.tr.malformed == 1 and not client.tr.synchronised()
    assert not client.keeper.books[symbol].synchronised
    drive(client, 300)  # changes on the doomed connection rebuild nothing
    assert not client.keeper.books[symbol].synchronised
    client.reconnect()
    drive(client, 500)
    client.assert_books_equal()
    assert client.tr.synchronised() and len(client.reconnects) == 1


def test_requests_the_venue_refuses() -> None:
    markets = make_markets("GEMINI", PAIRS, seed=1).markets
    session = ClientSession()
    (bad,) = dialect.on_client_frame(
        session, {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": ["XYZUSD"]}]}, markets, NOW
    )
    assert orjson.loads(bad)["result"] == "error" and not session.subscribed
    (junk,) = dialect.on_client_frame(session, "hello", markets, NOW)
    state = scheme.initial_state([m.instrument for m in markets.values()])
    for frame in (bad, junk):
        out: Any
        out, state = scheme.translate(orjson.loads(frame), state)
        assert [type(i).__name__ for i in out] == ["Malformed"]
    assert dialect.heartbeat(session, markets, NOW) == []  # nothing subscribed, nothing to keep alive
