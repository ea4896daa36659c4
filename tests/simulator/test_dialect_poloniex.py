"""The Poloniex dialect round-trips with the Poloniex scheme: random order flow
on simulated markets, rendered by the dialect as book_lv2's 20-level view,
translated by the scheme, must give the reference books' best 20 levels a
side exactly, and every trade."""

from __future__ import annotations

import orjson

from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.dialect_base import ClientSession, SimTrade
from level4.simulator.orderflow import OrderFlow
from tests.simulator.simulator_harness import DialectClient, make_markets

dialect = dialect_for("POLONIEX")
PAIRS = ["BTC-USDT", "XLM-BTC"]  # XLM is STR on Poloniex
DEPTH = 20


def connected(seed: int) -> DialectClient:
    # a book deeper than the view, with changes on both sides of its edge
    client = DialectClient(make_markets("POLONIEX", PAIRS, seed, levels=3 * DEPTH))
    client.connect()
    return client


def test_random_flow_gives_the_reference_top_20_and_every_trade() -> None:
    client = connected(seed=11)
    assert set(client.markets) == {"BTC_USDT", "STR_BTC"}
    flows = client.sim.flows

    def uneven(n: int) -> OrderFlow:
        return flows[n % 2 if n % 5 else 0]

    for _ in range(6):
        # pings answered with a pong, which the scheme accepts
        client.drive(500, pick=uneven, ping_every=1000)
        client.assert_books_equal(DEPTH)
    assert client.hidden > 100  # changes beyond the top 20, which the venue does not publish
    assert any(len(m.book.bids) > DEPTH or len(m.book.asks) > DEPTH for m in client.markets.values())
    assert len(client.made) > 100
    client.assert_trades(stamp=lambda ts: int(ts * 1000) / 1000)
    assert not client.desyncs and client.tr.malformed == 0


def test_a_lost_update_is_detected_and_the_resubscription_heals_the_book() -> None:
    client = connected(seed=5)
    flow = client.sim.flows[0]
    symbol = flow.market.instrument.symbol
    client.drive(50, pick=flow)
    client.tamper = lambda frames: frames[1:] if frames else None  # lose the first change the client would see
    while not client.desyncs:
        client.drive(1, pick=flow)
    assert client.tamper is None
    assert [d.symbol for d in client.desyncs] == [symbol]
    assert client.keeper.books[symbol].synchronised  # the dialect answered the resubscription with a snapshot
    client.drive(200, pick=flow)
    client.assert_books_equal(DEPTH)


def test_dialect_speaks_the_venues_frames() -> None:
    session = ClientSession()
    markets = make_markets("POLONIEX", PAIRS[:1], seed=1).markets
    market = markets["BTC_USDT"]
    sub = {"event": "subscribe", "channel": ["book_lv2", "trades"], "symbols": ["BTC_USDT"]}
    frames = [orjson.loads(f) for f in dialect.on_client_frame(session, sub, markets, 1.0)]
    assert frames[0] == {"event": "subscribe", "channel": "book_lv2", "symbols": ["BTC_USDT"]}
    assert frames[1]["action"] == "snapshot" and len(frames[1]["data"][0]["bids"]) == DEPTH
    assert frames[2] == {"event": "subscribe", "channel": "trades", "symbols": ["BTC_USDT"]}
    assert session.subscribed == {"BTC_USDT"}
    (pong,) = dialect.on_client_frame(session, {"event": "ping"}, markets, 1.0)
    assert orjson.loads(pong) == {"event": "pong"}
    bad = dict(sub, symbols=["NOPE_USDT"])
    (err,) = (orjson.loads(f) for f in dialect.on_client_frame(session, bad, markets, 1.0))
    assert err["event"] == "error" and "NOPE_USDT" in err["message"]
    trade = SimTrade(9, "sell", "100.50", "2.00000000", 2.0)
    (row,) = orjson.loads(dialect.on_trade(session, market, trade, 2.0)[0])["data"]
    assert (row["takerSide"], row["amount"], row["id"]) == ("sell", "201.0000000000", "9")
    assert dialect.heartbeat(session, markets, 1.0) == [] and dialect.rest("/markets", {}, markets, 1.0) is None
    unsub = {"event": "unsubscribe", "channel": ["book_lv2", "trades"], "symbols": ["BTC_USDT"]}
    dialect.on_client_frame(session, unsub, markets, 1.0)
    assert session.subscribed == set()
