"""The simulator's Kraken spot v1 dialect, read back by the v1 scheme (kept for
replaying v1 sessions): after random order flow the scheme's books equal the
reference books exactly."""

from __future__ import annotations

from typing import cast

import orjson

from level4.simulator.dialects.dialect_base import ClientSession
from level4.simulator.dialects.kraken_dialect import dialect
from tests.simulator.simulator_harness import NOW, DialectClient, Pair, PairSpec, make_markets
from translations.kraken import KrakenScheme
from translations.kraken import scheme as v1
from translations.protocol import MarketType, Scheme

# v1's own names (XBT/USD, XDG/EUR): Kraken spot's first API is v2 now.
PAIRS: list[PairSpec] = [
    Pair(v1.instrument("BTC", "USD", MarketType.SPOT)),
    Pair(v1.instrument("DOGE", "EUR", MarketType.SPOT), tick_decimals=5),
]


def connected(scheme: KrakenScheme, seed: int) -> DialectClient:
    sim = make_markets("KRAKEN", PAIRS, seed, dt=1.0)
    client = DialectClient(sim, scheme=cast(Scheme, scheme), dialect=dialect)
    client.connect()
    return client


def drive(client: DialectClient, steps: int) -> None:
    client.drive(steps, heartbeat_every=100)


def test_full_depth_round_trip() -> None:
    client = connected(KrakenScheme(), seed=7)
    drive(client, 3000)
    client.assert_books_equal()
    assert client.hidden == 0 and client.keeper.checksums_verified == client.book_frames == 3000
    assert client.keeper.checksum_failures == 0 and client.tr.malformed == 0 and client.tr.resyncs == 0
    assert len(client.made) > 100
    client.assert_trades(trade_id=None)  # the venue's trades carry no id


def test_depth_ten_window_truncates_and_republishes() -> None:
    client = connected(KrakenScheme(depth=10), seed=11)
    drive(client, 3000)
    client.assert_books_equal(depth=10)
    # deletes inside the window brought deeper levels back
    assert sum(frame.count('"r"]') for frame in client.received) > 20
    assert client.hidden > 100  # changes beyond the window were not sent
    assert client.keeper.checksums_verified == client.book_frames and client.keeper.checksum_failures == 0


def test_lost_frame_is_repaired_by_resubscribing() -> None:
    client = connected(KrakenScheme(), seed=3)
    drive(client, 500)
    client.tamper = lambda frames: []  # lost on the way
    drive(client, 1500)
    assert client.keeper.checksum_failures == 1 and client.tr.resyncs == 1
    # the scheme unsubscribed and subscribed again; the fresh snapshot healed the book
    client.assert_books_equal()


def test_ping_errors_and_heartbeats() -> None:
    markets = make_markets("KRAKEN", PAIRS, seed=1).markets
    session = ClientSession()
    assert dialect.heartbeat(session, markets, NOW) == []
    status, pong = dialect.on_client_frame(session, {"event": "ping", "reqid": 4}, markets, NOW)
    assert orjson.loads(status)["event"] == "systemStatus"
    assert orjson.loads(pong) == {"event": "pong", "reqid": 4}
    client = DialectClient(make_markets("KRAKEN", PAIRS, seed=1), scheme=cast(Scheme, v1), dialect=dialect)
    client.ping()
    assert client.tr.malformed == 0
    client.connect()
    client.receive(dialect.heartbeat(client.session, client.markets, NOW))
    assert client.tr.malformed == 0 and client.tr.synchronised()
    # a pair the venue does not list: refused, and the scheme gives up the connection
    client.allow_malformed = client.allow_reconnect = True
    client.send([orjson.dumps({"event": "subscribe", "pair": ["XBT/XYZ"], "subscription": {"name": "book"}})])
    assert client.tr.malformed == 1 and len(client.reconnects) == 1
