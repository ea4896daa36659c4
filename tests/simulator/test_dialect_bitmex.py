"""The simulator's BitMEX dialect, read back by the BitMEX scheme: random
book changes and trades on a simulated market must leave the scheme's book
equal to the reference book. BitMEX sends JSON numbers, so "1.50" arrives as
1.5: levels and trades are compared by exact decimal value."""

from __future__ import annotations

from decimal import Decimal

import orjson

from level4.simulator.dialects.bitmex_dialect import dialect, number
from tests.simulator.simulator_harness import DialectClient, make_markets
from translations.bitmex import scheme
from translations.protocol import Instruction, MarketType


def connected(pairs: list[str]) -> DialectClient:
    client = DialectClient(make_markets("BITMEX", pairs, seed=3, market_type=MarketType.PERP))
    client.connect()
    return client


def test_numbers_keep_their_value() -> None:
    assert number("50000.00") == 50000 and isinstance(number("50000.00"), int)
    assert number("0.01000000") == 0.01
    assert number("17") == 17
    assert number("0.0000016425") == 0.0000016425


def test_random_flow_round_trips_exactly() -> None:
    client = connected(["BTC-USD", "SOL-USDT"])
    client.assert_books_equal(by_value=True)
    for _ in range(20):
        client.drive(150)
        client.assert_books_equal(by_value=True)
    assert len(client.trades) == sum(f.market.trade_id for f in client.sim.flows) > 100
    assert client.tr.resyncs == 0 and client.tr.malformed == 0
    # the venue's trade ids are UUIDs; its times are milliseconds
    client.assert_trades(
        by_value=True, trade_id=lambda t: f"00000000-0000-0000-0000-{t.trade_id:012d}", tolerance=0.001
    )


def test_lost_insert_is_detected_when_its_level_changes_and_recovered() -> None:
    client = connected(["BTC-USD"])
    client.drive(20)
    market = client.markets["XBTUSD"]
    best = market.book.best_bid()
    assert best is not None
    price = f"{Decimal(best[0]) + Decimal('0.01')}"

    def lose_the_insert(frames: list[str]) -> list[str]:
        assert [orjson.loads(f)["action"] for f in frames] == ["insert"]
        return []

    client.tamper = lose_the_insert
    client.change(market, [(price, "2.00000000")], [])  # the insert never arrives
    assert client.tamper is None and client.tr.resyncs == 0  # nothing shows the loss yet
    client.change(market, [(price, "3.00000000")], [])  # an update for an id the client never saw
    assert client.tr.resyncs == 1
    client.assert_books_equal(by_value=True)  # the resubscribe brought a fresh partial
    client.drive(100)
    client.assert_books_equal(by_value=True)


def test_acknowledgements_pongs_and_errors() -> None:
    client = DialectClient(make_markets("BITMEX", ["BTC-USD"], market_type=MarketType.PERP))
    session, markets = client.session, client.markets
    ack, image = dialect.on_client_frame(session, {"op": "subscribe", "args": ["orderBookL2:XBTUSD"]}, markets, 0)
    assert orjson.loads(ack) == {
        "success": True,
        "subscribe": "orderBookL2:XBTUSD",
        "request": {"op": "subscribe", "args": ["orderBookL2:XBTUSD"]},
    }
    assert orjson.loads(image)["action"] == "partial" and session.subscribed == {"XBTUSD"}
    (pong,) = dialect.on_client_frame(session, scheme.ping_msg(client.tr.state)[0], markets, 0)
    out: list[Instruction] = []
    client.tr.feed_raw(pong, out, client.work)
    assert pong == "pong" and out == [] and client.tr.malformed == 0
    for bad in (
        {"op": "subscribe", "args": ["orderBookL2:XBTUSD"]},  # already subscribed
        {"op": "subscribe", "args": ["orderBookL3:XBTUSD"]},
        {"op": "subscribe", "args": ["trade:NOPE"]},
        {"op": "dance"},
    ):
        (err,) = dialect.on_client_frame(session, bad, markets, 0)
        assert orjson.loads(err)["status"] == 400
    (bye,) = dialect.on_client_frame(session, {"op": "unsubscribe", "args": ["orderBookL2:XBTUSD"]}, markets, 0)
    assert orjson.loads(bye)["success"] is True and session.subscribed == set()
    assert dialect.on_book_change(session, markets["XBTUSD"], [("1", "1")], [], 0) == []
