"""The simulator's Kraken dialect, read back by the Kraken scheme: after
random order flow the scheme's books equal the reference books exactly."""

from __future__ import annotations

from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.events import MarketEvent
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects.base import ClientSession, SimMarket, SimTrade
from level4.simulator.dialects.kraken import KrakenDialect, dialect
from level4.simulator.orderflow import OrderFlow
from translations.kraken import KrakenScheme
from translations.protocol import ChecksumMismatch, Instruction, MarketType, Trade

NOW = 1_700_000_000.0


class Client:
    """One connection as level4 runs it, minus the socket: dialect frames in,
    the scheme's sends answered by the dialect."""

    def __init__(self, scheme: KrakenScheme, markets: dict[str, SimMarket], sim: KrakenDialect = dialect) -> None:
        self.scheme, self.markets, self.dialect = scheme, markets, sim
        self.tr = Translator(scheme, [m.instrument for m in markets.values()])
        self.keeper = BookKeeper(list(markets), scheme.checksum)
        self.session = ClientSession()
        self.work = ConnectionWork()
        self.trades: list[Trade] = []
        self.frames = 0

    def send(self, raw: str | bytes) -> None:
        try:
            frame: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            frame = raw
        self.receive(self.dialect.on_client_frame(self.session, frame, self.markets, NOW))

    def receive(self, frames: list[str]) -> None:
        for raw in frames:
            self.frames += 1
            batch: list[Instruction] = []
            self.tr.feed_raw(raw, batch, self.work)
            while batch:
                events: list[MarketEvent] = []
                mismatches: list[ChecksumMismatch] = []
                self.keeper.apply(batch, events, mismatches)
                self.trades.extend(e for e in events if isinstance(e, Trade))
                batch = []
                for mismatch in mismatches:
                    self.tr.feed(mismatch, batch, self.work)
            sends = [f for s in self.work.sends for f in s.frames]
            self.work.sends.clear()
            for out in sends:
                self.send(out)

    def connect(self) -> None:
        for frame in self.scheme.subscribe_msg(self.tr.state):
            self.send(frame)


def make_markets(scheme: KrakenScheme, seed: int) -> tuple[dict[str, SimMarket], list[OrderFlow]]:
    markets: dict[str, SimMarket] = {}
    flows: list[OrderFlow] = []
    for n, (base, quote) in enumerate((("BTC", "USD"), ("DOGE", "EUR"))):
        inst = scheme.instrument(base, quote, MarketType.SPOT)
        market = markets[inst.symbol] = SimMarket(inst, OrderBook(inst.symbol))
        flow = OrderFlow(market, seed + n, tick_decimals=5 if base == "DOGE" else 2)
        flow.seed_book()
        flows.append(flow)
    return markets, flows


class Run:
    """What the simulated venue did: trades made, book frames sent, and
    changes the client was not shown (beyond its depth)."""

    def __init__(self) -> None:
        self.trades: list[tuple[str, SimTrade]] = []
        self.sent = 0
        self.hidden = 0
        self.republished = 0


def drive(client: Client, flows: list[OrderFlow], steps: int, drop: int | None = None) -> Run:
    """Random happenings, rendered the way the server renders them."""
    run = Run()
    for n in range(steps):
        flow = flows[n % len(flows)]
        market = flow.market
        symbol = market.instrument.symbol
        step = flow.step(NOW + n)
        if symbol not in client.session.subscribed:
            continue
        frames = client.dialect.on_book_change(client.session, market, step.bids, step.asks, NOW + n)
        run.sent += len(frames)
        run.hidden += not frames
        run.republished += sum(f.count('"r"]') for f in frames)
        if n == drop:
            frames = []  # lost on the way
        if step.trade is not None:
            run.trades.append((symbol, step.trade))
            frames += client.dialect.on_trade(client.session, market, step.trade, NOW + n)
        client.receive(frames)
        if n % 100 == 0:
            client.receive(client.dialect.heartbeat(client.session, client.markets, NOW + n))
    return run


def assert_books_equal(client: Client, depth: int | None = None) -> None:
    for symbol, market in client.markets.items():
        book = client.keeper.books[symbol]
        assert book.synchronised, symbol
        assert book.as_dict() == market.book.as_dict(depth), symbol


def test_full_depth_round_trip() -> None:
    scheme = KrakenScheme()
    markets, flows = make_markets(scheme, seed=7)
    client = Client(scheme, markets)
    client.connect()
    run = drive(client, flows, 3000)
    assert_books_equal(client)
    assert run.hidden == 0 and client.keeper.checksums_verified == run.sent == 3000
    assert client.keeper.checksum_failures == 0 and client.tr.malformed == 0 and client.tr.resyncs == 0
    assert len(run.trades) > 100
    got = [(t.symbol, t.side, t.price, t.size, t.timestamp) for t in client.trades]
    assert got == [(s, t.taker_side, t.price, t.size, t.timestamp) for s, t in run.trades]


def test_depth_ten_window_truncates_and_republishes() -> None:
    scheme = KrakenScheme(depth=10)
    markets, flows = make_markets(scheme, seed=11)
    client = Client(scheme, markets)
    client.connect()
    run = drive(client, flows, 3000)
    assert_books_equal(client, depth=10)
    assert run.republished > 20  # deletes inside the window brought deeper levels back
    assert run.hidden > 100  # changes beyond the window were not sent
    assert client.keeper.checksums_verified == run.sent and client.keeper.checksum_failures == 0


def test_lost_frame_is_repaired_by_resubscribing() -> None:
    scheme = KrakenScheme()
    markets, flows = make_markets(scheme, seed=3)
    client = Client(scheme, markets)
    client.connect()
    drive(client, flows, 2000, drop=500)
    assert client.keeper.checksum_failures == 1 and client.tr.resyncs == 1
    # the scheme unsubscribed and subscribed again; the fresh snapshot healed the book
    assert all(book.synchronised for book in client.keeper.books.values())
    assert_books_equal(client)


def test_ping_errors_and_heartbeats() -> None:
    scheme = KrakenScheme()
    markets, _ = make_markets(scheme, seed=1)
    session = ClientSession()
    assert dialect.heartbeat(session, markets, NOW) == []
    status, pong = dialect.on_client_frame(session, {"event": "ping", "reqid": 4}, markets, NOW)
    assert orjson.loads(status)["event"] == "systemStatus"
    assert orjson.loads(pong) == {"event": "pong", "reqid": 4}
    client = Client(scheme, markets)
    client.send(scheme.ping_msg(client.tr.state)[0])
    assert client.tr.malformed == 0
    client.connect()
    client.receive(dialect.heartbeat(client.session, markets, NOW))
    assert client.tr.malformed == 0 and client.tr.synchronised()
    # a pair the venue does not list: refused, and the scheme gives up the connection
    client.send(orjson.dumps({"event": "subscribe", "pair": ["XBT/XYZ"], "subscription": {"name": "book"}}))
    assert client.tr.malformed == 1 and client.work.reconnect is not None
