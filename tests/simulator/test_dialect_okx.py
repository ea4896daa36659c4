"""The simulator's OKX dialect, read back by the OKX scheme: after random
order flow the scheme's books equal the reference books exactly."""

from __future__ import annotations

import orjson

from level4.simulator.dialects.dialect_base import ClientSession
from level4.simulator.dialects.okx_dialect import OkxDialect, dialect
from tests.simulator.simulator_harness import NOW, DialectClient, Pair, make_markets
from translations.okx import scheme
from translations.protocol import MarketType

PAIRS = [
    Pair(scheme.instrument("BTC", "USDT", MarketType.SPOT), tick_decimals=1),
    Pair(scheme.instrument("BTC", "USD", MarketType.PERP), tick_decimals=1),
    Pair(scheme.from_symbol("BTC-USD-220527-30000-C"), tick_decimals=4),
]


def connected(seed: int, sim: OkxDialect = dialect) -> DialectClient:
    client = DialectClient(make_markets("OKX", PAIRS, seed, dt=1.0), dialect=sim)
    client.connect()
    return client


def drive(client: DialectClient, steps: int) -> None:
    client.drive(steps, heartbeat_every=100)


def test_round_trip_with_checksums_and_sequence_chain() -> None:
    client = connected(seed=5)
    drive(client, 3000)
    client.assert_books_equal(sequence=True)
    # snapshots and every push carry a checksum; all must match
    assert client.keeper.checksums_verified == client.book_frames + 3 + client.heartbeat_frames
    assert client.keeper.checksum_failures == 0 and client.tr.resyncs == 0 and client.tr.malformed == 0
    assert len(client.made) > 100
    client.assert_trades(stamp=lambda ts: int(ts * 1000) / 1000)


def test_today_without_checksums_and_with_a_narrow_window() -> None:
    """OKX now sends checksum 0: only the seqId chain guards the book. A ten
    level window exercises levels leaving (deleted) and entering (added)."""
    client = connected(seed=9, sim=OkxDialect(depth=10, checksums=False))
    drive(client, 3000)
    client.assert_books_equal(depth=10)
    assert client.keeper.checksums_verified == 0 and client.tr.resyncs == 0 and client.tr.malformed == 0
    assert client.hidden > 100


def test_keepalive_pushes_keep_the_chain() -> None:
    client = connected(seed=2)
    drive(client, 30)
    beats = dialect.heartbeat(client.session, client.markets, NOW)  # marks everything quiet
    beats = dialect.heartbeat(client.session, client.markets, NOW)  # nothing happened since: keep-alives
    assert len(beats) == 3 and all('"bids":[]' in b for b in beats)
    client.receive(beats)
    drive(client, 30)
    client.assert_books_equal()
    assert client.tr.resyncs == 0


def test_lost_push_is_repaired_by_resubscribing() -> None:
    client = connected(seed=4, sim=OkxDialect(checksums=False))
    drive(client, 700)
    client.tamper = lambda frames: []  # lost on the way
    drive(client, 1300)
    assert client.tamper is None
    # the next push names a predecessor the client never saw: resubscribe, fresh snapshot
    assert client.tr.resyncs == 1
    client.assert_books_equal()


def test_ping_and_refusals() -> None:
    sim = make_markets("OKX", PAIRS, seed=1)
    assert dialect.on_client_frame(ClientSession(), "ping", sim.markets, NOW) == ["pong"]
    client = DialectClient(sim)
    client.ping()  # the "pong" reaches the scheme as text
    assert client.tr.malformed == 0
    client.connect()
    assert client.tr.synchronised()
    client.allow_malformed = client.allow_reconnect = True
    client.send([orjson.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "NOPE-USDT"}]})])
    assert client.tr.malformed == 1 and len(client.reconnects) == 1
