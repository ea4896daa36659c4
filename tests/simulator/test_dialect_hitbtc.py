"""The HitBTC dialect round-trips with the HitBTC scheme: random order flow on
simulated markets, rendered by the dialect, translated by the scheme, must
give the reference books exactly and every trade."""

from __future__ import annotations

from typing import Any

import orjson

from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.dialect_base import ClientSession
from level4.simulator.orderflow import OrderFlow
from tests.simulator.simulator_harness import DialectClient, make_markets

dialect = dialect_for("HITBTC")
PAIRS = ["BTC-USDT", "ETH-BTC"]


def connected(seed: int) -> DialectClient:
    client = DialectClient(make_markets("HITBTC", PAIRS, seed))
    client.connect()
    return client


def test_random_flow_gives_the_reference_books_and_every_trade() -> None:
    client = connected(seed=7)
    assert all(b.synchronised for b in client.keeper.books.values())
    flows = client.sim.flows

    def uneven(n: int) -> OrderFlow:
        return flows[n % 2 if n % 5 else 0]  # both markets, one busier

    for _ in range(6):
        client.drive(500, pick=uneven)
        client.assert_books_equal(sequence=True)
    assert len(client.made) > 100
    client.assert_trades(stamp=lambda ts: int(ts * 1000) / 1000)
    assert not client.desyncs


def test_a_lost_update_is_detected_and_the_resubscription_heals_the_book() -> None:
    client = connected(seed=3)
    flow = client.sim.flows[0]
    symbol = flow.market.instrument.symbol
    client.drive(50, pick=flow)
    client.tamper = lambda frames: frames[1:] if frames else None  # the next change is not delivered
    while client.tamper is not None:
        client.drive(1, pick=flow)
    assert not client.desyncs  # nothing can tell until the next update
    while not client.desyncs:
        client.drive(1, pick=flow)
    # the scheme resubscribed; the dialect answered with a fresh snapshot
    assert [d.symbol for d in client.desyncs] == [symbol]
    assert client.keeper.books[symbol].synchronised
    client.drive(200, pick=flow)
    client.assert_books_equal(sequence=True)


def test_dialect_speaks_the_venues_frames() -> None:
    session = ClientSession()
    markets = make_markets("HITBTC", ["BTC-USDT"], seed=1).markets
    sub: dict[str, Any] = {"method": "subscribe", "ch": "orderbook/full", "params": {"symbols": ["BTCUSDT"]}, "id": 5}
    ack, snap = (orjson.loads(f) for f in dialect.on_client_frame(session, sub, markets, 1.0))
    assert ack == {"result": {"ch": "orderbook/full", "subscriptions": ["BTCUSDT"]}, "id": 5}
    assert snap["snapshot"]["BTCUSDT"]["s"] == 0 and len(snap["snapshot"]["BTCUSDT"]["b"]) == 20
    bad = dict(sub, params={"symbols": ["NOPE"]})
    (err,) = (orjson.loads(f) for f in dialect.on_client_frame(session, bad, markets, 1.0))
    assert err["error"]["code"] == 2001 and err["id"] == 5
    (err,) = (orjson.loads(f) for f in dialect.on_client_frame(session, {"method": "ping"}, markets, 1.0))
    assert err["error"]["message"] == "Method not found"
    assert dialect.heartbeat(session, markets, 1.0) == []
    assert dialect.rest("/api/3/public/orderbook/BTCUSDT", {}, markets, 1.0) is None
    unsub = dict(sub, method="unsubscribe")
    (ack,) = (orjson.loads(f) for f in dialect.on_client_frame(session, unsub, markets, 1.0))
    assert ack["result"]["subscriptions"] == [] and session.subscribed == set()
