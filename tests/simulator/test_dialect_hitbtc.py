"""The HitBTC dialect round-trips with the HitBTC scheme: random order flow on
simulated markets, rendered by the dialect, translated by the scheme, must
give the reference books exactly and every trade."""

from __future__ import annotations

from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.base import ClientSession, SimMarket, SimTrade
from level4.simulator.orderflow import OrderFlow
from translations.hitbtc import scheme
from translations.protocol import Desync, Instruction, MarketType, Trade

dialect = dialect_for("HITBTC")
PAIRS = (("BTC", "USDT"), ("ETH", "BTC"))


class Client:
    """Plays the server between the dialect and one scheme connection."""

    def __init__(self, seed: int) -> None:
        self.markets: dict[str, SimMarket] = {}
        self.flows: list[OrderFlow] = []
        for n, (base, quote) in enumerate(PAIRS):
            inst = scheme.instrument(base, quote, MarketType.SPOT)
            market = SimMarket(inst, OrderBook(inst.symbol))
            self.markets[inst.symbol] = market
            flow = OrderFlow(market, seed + n)
            flow.seed_book()
            self.flows.append(flow)
        self.session = ClientSession()
        self.tr = Translator(scheme, [m.instrument for m in self.markets.values()])
        self.keeper = BookKeeper(list(self.markets))
        self.work = ConnectionWork()
        self.trades: list[Trade] = []
        self.desyncs: list[Desync] = []
        self.now = 1_700_000_000.0
        self.send(scheme.subscribe_msg(self.tr.state))

    def send(self, frames: list[str]) -> None:
        for frame in frames:
            self.receive(dialect.on_client_frame(self.session, orjson.loads(frame), self.markets, self.now))

    def receive(self, frames: list[str]) -> None:
        for raw in frames:
            book: list[Instruction] = []
            self.tr.feed_raw(raw, book, self.work)
            self.keeper.apply(book, [], [])
            self.trades.extend(i for i in book if isinstance(i, Trade))
            self.desyncs.extend(i for i in book if isinstance(i, Desync))
            sends = [f for s in self.work.sends for f in s.frames]
            assert self.work.reconnect is None and not self.work.malformed, self.work
            self.work.clear()
            self.send([f if isinstance(f, str) else f.decode() for f in sends])

    def step(self, flow: OrderFlow, lose: bool = False) -> SimTrade | None:
        self.now += 0.01
        step = flow.step(self.now)
        market = flow.market
        if market.instrument.symbol not in self.session.subscribed:
            return step.trade
        frames = dialect.on_book_change(self.session, market, step.bids, step.asks, self.now)
        if step.trade is not None:
            frames += dialect.on_trade(self.session, market, step.trade, self.now)
        self.receive(frames[1:] if lose else frames)
        return step.trade

    def assert_books_equal_reference(self) -> None:
        for symbol, market in self.markets.items():
            ours = self.keeper.books[symbol]
            assert ours.synchronised
            assert ours.as_dict() == market.book.as_dict()
            assert ours.sequence == market.update_id


def test_random_flow_gives_the_reference_books_and_every_trade() -> None:
    client = Client(seed=7)
    assert all(b.synchronised for b in client.keeper.books.values())
    sim_trades: list[tuple[str, SimTrade]] = []
    for i in range(3000):
        flow = client.flows[i % 2 if i % 5 else 0]  # uneven: both markets, one busier
        trade = client.step(flow)
        if trade is not None:
            sim_trades.append((flow.market.instrument.symbol, trade))
        if i % 500 == 0:
            client.assert_books_equal_reference()
    client.assert_books_equal_reference()
    assert len(sim_trades) > 100
    assert [(t.symbol, t.side, t.price, t.size, t.trade_id) for t in client.trades] == [
        (symbol, t.taker_side, t.price, t.size, str(t.trade_id)) for symbol, t in sim_trades
    ]
    assert all(
        t.timestamp == int(s.timestamp * 1000) / 1000 for t, (_, s) in zip(client.trades, sim_trades, strict=True)
    )
    assert not client.desyncs


def test_a_lost_update_is_detected_and_the_resubscription_heals_the_book() -> None:
    client = Client(seed=3)
    flow = client.flows[0]
    symbol = flow.market.instrument.symbol
    for _ in range(50):
        client.step(flow)
    client.step(flow, lose=True)  # the next change is not delivered
    assert not client.desyncs  # nothing can tell until the next update
    while not client.desyncs:
        client.step(flow)
    # the scheme resubscribed; the dialect answered with a fresh snapshot
    assert [d.symbol for d in client.desyncs] == [symbol]
    assert client.keeper.books[symbol].synchronised
    for _ in range(200):
        client.step(flow)
    client.assert_books_equal_reference()


def test_dialect_speaks_the_venues_frames() -> None:
    session = ClientSession()
    inst = scheme.instrument("BTC", "USDT", MarketType.SPOT)
    market = SimMarket(inst, OrderBook(inst.symbol))
    OrderFlow(market, 1).seed_book()
    markets = {inst.symbol: market}
    sub: dict[str, Any] = {"method": "subscribe", "ch": "orderbook/full", "params": {"symbols": ["BTCUSDT"]}, "id": 5}
    ack, snap = (orjson.loads(f) for f in dialect.on_client_frame(session, sub, markets, 1.0))
    assert ack == {"result": {"ch": "orderbook/full", "subscriptions": ["BTCUSDT"]}, "id": 5}
    assert snap["snapshot"]["BTCUSDT"]["s"] == 0 and len(snap["snapshot"]["BTCUSDT"]["b"]) == 20
    bad = dict(sub, params={"symbols": ["NOPE"]})
    (err,) = (orjson.loads(f) for f in dialect.on_client_frame(session, bad, markets, 1.0))
    assert err["error"]["code"] == 2001 and err["id"] == 5
    (err,) = (orjson.loads(f) for f in dialect.on_client_frame(session, {"method": "ping"}, markets, 1.0))
    assert err["error"]["message"] == "Method not found"
    assert dialect.heartbeat(session, markets, 1.0) == []
    assert dialect.rest("/api/3/public/orderbook/BTCUSDT", {}, markets, 1.0) is None
    unsub = dict(sub, method="unsubscribe")
    (ack,) = (orjson.loads(f) for f in dialect.on_client_frame(session, unsub, markets, 1.0))
    assert ack["result"]["subscriptions"] == [] and session.subscribed == set()
