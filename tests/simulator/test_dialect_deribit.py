"""The simulator's Deribit dialect, read back by the Deribit scheme: random
book changes and trades on simulated markets must leave the scheme's books
equal to the reference books, trades must come through, heartbeats must be
answered, and a lost notification must be noticed and repaired. The venue
sends JSON numbers, so "5.10" comes back as "5.1": compared by exact value."""

from __future__ import annotations

import orjson

from level4.simulator.dialects.deribit_dialect import dialect
from level4.simulator.dialects.dialect_base import ClientSession
from tests.simulator.simulator_harness import NOW, DialectClient, make_markets
from translations.deribit import scheme
from translations.protocol import MarketType

INSTRUMENTS = [
    scheme.instrument("BTC", "USD", MarketType.PERP),
    scheme.from_symbol("ETH-24SEP21"),
    scheme.from_symbol("BTC-24SEP21-8000-P"),
]


def connected(count: int) -> DialectClient:
    client = DialectClient(make_markets("DERIBIT", INSTRUMENTS[:count], seed=11, dt=0.05))
    client.connect()
    return client


def drive(client: DialectClient, steps: int) -> None:
    client.drive(steps, heartbeat_every=1)  # the dialect keeps its own heartbeat clock


def test_books_and_trades_round_trip() -> None:
    client = connected(len(INSTRUMENTS))
    drive(client, 4000)
    client.assert_books_equal(by_value=True)
    assert client.tr.malformed == 0 and client.tr.resyncs == 0
    assert len(client.made) > 100
    client.assert_trades(by_value=True, stamp=lambda ts: int(ts * 1000) / 1000.0)
    # 200 simulated seconds at the 30 s the scheme asked for; every test_request was answered
    assert client.heartbeat_frames == 6 and client.session.extra["unanswered"] == 0


def test_a_lost_change_is_noticed_and_the_book_resubscribed() -> None:
    client = connected(1)
    drive(client, 500)
    client.tamper = lambda frames: []  # the next change is lost on the way
    drive(client, 500)
    assert client.tamper is None
    # the next change's prev_change_id exposed the gap; a fresh subscription repaired the book
    assert client.tr.resyncs == 1 and client.tr.malformed == 0
    client.assert_books_equal(by_value=True)


def test_the_dialect_answers_like_the_venue() -> None:
    markets = make_markets("DERIBIT", INSTRUMENTS[:1], seed=11).markets
    session = ClientSession()
    channels = ["book.BTC-PERPETUAL.100ms", "book.NOPE.100ms"]
    subscribe = {"jsonrpc": "2.0", "id": 7, "method": "public/subscribe", "params": {"channels": channels}}
    (ack, snap) = dialect.on_client_frame(session, subscribe, markets, NOW)
    assert orjson.loads(ack)["result"] == ["book.BTC-PERPETUAL.100ms"]  # unknown channels are left out
    data = orjson.loads(snap)["params"]["data"]
    assert data["type"] == "snapshot" and data["change_id"] == markets["BTC-PERPETUAL"].update_id
    (err,) = dialect.on_client_frame(session, {"jsonrpc": "2.0", "id": 8, "method": "public/nope"}, markets, NOW)
    assert orjson.loads(err)["error"]["code"] == -32601
    (err,) = dialect.on_client_frame(session, "not json", markets, NOW)
    assert orjson.loads(err)["error"]["code"] == -32700
    assert dialect.heartbeat(session, markets, NOW + 100) == []  # none until asked for
