"""The simulator's Deribit dialect, read back by the Deribit scheme: random
book changes and trades on simulated markets must leave the scheme's books
equal to the reference books, trades must come through, heartbeats must be
answered, and a lost notification must be noticed and repaired."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import orjson
import pytest
from websockets.asyncio.client import connect

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects.base import ClientSession, SimMarket, SimTrade
from level4.simulator.dialects.deribit import dialect
from level4.simulator.orderflow import OrderFlow
from level4.simulator.server import VenueSimulator
from translations.deribit import scheme
from translations.protocol import ChecksumMismatch, Instruction, Instrument, MarketType, Trade


def exact(book: dict[str, object]) -> dict[str, list[tuple[Decimal, Decimal]]]:
    return {side: [(Decimal(p), Decimal(s)) for p, s in book[side]] for side in ("bids", "asks")}  # type: ignore[attr-defined]


class Harness:
    """One client connection without a socket: dialect frames into the
    scheme, the scheme's sends back into the dialect."""

    def __init__(self, instruments: list[Instrument], seed: int = 11) -> None:
        self.markets: dict[str, SimMarket] = {}
        self.flows: list[OrderFlow] = []
        for n, inst in enumerate(instruments):
            market = SimMarket(inst, OrderBook(inst.symbol))
            flow = OrderFlow(market, seed + n)
            flow.seed_book()
            self.markets[inst.symbol] = market
            self.flows.append(flow)
        self.session = ClientSession()
        self.tr = Translator(scheme, instruments)
        self.keeper = BookKeeper([i.symbol for i in instruments])
        self.work = ConnectionWork()
        self.trades: list[Trade] = []
        self.sim_trades: list[SimTrade] = []
        self.now = 1_700_000_000.0
        self.drop_next_book_change = False
        self.heartbeats = 0

    def client_sends(self, frames: list[str]) -> None:
        for raw in frames:
            self.deliver(dialect.on_client_frame(self.session, orjson.loads(raw), self.markets, self.now))

    def deliver(self, frames: list[str]) -> None:
        for raw in frames:
            out: list[Instruction] = []
            self.tr.feed_raw(raw, out, self.work)
            self.keeper.apply(out, [], [])
            self.trades.extend(i for i in out if isinstance(i, Trade))
            sends = [f for s in self.work.sends for f in s.frames]
            assert self.work.reconnect is None, self.work.reconnect
            self.work.clear()
            self.client_sends([f if isinstance(f, str) else f.decode() for f in sends])

    def connect(self) -> None:
        self.client_sends(scheme.subscribe_msg(self.tr.state))

    def run(self, steps: int) -> None:
        for i in range(steps):
            flow = self.flows[i % len(self.flows)]
            self.now += 0.05
            st = flow.step(self.now)
            if flow.market.instrument.symbol not in self.session.subscribed:
                continue
            frames = dialect.on_book_change(self.session, flow.market, st.bids, st.asks, self.now)
            if self.drop_next_book_change:
                self.drop_next_book_change = False
                frames = []  # lost on the way
            if st.trade is not None:
                self.sim_trades.append(st.trade)
                frames += dialect.on_trade(self.session, flow.market, st.trade, self.now)
            self.deliver(frames)
            beats = dialect.heartbeat(self.session, self.markets, self.now)
            self.heartbeats += len(beats)
            self.deliver(beats)

    def assert_books_equal(self) -> None:
        """Equal level for level. The venue sends JSON numbers, so "5.10"
        comes back as "5.1": compared as exact decimals, never floats."""
        for symbol, market in self.markets.items():
            book = self.keeper.books[symbol]
            assert book.synchronised, book.reason
            ours = exact(book.as_dict())
            ref = exact(market.book.as_dict())
            assert ours == ref, symbol
            assert len(ref["bids"]) > 5 and len(ref["asks"]) > 5


INSTRUMENTS = [
    scheme.instrument("BTC", "USD", MarketType.PERP),
    scheme.from_symbol("ETH-24SEP21"),
    scheme.from_symbol("BTC-24SEP21-8000-P"),
]


def test_books_and_trades_round_trip() -> None:
    h = Harness(INSTRUMENTS)
    h.connect()
    h.run(4000)
    h.assert_books_equal()
    assert h.tr.malformed == 0 and h.tr.resyncs == 0
    assert len(h.sim_trades) > 100
    assert [(t.side, Decimal(t.price), Decimal(t.size), t.trade_id, t.timestamp) for t in h.trades] == [
        (s.taker_side, Decimal(s.price), Decimal(s.size), str(s.trade_id), int(s.timestamp * 1000) / 1000.0)
        for s in h.sim_trades
    ]
    # 200 simulated seconds at the 30 s the scheme asked for; every test_request was answered
    assert h.heartbeats == 6 and h.session.extra["unanswered"] == 0


def test_a_lost_change_is_noticed_and_the_book_resubscribed() -> None:
    h = Harness(INSTRUMENTS[:1])
    h.connect()
    h.run(500)
    h.drop_next_book_change = True
    h.run(500)
    # the next change's prev_change_id exposed the gap; a fresh subscription repaired the book
    assert h.tr.resyncs == 1 and h.tr.malformed == 0
    h.assert_books_equal()


def test_the_dialect_answers_like_the_venue() -> None:
    h = Harness(INSTRUMENTS[:1])
    session, markets = h.session, h.markets
    channels = ["book.BTC-PERPETUAL.100ms", "book.NOPE.100ms"]
    subscribe = {"jsonrpc": "2.0", "id": 7, "method": "public/subscribe", "params": {"channels": channels}}
    (ack, snap) = dialect.on_client_frame(session, subscribe, markets, h.now)
    assert orjson.loads(ack)["result"] == ["book.BTC-PERPETUAL.100ms"]  # unknown channels are left out
    data = orjson.loads(snap)["params"]["data"]
    assert data["type"] == "snapshot" and data["change_id"] == markets["BTC-PERPETUAL"].update_id
    (err,) = dialect.on_client_frame(session, {"jsonrpc": "2.0", "id": 8, "method": "public/nope"}, markets, h.now)
    assert orjson.loads(err)["error"]["code"] == -32601
    (err,) = dialect.on_client_frame(session, "not json", markets, h.now)
    assert orjson.loads(err)["error"]["code"] == -32700
    assert dialect.heartbeat(session, markets, h.now + 100) == []  # none until asked for


@pytest.mark.slow
async def test_over_a_real_socket() -> None:
    """The simulator's server speaking this dialect on loopback, read by the scheme."""
    sim = VenueSimulator("DERIBIT", ["BTC-USD", "ETH-USD"], rate=400)
    await sim.start()
    instruments = [m.instrument for m in sim.markets.values()]
    tr = Translator(scheme, instruments)
    keeper = BookKeeper([i.symbol for i in instruments], scheme.checksum)
    try:
        async with connect(f"ws://127.0.0.1:{sim.port}") as ws:
            for frame in scheme.subscribe_msg(tr.state):
                await ws.send(frame)

            async def pump(seconds: float) -> None:
                loop = asyncio.get_running_loop()
                end = loop.time() + seconds
                while (left := end - loop.time()) > 0:
                    try:
                        raw = await asyncio.wait_for(ws.recv(), left)
                    except TimeoutError:
                        return
                    out: list[Instruction] = []
                    work = ConnectionWork()
                    tr.feed_raw(raw, out, work)
                    while out:
                        mismatches: list[ChecksumMismatch] = []
                        keeper.apply(out, [], mismatches)
                        out = []
                        for m in mismatches:
                            tr.feed(m, out, work)
                    assert work.reconnect is None
                    for send in work.sends:
                        for frame in send.frames:
                            await ws.send(frame)

            await pump(1.5)
            sim.paused = True  # let the last frames arrive, then compare
            await pump(0.3)
    finally:
        await sim.stop()
    assert sim.steps > 200 and tr.trades > 10 and tr.resyncs == 0 and tr.malformed == 0
    for symbol, market in sim.markets.items():
        assert keeper.books[symbol].synchronised
        assert exact(keeper.books[symbol].as_dict()) == exact(market.book.as_dict()), symbol
