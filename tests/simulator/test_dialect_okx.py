"""The simulator's OKX dialect, read back by the OKX scheme: after random
order flow the scheme's books equal the reference books exactly."""

from __future__ import annotations

from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.events import MarketEvent
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects.base import ClientSession, SimMarket, SimTrade
from level4.simulator.dialects.okx import OkxDialect, dialect
from level4.simulator.orderflow import OrderFlow
from translations.okx import scheme
from translations.protocol import ChecksumMismatch, Instruction, Instrument, MarketType, Trade

NOW = 1_700_000_000.0


class Client:
    """One connection as level4 runs it, minus the socket: dialect frames in,
    the scheme's sends answered by the dialect."""

    def __init__(self, markets: dict[str, SimMarket], sim: OkxDialect = dialect) -> None:
        self.markets, self.dialect = markets, sim
        self.tr = Translator(scheme, [m.instrument for m in markets.values()])
        self.keeper = BookKeeper(list(markets), scheme.checksum)
        self.session = ClientSession()
        self.work = ConnectionWork()
        self.trades: list[Trade] = []

    def send(self, raw: str | bytes) -> None:
        try:
            frame: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            frame = raw
        self.receive(self.dialect.on_client_frame(self.session, frame, self.markets, NOW))

    def receive(self, frames: list[str]) -> None:
        for raw in frames:
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
        for frame in scheme.subscribe_msg(self.tr.state):
            self.send(frame)


def make_markets(seed: int) -> tuple[dict[str, SimMarket], list[OrderFlow]]:
    instruments: list[tuple[Instrument, int]] = [
        (scheme.instrument("BTC", "USDT", MarketType.SPOT), 1),
        (scheme.instrument("BTC", "USD", MarketType.PERP), 1),
        (scheme.from_symbol("BTC-USD-220527-30000-C"), 4),
    ]
    markets: dict[str, SimMarket] = {}
    flows: list[OrderFlow] = []
    for n, (inst, decimals) in enumerate(instruments):
        market = markets[inst.symbol] = SimMarket(inst, OrderBook(inst.symbol))
        flow = OrderFlow(market, seed + n, tick_decimals=decimals)
        flow.seed_book()
        flows.append(flow)
    return markets, flows


class Run:
    """What the simulated venue did: trades made, book pushes sent, and
    changes the client was not shown (outside its window)."""

    def __init__(self) -> None:
        self.trades: list[tuple[str, SimTrade]] = []
        self.sent = 0
        self.hidden = 0
        self.keepalives = 0


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
        if n == drop:
            frames = []  # lost on the way
        if step.trade is not None:
            run.trades.append((symbol, step.trade))
            frames += client.dialect.on_trade(client.session, market, step.trade, NOW + n)
        client.receive(frames)
        if n % 100 == 0:
            beats = client.dialect.heartbeat(client.session, client.markets, NOW + n)
            run.keepalives += len(beats)
            client.receive(beats)
    return run


def assert_books_equal(client: Client, depth: int | None = None) -> None:
    for symbol, market in client.markets.items():
        book = client.keeper.books[symbol]
        assert book.synchronised, symbol
        assert book.as_dict() == market.book.as_dict(depth), symbol


def test_round_trip_with_checksums_and_sequence_chain() -> None:
    markets, flows = make_markets(seed=5)
    client = Client(markets)
    client.connect()
    run = drive(client, flows, 3000)
    assert_books_equal(client)
    # snapshots and every push carry a checksum; all must match
    assert client.keeper.checksums_verified == run.sent + 3 + run.keepalives
    assert client.keeper.checksum_failures == 0 and client.tr.resyncs == 0 and client.tr.malformed == 0
    assert len(run.trades) > 100
    got = [(t.symbol, t.side, t.price, t.size, t.trade_id, t.timestamp) for t in client.trades]
    want = [(s, t.taker_side, t.price, t.size, str(t.trade_id), int(t.timestamp * 1000) / 1000) for s, t in run.trades]
    assert got == want
    for symbol, market in markets.items():
        assert client.keeper.books[symbol].sequence == market.update_id


def test_today_without_checksums_and_with_a_narrow_window() -> None:
    """OKX now sends checksum 0: only the seqId chain guards the book. A ten
    level window exercises levels leaving (deleted) and entering (added)."""
    markets, flows = make_markets(seed=9)
    client = Client(markets, OkxDialect(depth=10, checksums=False))
    client.connect()
    run = drive(client, flows, 3000)
    assert_books_equal(client, depth=10)
    assert client.keeper.checksums_verified == 0 and client.tr.resyncs == 0 and client.tr.malformed == 0
    assert run.hidden > 100


def test_keepalive_pushes_keep_the_chain() -> None:
    markets, flows = make_markets(seed=2)
    client = Client(markets)
    client.connect()
    drive(client, flows, 30)
    beats = dialect.heartbeat(client.session, markets, NOW)  # marks everything quiet
    beats = dialect.heartbeat(client.session, markets, NOW)  # nothing happened since: keep-alives
    assert len(beats) == 3 and all('"bids":[]' in b for b in beats)
    client.receive(beats)
    drive(client, flows, 30)
    assert_books_equal(client)
    assert client.tr.resyncs == 0


def test_lost_push_is_repaired_by_resubscribing() -> None:
    markets, flows = make_markets(seed=4)
    client = Client(markets, OkxDialect(checksums=False))
    client.connect()
    drive(client, flows, 2000, drop=700)
    # the next push names a predecessor the client never saw: resubscribe, fresh snapshot
    assert client.tr.resyncs == 1
    assert_books_equal(client)


def test_ping_and_refusals() -> None:
    markets, _ = make_markets(seed=1)
    session = ClientSession()
    assert dialect.on_client_frame(session, "ping", markets, NOW) == ["pong"]
    client = Client(markets)
    client.send(scheme.ping_msg(client.tr.state)[0])  # the "pong" reaches the scheme as text
    assert client.tr.malformed == 0
    client.connect()
    assert client.tr.synchronised()
    client.send(orjson.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "NOPE-USDT"}]}))
    assert client.tr.malformed == 1 and client.work.reconnect is not None
