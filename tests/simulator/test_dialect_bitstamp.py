"""The simulator's Bitstamp dialect, read back by the Bitstamp scheme: random
book changes and trades must leave the scheme's books equal to the reference
books, joined from REST snapshots by microtimestamp while diffs are
buffered; trades must come through; heartbeats must be answered; and a diff
delivered out of order must be noticed and repaired from a new snapshot."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from level4.simulator.dialects.bitstamp_dialect import dialect
from level4.simulator.dialects.dialect_base import ClientSession
from tests.simulator.simulator_harness import NOW, DialectClient, PairSpec, Tamper, drive, make_markets
from translations.bitstamp import scheme

PAIRS: list[PairSpec] = ["BTC-USD", scheme.from_symbol("etheur")]


def connected(pairs: Sequence[PairSpec], clients: int = 1) -> list[DialectClient]:
    sim = make_markets("BITSTAMP", pairs, seed=5, dt=0.05)
    # later clients answer their fetches later, so their joins differ
    out = [DialectClient(sim, fetch_delay=3 + 9 * n) for n in range(clients)]
    for client in out:
        client.connect()
    return out


def hold_the_next_diff(client: DialectClient) -> Tamper:
    """Delays the next diff on its way: it arrives after the one behind it."""

    def hold(frames: list[str]) -> list[str] | None:
        if not frames:
            return None
        held = frames[0]
        client.tamper = lambda later: [*later, held] if later else None
        return frames[1:]

    return hold


def test_books_and_trades_round_trip_for_every_client() -> None:
    clients = connected(PAIRS, clients=2)
    drive(clients, 3000, ping_every=300)
    for c in clients:
        c.assert_books_equal()
        assert c.tr.malformed == 0 and c.tr.resyncs == 0 and c.tr.synchronised()
        assert len(c.made) > 100
        c.assert_trades(stamp=lambda ts: int(ts * 1_000_000) / 1_000_000)
        # ten heartbeats asked and answered
        beats = [r for r in c.received if '"bts:heartbeat"' in r]
        assert len(beats) == 10 and all(orjson.loads(b)["data"] == {"status": "success"} for b in beats)
    assert clients[0].made == clients[1].made


def test_a_diff_out_of_order_is_noticed_and_repaired_from_a_new_snapshot() -> None:
    (c,) = connected(PAIRS[:1])
    c.drive(300)
    c.assert_books_equal()
    c.tamper = hold_the_next_diff(c)
    c.drive(300)
    assert c.tamper is None  # held, then delivered late
    # the late diff's microtimestamp ran backwards; a new snapshot joined the stream again
    assert c.tr.resyncs == 1 and c.tr.malformed == 0
    c.assert_books_equal()


def test_the_dialect_answers_like_the_venue() -> None:
    sim = make_markets("BITSTAMP", PAIRS[:1], seed=5)
    session, markets, now = ClientSession(), sim.markets, NOW
    sub = {"event": "bts:subscribe", "data": {"channel": "diff_order_book_btcusd"}}
    (ack,) = dialect.on_client_frame(session, sub, markets, now)
    assert orjson.loads(ack) == {"event": "bts:subscription_succeeded", "channel": "diff_order_book_btcusd", "data": {}}
    assert session.subscribed == {"btcusd"}
    bad = {"event": "bts:subscribe", "data": {"channel": "diff_order_book_nope"}}
    (err,) = dialect.on_client_frame(session, bad, markets, now)
    assert orjson.loads(err)["event"] == "bts:error"
    (err,) = dialect.on_client_frame(session, "not json", markets, now)
    assert orjson.loads(err)["event"] == "bts:error"
    unsub = {"event": "bts:unsubscribe", "data": {"channel": "diff_order_book_btcusd"}}
    (ack,) = dialect.on_client_frame(session, unsub, markets, now)
    assert orjson.loads(ack)["event"] == "bts:unsubscription_succeeded" and session.subscribed == set()

    market = markets["btcusd"]
    answer = dialect.rest("/api/v2/order_book/btcusd", {}, markets, now)
    assert answer is not None
    status, body = answer
    assert status == 200 and body["bids"][0] == list(market.book.best_bid() or [])
    assert int(body["timestamp"]) == int(body["microtimestamp"]) // 1_000_000
    # the same book state always carries the same stamp; a change gets a later one, even at the same clock time
    assert dialect.rest("/api/v2/order_book/btcusd/", {}, markets, now - 5) == (status, body)
    sim.flows[0].step(now)
    later = dialect.rest("/api/v2/order_book/btcusd", {}, markets, now - 5)
    assert later is not None and int(later[1]["microtimestamp"]) > int(body["microtimestamp"])
    assert dialect.rest("/api/v2/order_book/nope", {}, markets, now) is not None
    assert dialect.rest("/api/v2/ticker/btcusd", {}, markets, now) is None
