"""The simulator's Kraken spot v2 dialect, read back by the v2 scheme: after
random order flow the books equal the reference books as the same strings
(the venue's JSON numbers padded back to the pair's precision), every
checksum verified; a lost or corrupted update costs that pair alone a
resubscribe."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest

from level4.cli import main
from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.dialect_base import ClientSession
from level4.simulator.dialects.kraken_v2_dialect import dialect
from level4.simulator.faults import Faults, Link, supported
from level4.simulator.server import VenueSimulator
from tests.simulator.simulator_harness import NOW, DialectClient, Pair, PairSpec, make_markets
from translations import scheme_for
from translations.kraken_v2 import KrakenV2Scheme
from translations.protocol import Scheme

# Prices on a two- and a five-decimal grid: "50000.10" goes out as 50000.1, "0.50000" as 0.5.
PAIRS: list[PairSpec] = ["BTC-USD", Pair("DOGE-EUR", tick_decimals=5, mid_ticks=50_000)]


def connected(scheme: KrakenV2Scheme, seed: int) -> DialectClient:
    client = DialectClient(make_markets("KRAKEN", PAIRS, seed, dt=1.0), scheme=cast(Scheme, scheme))
    client.connect()
    return client


def requests(client: DialectClient, method: str, channel: str) -> list[dict[str, Any]]:
    return [
        r
        for r in client.requests
        if isinstance(r, dict) and r.get("method") == method and r["params"]["channel"] == channel
    ]


def test_the_default_dialect_and_scheme_of_kraken_spot_are_v2() -> None:
    assert dialect_for("KRAKEN") is dialect
    assert isinstance(scheme_for("KRAKEN"), KrakenV2Scheme)
    assert dialect_for("KRAKEN", "v1") is not dialect
    assert "checksum" in supported("KRAKEN") and "drop" not in supported("KRAKEN")


def test_full_depth_round_trip_with_trailing_zeros() -> None:
    client = connected(KrakenV2Scheme(), seed=7)
    client.drive(3000, heartbeat_every=100)
    client.assert_books_equal()  # the same strings: every trailing zero restored
    # two snapshots and every update verified, none failed
    assert client.keeper.checksums_verified == client.book_frames + 2 and client.book_frames == 3000
    assert client.keeper.checksum_failures == 0 and client.tr.malformed == 0 and client.tr.resyncs == 0
    assert client.heartbeat_frames > 0
    # trailing zeros were lost on the wire ("0.12340" went as 0.1234) and restored
    sizes = [lv[1] for b in client.keeper.books.values() for lv in b.bids_levels() + b.asks_levels()]
    assert sum(size.endswith("0") for size in sizes) > 10
    assert len(client.made) > 100
    client.assert_trades(stamp=lambda ts: round(ts, 6), tolerance=1e-6)


def test_depth_ten_window_truncates_and_brings_levels_back() -> None:
    client = connected(KrakenV2Scheme(depth=10), seed=11)
    client.drive(3000)
    client.assert_books_equal(depth=10)
    assert client.hidden > 100  # changes beyond the window were not sent
    assert client.keeper.checksums_verified == client.book_frames + 2 and client.keeper.checksum_failures == 0
    assert all(len(b.bids_levels()) == 10 and len(b.asks_levels()) == 10 for b in client.keeper.books.values())


def test_lost_update_resubscribes_that_pair_alone() -> None:
    client = connected(KrakenV2Scheme(), seed=3)
    client.drive(500)
    client.tamper = lambda frames: []  # lost on the way
    client.drive(1500)
    assert client.keeper.checksum_failures == 1 and client.tr.resyncs == 1 and not client.reconnects
    (unsub,) = requests(client, "unsubscribe", "book")
    assert len(unsub["params"]["symbol"]) == 1
    assert len(requests(client, "subscribe", "instrument")) == 1  # the connection was kept
    client.assert_books_equal()


def test_corrupted_checksum_resubscribes_that_pair_alone() -> None:
    client = connected(KrakenV2Scheme(), seed=5)
    client.drive(200)
    faults, link = Faults("KRAKEN", {"checksum": 1.0}, corrupt_checksum=dialect.corrupt_checksum), Link()
    client.tamper = lambda frames: faults.book_frames(link, frames)[0] if frames else None  # the next update
    client.drive(300)
    assert client.keeper.checksum_failures == 1 and client.tr.resyncs == 1 and not client.reconnects
    client.assert_books_equal()


def test_instrument_list_comes_first_with_each_pairs_precision() -> None:
    client = connected(KrakenV2Scheme(), seed=1)
    first = requests(client, "subscribe", "instrument")[0]
    assert client.requests.index(first) == 0
    instruments = next(orjson.loads(f) for f in client.received if '"channel":"instrument","type"' in f)
    precisions = {p["symbol"]: (p["price_precision"], p["qty_precision"]) for p in instruments["data"]["pairs"]}
    assert precisions == {"BTC/USD": (2, 8), "DOGE/EUR": (5, 8)}
    state = client.tr.state
    assert {s: (p.price_places, p.qty_places) for s, p in state.pairs.items()} == precisions


def test_ping_errors_and_heartbeats() -> None:
    markets = make_markets("KRAKEN", PAIRS, seed=1).markets
    session = ClientSession()
    assert dialect.heartbeat(session, markets, NOW) == []
    status, pong = (
        orjson.loads(f) for f in dialect.on_client_frame(session, {"method": "ping", "req_id": 4}, markets, NOW)
    )
    assert status["channel"] == "status" and status["data"][0]["system"] == "online"
    assert pong["method"] == "pong" and pong["req_id"] == 4
    client = DialectClient(make_markets("KRAKEN", PAIRS, seed=1))
    client.ping()
    assert client.tr.malformed == 0
    client.connect()
    client.receive(dialect.heartbeat(client.session, client.markets, NOW))
    assert client.tr.malformed == 0 and client.tr.synchronised()
    # a pair the venue does not list: refused, and the scheme gives up the connection
    client.allow_malformed = client.allow_reconnect = True
    client.send([orjson.dumps({"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/XYZ"]}})])
    assert client.tr.malformed == 1 and len(client.reconnects) == 1


def test_the_simulator_speaks_v2_unless_asked_for_v1(capsys: pytest.CaptureFixture[str]) -> None:
    v2 = VenueSimulator("KRAKEN", ["BTC-USD"])
    assert v2.dialect is dialect and list(v2.markets) == ["BTC/USD"] and v2.faults.venue == "KRAKEN"
    v1 = VenueSimulator("KRAKEN", ["BTC-USD"], api="v1", faults={"checksum": 0.1})
    assert v1.dialect is dialect_for("KRAKEN", "v1") and list(v1.markets) == ["XBT/USD"]
    assert v1.faults.venue == "KRAKEN/v1"
    assert main(["simulate", "--venue", "kraken", "--api", "v1", "--faults", "drop=0.1"]) == 2
    assert "KRAKEN/v1 cannot have drop faults" in capsys.readouterr().err
    assert main(["simulate", "--venue", "kraken", "--api", "v3"]) == 2
    assert "KRAKEN v3" in capsys.readouterr().err
