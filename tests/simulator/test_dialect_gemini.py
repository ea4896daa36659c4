"""The simulator's Gemini dialect, read back by the Gemini scheme: after
random order flow the scheme's books equal the reference books exactly."""

from __future__ import annotations

from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.events import MarketEvent
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects.base import ClientSession, SimMarket, SimTrade
from level4.simulator.dialects.gemini import dialect
from level4.simulator.orderflow import OrderFlow
from translations.gemini import scheme
from translations.protocol import ChecksumMismatch, Instruction, MarketType, Trade

NOW = 1_700_000_000.0


class Client:
    """One connection as level4 runs it, minus the socket."""

    def __init__(self, markets: dict[str, SimMarket]) -> None:
        self.markets = markets
        self.tr = Translator(scheme, [m.instrument for m in markets.values()])
        self.keeper = BookKeeper(list(markets))
        self.session = ClientSession()
        self.work = ConnectionWork()
        self.trades: list[Trade] = []
        self.reconnects = 0

    def send(self, raw: str | bytes) -> None:
        self.receive(dialect.on_client_frame(self.session, orjson.loads(raw), self.markets, NOW))

    def receive(self, frames: list[str]) -> None:
        for raw in frames:
            batch: list[Instruction] = []
            self.tr.feed_raw(raw, batch, self.work)
            events: list[MarketEvent] = []
            mismatches: list[ChecksumMismatch] = []
            self.keeper.apply(batch, events, mismatches)
            assert not mismatches and not self.work.sends
            self.trades.extend(e for e in events if isinstance(e, Trade))
            if self.work.reconnect is not None:
                self.reconnects += 1
                self.work.reconnect = None

    def connect(self) -> None:
        for frame in scheme.subscribe_msg(self.tr.state):
            self.send(frame)

    def reconnect(self) -> None:
        self.session = ClientSession()
        self.tr.reset()
        self.connect()


def make_markets(seed: int) -> tuple[dict[str, SimMarket], list[OrderFlow]]:
    markets: dict[str, SimMarket] = {}
    flows: list[OrderFlow] = []
    for n, (base, quote, decimals) in enumerate((("BTC", "USD", 2), ("ETH", "GBP", 2), ("BAT", "BTC", 8))):
        inst = scheme.instrument(base, quote, MarketType.SPOT)
        market = markets[inst.symbol] = SimMarket(inst, OrderBook(inst.symbol))
        flow = OrderFlow(market, seed + n, tick_decimals=decimals)
        flow.seed_book()
        flows.append(flow)
    return markets, flows


def drive(client: Client, flows: list[OrderFlow], steps: int, start: int = 0) -> list[tuple[str, SimTrade]]:
    """Random happenings, rendered the way the server renders them."""
    made: list[tuple[str, SimTrade]] = []
    for n in range(start, start + steps):
        flow = flows[n % len(flows)]
        market = flow.market
        step = flow.step(NOW + n)
        if market.instrument.symbol not in client.session.subscribed:
            continue
        frames = dialect.on_book_change(client.session, market, step.bids, step.asks, NOW + n)
        if step.trade is not None:
            made.append((market.instrument.symbol, step.trade))
            frames += dialect.on_trade(client.session, market, step.trade, NOW + n)
        client.receive(frames)
        if n % 250 == 0:
            client.receive(dialect.heartbeat(client.session, client.markets, NOW + n))
    return made


def assert_books_equal(client: Client) -> None:
    for symbol, market in client.markets.items():
        assert client.keeper.books[symbol].as_dict() == market.book.as_dict(), symbol


def test_round_trip_books_and_trades_exactly() -> None:
    markets, flows = make_markets(seed=21)
    client = Client(markets)
    client.connect()
    assert client.session.subscribed == set(markets)
    made = drive(client, flows, 3000)
    assert_books_equal(client)  # Gemini's decimal strings come back unchanged: "0.50000000" stays
    assert client.tr.malformed == 0 and client.tr.resyncs == 0 and client.reconnects == 0
    assert len(made) > 200
    got = [(t.symbol, t.side, t.price, t.size, t.trade_id, t.timestamp) for t in client.trades]
    assert got == [(s, t.taker_side, t.price, t.size, str(t.trade_id), t.timestamp) for s, t in made]


def test_a_repeated_trade_is_not_a_new_one() -> None:
    markets, flows = make_markets(seed=4)
    client = Client(markets)
    client.connect()
    repeats = 0
    for n in range(600):
        flow = flows[n % len(flows)]
        step = flow.step(NOW + n)
        frames = dialect.on_book_change(client.session, flow.market, step.bids, step.asks, NOW + n)
        if step.trade is not None:
            trade = dialect.on_trade(client.session, flow.market, step.trade, NOW + n)
            frames += trade + trade  # delivered twice
            repeats += 1
        client.receive(frames)
    assert repeats > 30 and len(client.trades) == repeats
    assert_books_equal(client)


def test_unreadable_change_then_a_new_connection_rebuilds_the_book() -> None:
    markets, flows = make_markets(seed=8)
    client = Client(markets)
    client.connect()
    drive(client, flows, 500)
    symbol = "BTCUSD"
    bad = orjson.dumps({"type": "l2_updates", "symbol": symbol, "changes": [["bid", "1", "1"]]}).decode()
    client.receive([bad])
    assert client.reconnects == 1 and not client.tr.synchronised()
    assert not client.keeper.books[symbol].synchronised
    drive(client, flows, 300, start=500)  # changes on the doomed connection rebuild nothing
    assert not client.keeper.books[symbol].synchronised
    client.reconnect()
    drive(client, flows, 500, start=800)
    assert_books_equal(client)
    assert client.tr.synchronised()


def test_requests_the_venue_refuses() -> None:
    markets, _ = make_markets(seed=1)
    session = ClientSession()
    (bad,) = dialect.on_client_frame(
        session, {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": ["XYZUSD"]}]}, markets, NOW
    )
    assert orjson.loads(bad)["result"] == "error" and not session.subscribed
    (junk,) = dialect.on_client_frame(session, "hello", markets, NOW)
    state = scheme.initial_state([m.instrument for m in markets.values()])
    for frame in (bad, junk):
        out: Any
        out, state = scheme.translate(orjson.loads(frame), state)
        assert [type(i).__name__ for i in out] == ["Malformed"]
    assert dialect.heartbeat(session, markets, NOW) == []  # nothing subscribed, nothing to keep alive
