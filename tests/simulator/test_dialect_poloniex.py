"""The Poloniex dialect round-trips with the Poloniex scheme: random order flow
on simulated markets, rendered by the dialect as book_lv2's 20-level view,
translated by the scheme, must give the reference books' best 20 levels a
side exactly, and every trade."""

from __future__ import annotations

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.base import ClientSession, SimMarket, SimTrade
from level4.simulator.orderflow import OrderFlow
from translations.poloniex import scheme
from translations.protocol import Desync, Instruction, MarketType, Trade

dialect = dialect_for("POLONIEX")
PAIRS = (("BTC", "USDT"), ("XLM", "BTC"))  # XLM is STR on Poloniex
DEPTH = 20


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
            flow.levels = 3 * DEPTH  # a book deeper than the view, with changes on both sides of its edge
            flow.seed_book()
            self.flows.append(flow)
        self.session = ClientSession()
        self.tr = Translator(scheme, [m.instrument for m in self.markets.values()])
        self.keeper = BookKeeper(list(self.markets))
        self.work = ConnectionWork()
        self.trades: list[Trade] = []
        self.desyncs: list[Desync] = []
        self.frames = 0
        self.now = 1_700_000_000.0
        self.send(scheme.subscribe_msg(self.tr.state))

    def send(self, frames: list[str]) -> None:
        for frame in frames:
            self.receive(dialect.on_client_frame(self.session, orjson.loads(frame), self.markets, self.now))

    def receive(self, frames: list[str]) -> None:
        for raw in frames:
            self.frames += 1
            book: list[Instruction] = []
            self.tr.feed_raw(raw, book, self.work)
            self.keeper.apply(book, [], [])
            self.trades.extend(i for i in book if isinstance(i, Trade))
            self.desyncs.extend(i for i in book if isinstance(i, Desync))
            sends = [f for s in self.work.sends for f in s.frames]
            assert self.work.reconnect is None and not self.work.malformed, self.work
            self.work.clear()
            self.send([f if isinstance(f, str) else f.decode() for f in sends])

    def step(self, flow: OrderFlow, lose: bool = False) -> tuple[SimTrade | None, int]:
        """One happening; returns its trade and how many frames it made."""
        self.now += 0.01
        step = flow.step(self.now)
        market = flow.market
        if market.instrument.symbol not in self.session.subscribed:
            return step.trade, 0
        frames = dialect.on_book_change(self.session, market, step.bids, step.asks, self.now)
        if step.trade is not None:
            frames += dialect.on_trade(self.session, market, step.trade, self.now)
        self.receive(frames[1:] if lose else frames)
        return step.trade, len(frames)

    def assert_books_equal_reference(self) -> None:
        for symbol, market in self.markets.items():
            ours = self.keeper.books[symbol]
            assert ours.synchronised
            assert ours.as_dict() == market.book.as_dict(DEPTH)


def test_random_flow_gives_the_reference_top_20_and_every_trade() -> None:
    client = Client(seed=11)
    assert set(client.markets) == {"BTC_USDT", "STR_BTC"}
    sim_trades: list[tuple[str, SimTrade]] = []
    quiet = 0  # changes beyond the top 20, which the venue does not publish
    for i in range(3000):
        flow = client.flows[i % 2 if i % 5 else 0]
        if i % 1000 == 999:
            client.send(scheme.ping_msg(client.tr.state))  # answered with a pong, which the scheme accepts
        trade, frames = client.step(flow)
        quiet += frames == 0
        if trade is not None:
            sim_trades.append((flow.market.instrument.symbol, trade))
        if i % 500 == 0:
            client.assert_books_equal_reference()
    client.assert_books_equal_reference()
    assert quiet > 100  # the view really is a window on a deeper book
    assert any(len(m.book.bids) > DEPTH or len(m.book.asks) > DEPTH for m in client.markets.values())
    assert len(sim_trades) > 100
    assert [(t.symbol, t.side, t.price, t.size, t.trade_id) for t in client.trades] == [
        (symbol, t.taker_side, t.price, t.size, str(t.trade_id)) for symbol, t in sim_trades
    ]
    assert not client.desyncs and client.tr.malformed == 0


def test_a_lost_update_is_detected_and_the_resubscription_heals_the_book() -> None:
    client = Client(seed=5)
    flow = client.flows[0]
    symbol = flow.market.instrument.symbol
    for _ in range(50):
        client.step(flow)
    while client.step(flow, lose=True)[1] == 0:
        pass  # lose the first change the client would have seen
    while not client.desyncs:
        client.step(flow)
    assert [d.symbol for d in client.desyncs] == [symbol]
    assert client.keeper.books[symbol].synchronised  # the dialect answered the resubscription with a snapshot
    for _ in range(200):
        client.step(flow)
    client.assert_books_equal_reference()


def test_dialect_speaks_the_venues_frames() -> None:
    session = ClientSession()
    inst = scheme.instrument("BTC", "USDT", MarketType.SPOT)
    market = SimMarket(inst, OrderBook(inst.symbol))
    OrderFlow(market, 1).seed_book()
    markets = {inst.symbol: market}
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
