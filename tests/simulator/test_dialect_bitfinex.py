"""The simulator's Bitfinex dialect, read back by the Bitfinex scheme: after
random order flow the scheme's books equal the reference books, every
sequence number follows the last and every checksum matches. Bitfinex sends
JSON numbers, so "50000.00" comes back as "50000": books and trades are
compared by value."""

from __future__ import annotations

from typing import Any

import orjson

from level4.simulator.dialects.bitfinex_dialect import dialect
from level4.simulator.dialects.dialect_base import ClientSession
from tests.simulator.simulator_harness import NOW, DialectClient, Pair, SimVenue, make_markets
from translations.bitfinex import scheme

# Prices of a few hundred satoshi: JavaScript writes them as 4.5e-7 in the checksum.
PAIRS = [Pair("BTC-USD"), Pair("SHIB-BTC", tick_decimals=8, mid_ticks=50)]


def connected(sim: SimVenue, book_len: str = "100", allow_reconnect: bool = False) -> DialectClient:
    client = DialectClient(sim, dialect=dialect, allow_reconnect=allow_reconnect)

    def depth_under_test(frame: Any) -> Any:
        return {**frame, "len": book_len} if frame.get("channel") == "book" else frame

    client.rewrite = depth_under_test
    client.connect()
    return client


def drive(client: DialectClient, steps: int) -> None:
    client.drive(steps, heartbeat_every=200)


def checksums_sent(client: DialectClient) -> int:
    return sum(isinstance(f := orjson.loads(raw), list) and f[1] == "cs" for raw in client.received)


def assert_books_equal(client: DialectClient, depth: int) -> None:
    client.assert_books_equal(depth, by_value=True)
    counts = {len(lv) == 3 and lv[-1] for book in client.keeper.books.values() for lv in book.bids_levels()}
    counts |= {len(lv) == 3 and lv[-1] for book in client.keeper.books.values() for lv in book.asks_levels()}
    assert counts == {1}  # order counts kept


def test_round_trip_with_sequences_and_checksums() -> None:
    client = connected(make_markets("BITFINEX", PAIRS, seed=3, dt=1.0))
    drive(client, 3000)
    assert_books_equal(client, 100)
    assert client.keeper.checksums_verified == checksums_sent(client) > 2500
    assert client.keeper.checksum_failures == 0 and client.tr.malformed == 0 and client.tr.resyncs == 0
    assert client.tr.synchronised()
    assert client.tr.state.sequence > 5000  # every frame numbered, none missing
    # each trade once, although the venue sends it as "te" and again as "tu"
    assert len(client.made) > 200
    client.assert_trades(by_value=True)


def test_a_window_of_25_levels_is_kept_by_adds_and_removals() -> None:
    sim = make_markets("BITFINEX", PAIRS, seed=5, levels=40, dt=1.0)  # books deeper than the window
    client = connected(sim, book_len="25")
    deeper = 0
    for _ in range(20):
        drive(client, 100)
        assert_books_equal(client, 25)
        deeper += sum(len(m.book.bids) > 25 or len(m.book.asks) > 25 for m in sim.markets.values())
    assert deeper > 10  # the window really cut the book, often
    assert client.keeper.checksum_failures == 0
    # only changes inside the window are sent, each with its checksum, every one verified
    assert client.hidden > 100
    assert client.keeper.checksums_verified == checksums_sent(client) > 1000


def test_checksum_mismatch_resubscribes_that_book_only() -> None:
    client = connected(make_markets("BITFINEX", PAIRS, seed=9, dt=1.0))
    drive(client, 500)
    btc_book = next(w.chan for s, w in client.session.extra["bitfinex"].books.items() if s == "tBTCUSD")

    def double_a_size(frames: list[str]) -> list[str] | None:
        # same sequence number, wrong amount: only the checksum can tell
        for n, raw in enumerate(frames):
            frame = orjson.loads(raw)
            if frame[0] == btc_book and isinstance(frame[1], list) and frame[1][1] > 0:
                wrong = [frame[0], [frame[1][0], frame[1][1], frame[1][2] * 2], frame[2]]
                return [*frames[:n], orjson.dumps(wrong).decode(), *frames[n + 1 :]]
        return None

    client.tamper = double_a_size
    drive(client, 1000)
    assert client.tamper is None  # it struck
    assert client.keeper.checksum_failures == 1 and client.tr.resyncs == 1
    assert [d.symbol for d in client.desyncs] == ["tBTCUSD"]
    assert client.reconnects == [] and client.tr.synchronised()
    assert_books_equal(client, 100)  # resubscribed: a fresh snapshot, then in step again


def test_a_lost_frame_is_a_gap_then_a_new_connection_recovers() -> None:
    client = connected(make_markets("BITFINEX", PAIRS, seed=13, dt=1.0), allow_reconnect=True)
    drive(client, 300)
    client.tamper = lambda frames: frames[1:] if frames else None  # one frame lost, the next arrives
    drive(client, 20)
    assert len(client.reconnects) == 1 and not client.tr.synchronised()
    assert not any(b.synchronised for b in client.keeper.books.values())
    client.reconnect()
    drive(client, 500)
    assert_books_equal(client, 100)
    assert client.tr.synchronised() and client.keeper.checksum_failures == 0


def test_requests_the_venue_refuses_and_pings() -> None:
    markets = make_markets("BITFINEX", PAIRS, seed=1).markets
    session = ClientSession()
    info, conf = dialect.on_client_frame(session, {"event": "conf", "flags": 65536}, markets, NOW)
    assert orjson.loads(info)["event"] == "info"
    assert orjson.loads(conf) == {"event": "conf", "status": "OK", "flags": 65536}
    (pong,) = dialect.on_client_frame(session, {"event": "ping", "cid": 7}, markets, NOW)
    assert orjson.loads(pong) == {"event": "pong", "ts": int(NOW * 1000), "cid": 7}
    (bad,) = dialect.on_client_frame(
        session, {"event": "subscribe", "channel": "book", "symbol": "tXYZABC"}, markets, NOW
    )
    assert orjson.loads(bad)["code"] == 10300
    (unknown,) = dialect.on_client_frame(session, {"event": "dance"}, markets, NOW)
    assert orjson.loads(unknown)["code"] == 10000
    # the scheme reads the refusal as a reason, not a crash
    state = scheme.initial_state(list(m.instrument for m in markets.values()))
    out, _ = scheme.translate(orjson.loads(bad), state)
    assert [type(i).__name__ for i in out] == ["Malformed"]
