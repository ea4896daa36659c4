"""The simulator's Binance dialect, read back by the Binance scheme: random
book changes and trades must leave the scheme's books equal to the reference
books, joined from REST snapshots answered while diffs are buffered; trades
must come through; the keep-alive must be answered; and a lost diff must be
noticed and repaired from a new snapshot."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from level4.simulator.dialects.binance_dialect import dialect
from level4.simulator.dialects.dialect_base import ClientSession
from tests.simulator.simulator_harness import NOW, DialectClient, PairSpec, make_markets
from translations.binance import scheme

PAIRS: list[PairSpec] = ["BTC-USDT", scheme.from_symbol("ETHBTC")]


def connected(pairs: Sequence[PairSpec], seed: int = 3) -> DialectClient:
    # snapshots answered seven steps late: the diffs meanwhile are buffered, then joined
    client = DialectClient(make_markets("BINANCE", pairs, seed, dt=0.05), fetch_delay=7)
    client.connect()
    return client


def test_books_and_trades_round_trip() -> None:
    client = connected(PAIRS)
    client.drive(3000, ping_every=400)
    client.assert_books_equal(sequence=True)
    assert client.tr.malformed == 0 and client.tr.resyncs == 0 and client.tr.synchronised()
    assert len(client.made) > 100
    client.assert_trades(stamp=lambda ts: int(ts * 1000) / 1000.0)
    # the keep-alive (LIST_SUBSCRIPTIONS) asked and answered
    assert sum('"result":["btcusdt@depth@100ms"' in f for f in client.received) == 7


def test_a_lost_diff_is_noticed_and_repaired_from_a_new_snapshot() -> None:
    client = connected(PAIRS[:1])
    client.drive(300)
    client.assert_books_equal(sequence=True)
    client.tamper = lambda frames: []  # the next diff is lost on the way
    client.drive(300)
    assert client.tamper is None
    # the next diff's first update id exposed the gap; a new snapshot joined the stream again
    assert client.tr.resyncs == 1 and client.tr.malformed == 0
    client.assert_books_equal(sequence=True)


def test_the_dialect_answers_like_the_venue() -> None:
    markets = make_markets("BINANCE", PAIRS[:1], seed=3).markets
    session, now = ClientSession(), NOW
    sub = {"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms", "nopeusdt@trade"], "id": 1}
    assert dialect.on_client_frame(session, sub, markets, now) == ['{"result":null,"id":1}']
    assert session.subscribed == {"BTCUSDT"}
    (listing,) = dialect.on_client_frame(session, {"method": "LIST_SUBSCRIPTIONS", "id": 2}, markets, now)
    assert orjson.loads(listing) == {"result": ["btcusdt@depth@100ms", "nopeusdt@trade"], "id": 2}
    (err,) = dialect.on_client_frame(session, {"method": "SUBSCRIBES", "id": 3}, markets, now)
    assert orjson.loads(err)["error"]["code"] == 2
    (err,) = dialect.on_client_frame(session, {"method": "SUBSCRIBE", "params": ["x"], "id": "a"}, markets, now)
    assert orjson.loads(err)["error"]["code"] == 2
    (err,) = dialect.on_client_frame(session, "not json", markets, now)
    assert orjson.loads(err)["error"]["code"] == 3
    unsub = {"method": "UNSUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 4}
    dialect.on_client_frame(session, unsub, markets, now)
    assert session.subscribed == set()

    market = markets["BTCUSDT"]
    answer = dialect.rest("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "5"}, markets, now)
    assert answer is not None
    status, body = answer
    assert status == 200 and body["lastUpdateId"] == market.update_id and len(body["bids"]) == 5
    assert body["asks"][0] == list(market.book.best_ask() or [])
    assert dialect.rest("/api/v3/depth", {"symbol": "NOPE"}, markets, now) == (
        400,
        {"code": -1121, "msg": "Invalid symbol."},
    )
    assert dialect.rest("/api/v3/ticker", {}, markets, now) is None
