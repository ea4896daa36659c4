"""The simulator's bitFlyer dialect, read back by the bitFlyer scheme: random
book changes and trades on simulated markets must leave the scheme's books
equal to the reference books, trades must come through, and a lost board
diff must be noticed through the mid price and repaired by a snapshot. The
venue sends JSON numbers, so "5.10" comes back as "5.1": books and trades
are compared by exact decimal value."""

from __future__ import annotations

import orjson

from level4.simulator.dialects.bitflyer_dialect import dialect
from level4.simulator.dialects.dialect_base import ClientSession, SimMarket
from tests.simulator.simulator_harness import NOW, DialectClient, Tamper, make_markets
from translations.bitflyer import scheme
from translations.protocol import MarketType

INSTRUMENTS = [
    scheme.instrument("BTC", "JPY", MarketType.SPOT),
    scheme.instrument("BTC", "JPY", MarketType.PERP),
    scheme.from_symbol("BTCJPY24DEC2021"),
]


def connected(count: int) -> DialectClient:
    client = DialectClient(make_markets("BITFLYER", INSTRUMENTS[:count], seed=11))
    client.connect()
    return client


def top_prices(market: SimMarket) -> tuple[str | None, str | None]:
    bid, ask = market.book.best_bid(), market.book.best_ask()
    return (bid[0] if bid else None, ask[0] if ask else None)


def lose_the_next_top_move(market: SimMarket) -> Tamper:
    """Loses the next diff that moves the best bid or ask."""
    last = [top_prices(market)]

    def hook(frames: list[str]) -> list[str] | None:
        before, last[0] = last[0], top_prices(market)
        return [] if last[0] != before else None

    return hook


def test_books_and_trades_round_trip() -> None:
    client = connected(len(INSTRUMENTS))
    client.drive(4000, heartbeat_every=100)  # the venue's periodic snapshots
    client.assert_books_equal(by_value=True)
    assert client.tr.malformed == 0 and client.tr.resyncs == 0
    assert client.heartbeat_frames == 40 * len(INSTRUMENTS)  # a periodic snapshot per market every 100 steps
    # every diff and snapshot was checked against the venue's mid price, and held
    assert client.keeper.checksums_verified > 4000 and client.keeper.checksum_failures == 0
    assert len(client.made) > 100
    client.assert_trades(by_value=True, tolerance=1e-5)


def test_a_lost_diff_that_moves_the_top_is_caught_by_the_mid_price() -> None:
    client = connected(1)  # and no periodic snapshot to paper over the loss
    client.drive(300)
    client.tamper = lose_the_next_top_move(client.sim.flows[0].market)
    client.drive(300)
    assert client.tamper is None
    # the next diff's mid price disagreed with the book; the resubscribed snapshot repaired it
    assert client.tr.resyncs == 1 and client.keeper.checksum_failures == 1
    client.assert_books_equal(by_value=True)


def test_the_dialect_answers_like_the_venue() -> None:
    markets = make_markets("BITFLYER", INSTRUMENTS[:1], seed=11).markets
    session = ClientSession()
    subscribe = {
        "jsonrpc": "2.0",
        "method": "subscribe",
        "params": {"channel": "lightning_board_snapshot_BTC_JPY"},
        "id": 3,
    }
    ack, snap = dialect.on_client_frame(session, subscribe, markets, NOW)
    assert orjson.loads(ack) == {"jsonrpc": "2.0", "id": 3, "result": True}
    body = orjson.loads(snap)["params"]["message"]
    assert set(body) == {"mid_price", "bids", "asks"} and body["mid_price"] > 0
    assert "BTC_JPY" in session.subscribed
    assert len(dialect.heartbeat(session, markets, NOW)) == 1  # the periodic snapshot
    unsubscribe = {**subscribe, "method": "unsubscribe"}
    dialect.on_client_frame(session, unsubscribe, markets, NOW)
    assert "BTC_JPY" not in session.subscribed and dialect.heartbeat(session, markets, NOW) == []
    unknown = {**subscribe, "params": {"channel": "lightning_board_snapshot_NOPE"}}
    (err,) = dialect.on_client_frame(session, unknown, markets, NOW)
    assert orjson.loads(err)["error"]["code"] == -32602
