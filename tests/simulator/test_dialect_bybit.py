"""The simulator's Bybit v5 dialect, read back by the Bybit scheme: random
book changes and trades on a simulated market must leave the scheme's book
equal to the reference book's subscribed depth, exactly."""

from __future__ import annotations

from typing import Any

import orjson

from level4.simulator.dialects.bybit_dialect import dialect
from tests.simulator.simulator_harness import DialectClient, make_markets
from translations.bybit import DEPTH
from translations.protocol import Instruction, MarketType


def client_of(pairs: list[str]) -> DialectClient:
    return DialectClient(make_markets("BYBIT", pairs, seed=7, market_type=MarketType.PERP))


def test_random_flow_round_trips_exactly() -> None:
    client = client_of(["BTC-USDT", "ETH-USDT"])
    client.connect()
    client.assert_books_equal(DEPTH)
    for _ in range(20):
        client.drive(150)
        client.assert_books_equal(DEPTH)
    assert len(client.trades) == sum(f.market.trade_id for f in client.sim.flows) > 100
    assert client.tr.resyncs == 0 and client.tr.malformed == 0
    client.assert_trades(trade_id=lambda t: f"sim-{t.trade_id}", stamp=lambda ts: int(ts * 1000) / 1000)


def test_depth_window_is_kept_when_the_book_is_deeper() -> None:
    client = client_of(["BTC-USDT"])
    market = client.markets["BTCUSDT"]
    # 80 levels a side: the venue only ever shows the best 50.
    market.book.replace(
        [(f"{40000 - i}.00", "1.00000000") for i in range(80)], [(f"{40001 + i}.00", "1.00000000") for i in range(80)]
    )
    client.connect()
    client.assert_books_equal(DEPTH)
    for i in range(60):  # eat the top of the asks: deeper levels come into view
        client.change(market, [], [(f"{40001 + i}.00", "0")])
        client.assert_books_equal(DEPTH)
    assert len(client.keeper.books["BTCUSDT"].asks) == 20
    # a change beyond the window sends nothing at all
    assert client.change(market, [(f"{40000 - 79}.00", "5.00000000")], []) == []


def test_lost_delta_is_detected_and_recovered_through_the_dialect() -> None:
    client = client_of(["BTC-USDT"])
    client.connect()
    client.drive(50)

    def lose_a_delta(frames: list[str]) -> list[str] | None:
        if not frames:
            return None  # beyond the window: nothing to lose
        assert all(orjson.loads(f)["type"] == "delta" for f in frames)
        return []

    client.tamper = lose_a_delta
    while client.tamper is not None:
        client.drive(1)
    client.drive(5)  # the next delta shows the gap: resubscribe, fresh snapshot
    assert client.tr.resyncs == 1
    client.drive(100)
    client.assert_books_equal(DEPTH)


def test_acknowledgements_pongs_and_errors() -> None:
    client = client_of(["BTC-USDT"])
    session, markets, now = client.session, client.markets, client.sim.now
    (ack, snapshot) = dialect.on_client_frame(
        session, {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}, markets, now
    )
    assert orjson.loads(ack)["success"] is True and orjson.loads(snapshot)["type"] == "snapshot"
    assert session.subscribed == {"BTCUSDT"}
    (pong,) = dialect.on_client_frame(session, orjson.loads(client.scheme.ping_msg(client.tr.state)[0]), markets, now)
    out: list[Instruction] = []
    client.tr.feed_raw(pong, out, client.work)
    assert out == [] and client.tr.malformed == 0
    again = dialect.on_client_frame(session, {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}, markets, now)
    unknown = dialect.on_client_frame(session, {"op": "subscribe", "args": ["orderbook.50.NOPE"]}, markets, now)
    for frame in again + unknown:
        body: dict[str, Any] = orjson.loads(frame)
        assert body["success"] is False and body["ret_msg"].startswith("error:")
    (bye,) = dialect.on_client_frame(session, {"op": "unsubscribe", "args": ["orderbook.50.BTCUSDT"]}, markets, now)
    assert orjson.loads(bye)["success"] is True and session.subscribed == set()
    assert dialect.on_book_change(session, markets["BTCUSDT"], [("1", "1")], [], now) == []
