"""The simulator's Binance futures and Kraken Futures dialects, read back by their
schemes: random book changes and trades leave the books equal to the reference;
a lost message is noticed and repaired."""

from __future__ import annotations

import orjson
import pytest

from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.dialect_base import ClientSession
from tests.simulator.simulator_harness import NOW, DialectClient, make_markets
from translations.binance_futures import coinm, usdm
from translations.kraken_futures import scheme as kraken_futures
from translations.protocol import MarketType
from translations.scheme_defaults import SchemeDefaults


def binance_client(scheme: SchemeDefaults, quote: str, seed: int = 3) -> DialectClient:
    pairs = [scheme.instrument("BTC", quote, MarketType.PERP), scheme.instrument("ETH", quote, MarketType.PERP)]
    sim = make_markets("BINANCE", pairs, seed, dt=0.05)
    client = DialectClient(sim, scheme=scheme, dialect=dialect_for("BINANCE", scheme.api), fetch_delay=7)  # type: ignore[arg-type]
    client.connect()
    return client


@pytest.mark.parametrize(("scheme", "quote"), [(usdm, "USDT"), (coinm, "USD")])
def test_binance_futures_books_and_trades_round_trip(scheme: SchemeDefaults, quote: str) -> None:
    client = binance_client(scheme, quote)
    client.drive(3000, ping_every=400)
    client.assert_books_equal()
    assert client.tr.malformed == 0 and client.tr.resyncs == 0 and client.tr.synchronised()
    client.assert_trades(stamp=lambda ts: int(ts * 1000) / 1000.0)
    # ids are three apart: only the pu chain joins them
    assert all(s.sequence is not None and s.sequence % 3 == 0 for s in client.keeper.books.values())


def test_binance_futures_lost_diff_is_repaired_from_a_new_snapshot() -> None:
    client = binance_client(usdm, "USDT")
    client.drive(300)
    client.tamper = lambda frames: []
    client.drive(300)
    assert client.tr.resyncs == 1 and client.tr.malformed == 0
    client.assert_books_equal()


def test_binance_futures_rest_paths_are_the_apis_own() -> None:
    markets = make_markets("BINANCE", [coinm.instrument("BTC", "USD", MarketType.PERP)], seed=3).markets
    dialect = dialect_for("BINANCE", "coinm")
    status, body = dialect.rest("/dapi/v1/depth", {"symbol": "BTCUSD_PERP", "limit": "1000"}, markets, NOW) or (0, {})
    assert status == 200 and body["lastUpdateId"] % 3 == 0 and body["bids"]
    assert dialect.rest("/api/v3/depth", {"symbol": "BTCUSD_PERP"}, markets, NOW) is None


def kraken_client(seed: int = 4) -> DialectClient:
    pairs = [kraken_futures.instrument("BTC", "USD", MarketType.PERP), kraken_futures.from_symbol("FF_ETHUSD_261225")]
    sim = make_markets("KRAKEN", pairs, seed, dt=0.05)
    client = DialectClient(sim, scheme=kraken_futures, dialect=dialect_for("KRAKEN", "futures"))
    client.connect()
    return client


def test_kraken_futures_books_and_trades_round_trip() -> None:
    client = kraken_client()
    client.drive(3000)
    client.assert_books_equal(by_value=True)
    assert client.tr.malformed == 0 and client.tr.resyncs == 0
    client.assert_trades(by_value=True, trade_id=lambda t: f"sim-{t.trade_id}", stamp=lambda ts: int(ts * 1000) / 1000)


def test_kraken_futures_lost_message_resubscribes_that_product() -> None:
    client = kraken_client()
    client.drive(300)
    client.tamper = lambda frames: frames[1:]  # the first level of the next change is lost
    client.drive(300)
    assert client.tr.resyncs == 1 and not client.reconnects
    unsubscribes = [r for r in client.requests if isinstance(r, dict) and r.get("event") == "unsubscribe"]
    assert len(unsubscribes) == 1 and len(unsubscribes[0]["product_ids"]) == 1
    client.assert_books_equal(by_value=True)


def test_kraken_futures_dialect_answers_like_the_venue() -> None:
    markets = make_markets("KRAKEN", [kraken_futures.instrument("BTC", "USD", MarketType.PERP)], seed=3).markets
    dialect, session = dialect_for("KRAKEN", "futures"), ClientSession()
    out = [
        orjson.loads(f)
        for f in dialect.on_client_frame(
            session, {"event": "subscribe", "feed": "book", "product_ids": ["pf_xbtusd"]}, markets, NOW
        )
    ]
    assert out[0] == {"event": "info", "version": 1}
    assert out[1] == {"event": "subscribed", "feed": "book", "product_ids": ["PF_XBTUSD"]}
    assert out[2]["feed"] == "book_snapshot" and out[2]["bids"]
    (err,) = dialect.on_client_frame(
        session, {"event": "subscribe", "feed": "book", "product_ids": ["PF_NOPE"]}, markets, NOW
    )
    assert orjson.loads(err) == {"event": "error", "message": "Invalid product id"}
