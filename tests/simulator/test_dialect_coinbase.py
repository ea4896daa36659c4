"""The simulator's Coinbase dialect, read back by the Coinbase scheme: random
book changes and trades must leave the scheme's books equal to the reference
books and bring every trade; heartbeats keep the per-product sequence; and a
lost match is noticed as a hole in the trade ids."""

from __future__ import annotations

import orjson

from level4.simulator.dialects.coinbase_dialect import dialect
from level4.simulator.dialects.dialect_base import ClientSession
from tests.simulator.simulator_harness import NOW, DialectClient, make_markets

PAIRS = ["BTC-USD", "ETH-USD"]


def connected(seed: int, allow_malformed: bool = False) -> DialectClient:
    client = DialectClient(make_markets("COINBASE", PAIRS, seed), allow_malformed=allow_malformed)
    client.connect()
    return client


def test_books_and_trades_round_trip() -> None:
    client = connected(seed=3)
    assert client.session.subscribed == set(client.markets)
    client.drive(3000, heartbeat_every=100)
    client.assert_books_equal()  # Coinbase's decimal strings come back unchanged
    assert client.tr.malformed == 0 and client.tr.resyncs == 0 and client.tr.synchronised()
    assert client.heartbeat_frames == 30 * len(PAIRS)  # one per product, each time
    assert len(client.made) > 100
    client.assert_trades(tolerance=1e-6)  # times in microseconds


def test_a_lost_match_is_a_hole_in_the_trade_ids() -> None:
    client = connected(seed=5, allow_malformed=True)
    client.drive(300)
    sim, lost = client.sim, 0
    while not lost:
        flow = sim.flows[0]
        step = sim.step(flow)
        client.receive(client.book_change(flow.market, step.bids, step.asks))
        lost = step.trade is not None  # its match never arrives
    client.drive(300)
    (hole,) = client.malformed
    assert hole.reason.startswith("trade ids skipped") and client.tr.resyncs == 0
    client.assert_trades(tolerance=1e-6)  # every trade but the lost one
    client.assert_books_equal()


def test_the_dialect_answers_like_the_venue() -> None:
    markets = make_markets("COINBASE", PAIRS[:1], seed=1).markets
    session = ClientSession()
    sub = {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["level2_batch", "matches"]}
    ack, snap = (orjson.loads(f) for f in dialect.on_client_frame(session, sub, markets, NOW))
    assert ack["type"] == "subscriptions" and [c["name"] for c in ack["channels"]] == ["level2_batch", "matches"]
    assert snap["type"] == "snapshot" and snap["bids"][0] == list(markets["BTC-USD"].book.best_bid() or [])
    assert session.subscribed == {"BTC-USD"}
    assert dialect.heartbeat(session, markets, NOW) == []  # not asked for
    (err,) = dialect.on_client_frame(session, {**sub, "product_ids": ["NOPE-USD"]}, markets, NOW)
    assert orjson.loads(err)["type"] == "error" and "NOPE-USD" in orjson.loads(err)["reason"]
    (err,) = dialect.on_client_frame(session, "hello", markets, NOW)
    assert orjson.loads(err)["type"] == "error"
    unsub = {"type": "unsubscribe", "product_ids": ["BTC-USD"], "channels": ["level2_batch"]}
    dialect.on_client_frame(session, unsub, markets, NOW)
    assert session.subscribed == set() and dialect.rest("/products/BTC-USD/book", {}, markets, NOW) is None
