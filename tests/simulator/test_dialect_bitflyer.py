"""The simulator's bitFlyer dialect, read back by the bitFlyer scheme: random
book changes and trades on simulated markets must leave the scheme's books
equal to the reference books, trades must come through, and a lost board
diff must be noticed through the mid price and repaired by a snapshot."""

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
from level4.simulator.dialects.bitflyer import dialect
from level4.simulator.orderflow import OrderFlow
from level4.simulator.server import VenueSimulator
from translations.bitflyer import scheme
from translations.protocol import ChecksumMismatch, Instruction, Instrument, MarketType, Trade


def top_prices(market: SimMarket) -> tuple[str | None, str | None]:
    bid, ask = market.book.best_bid(), market.book.best_ask()
    return (bid[0] if bid else None, ask[0] if ask else None)


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
        self.keeper = BookKeeper([i.symbol for i in instruments], scheme.checksum)
        self.work = ConnectionWork()
        self.trades: list[Trade] = []
        self.sim_trades: list[SimTrade] = []
        self.now = 1_700_000_000.0
        self.drop_top_move = False
        self.heartbeats = 0
        self.snapshot_every = 100

    def client_sends(self, frames: list[str]) -> None:
        for raw in frames:
            self.deliver(dialect.on_client_frame(self.session, orjson.loads(raw), self.markets, self.now))

    def deliver(self, frames: list[str]) -> None:
        for raw in frames:
            out: list[Instruction] = []
            self.tr.feed_raw(raw, out, self.work)
            while out:
                # the mid price checks come back to the scheme, as in the live market
                mismatches: list[ChecksumMismatch] = []
                self.keeper.apply(out, [], mismatches)
                self.trades.extend(i for i in out if isinstance(i, Trade))
                out = []
                for m in mismatches:
                    self.tr.feed(m, out, self.work)
            sends = [f for s in self.work.sends for f in s.frames]
            assert self.work.reconnect is None, self.work.reconnect
            self.work.clear()
            self.client_sends([f if isinstance(f, str) else f.decode() for f in sends])

    def connect(self) -> None:
        self.client_sends(scheme.subscribe_msg(self.tr.state))

    def run(self, steps: int) -> None:
        for i in range(steps):
            flow = self.flows[i % len(self.flows)]
            self.now += 0.01
            before = top_prices(flow.market)
            st = flow.step(self.now)
            if flow.market.instrument.symbol not in self.session.subscribed:
                continue
            frames = dialect.on_book_change(self.session, flow.market, st.bids, st.asks, self.now)
            if self.drop_top_move and top_prices(flow.market) != before:
                self.drop_top_move = False
                frames = []  # lost on the way
            if st.trade is not None:
                self.sim_trades.append(st.trade)
                frames += dialect.on_trade(self.session, flow.market, st.trade, self.now)
            self.deliver(frames)
            if i % self.snapshot_every == self.snapshot_every - 1:
                # the venue's periodic snapshots
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
    scheme.instrument("BTC", "JPY", MarketType.SPOT),
    scheme.instrument("BTC", "JPY", MarketType.PERP),
    scheme.from_symbol("BTCJPY24DEC2021"),
]


def test_books_and_trades_round_trip() -> None:
    h = Harness(INSTRUMENTS)
    h.connect()
    h.run(4000)
    h.assert_books_equal()
    assert h.tr.malformed == 0 and h.tr.resyncs == 0
    assert h.heartbeats == 40 * len(INSTRUMENTS)  # a periodic snapshot per market every 100 steps
    # every diff and snapshot was checked against the venue's mid price, and held
    assert h.keeper.checksums_verified > 4000 and h.keeper.checksum_failures == 0
    assert len(h.sim_trades) > 100
    assert [(t.side, Decimal(t.price), Decimal(t.size), t.trade_id) for t in h.trades] == [
        (s.taker_side, Decimal(s.price), Decimal(s.size), str(s.trade_id)) for s in h.sim_trades
    ]
    for ours, sim in zip(h.trades, h.sim_trades, strict=True):
        assert abs(ours.timestamp - sim.timestamp) < 1e-5  # type: ignore[operator]


def test_a_lost_diff_that_moves_the_top_is_caught_by_the_mid_price() -> None:
    h = Harness(INSTRUMENTS[:1])
    h.snapshot_every = 10**9  # no periodic snapshot to paper over the loss
    h.connect()
    h.run(300)
    h.drop_top_move = True  # lose the next diff that moves the best bid or ask
    h.run(300)
    assert not h.drop_top_move
    # the next diff's mid price disagreed with the book; the resubscribed snapshot repaired it
    assert h.tr.resyncs == 1 and h.keeper.checksum_failures == 1
    h.assert_books_equal()


def test_the_dialect_answers_like_the_venue() -> None:
    h = Harness(INSTRUMENTS[:1])
    session, markets = h.session, h.markets
    subscribe = {
        "jsonrpc": "2.0",
        "method": "subscribe",
        "params": {"channel": "lightning_board_snapshot_BTC_JPY"},
        "id": 3,
    }
    ack, snap = dialect.on_client_frame(session, subscribe, markets, h.now)
    assert orjson.loads(ack) == {"jsonrpc": "2.0", "id": 3, "result": True}
    body = orjson.loads(snap)["params"]["message"]
    assert set(body) == {"mid_price", "bids", "asks"} and body["mid_price"] > 0
    assert "BTC_JPY" in session.subscribed
    assert len(dialect.heartbeat(session, markets, h.now)) == 1  # the periodic snapshot
    unsubscribe = {**subscribe, "method": "unsubscribe"}
    dialect.on_client_frame(session, unsubscribe, markets, h.now)
    assert "BTC_JPY" not in session.subscribed and dialect.heartbeat(session, markets, h.now) == []
    unknown = {**subscribe, "params": {"channel": "lightning_board_snapshot_NOPE"}}
    (err,) = dialect.on_client_frame(session, unknown, markets, h.now)
    assert orjson.loads(err)["error"]["code"] == -32602


@pytest.mark.slow
async def test_over_a_real_socket() -> None:
    """The simulator's server speaking this dialect on loopback, read by the scheme."""
    sim = VenueSimulator("BITFLYER", ["BTC-JPY", "ETH-BTC"], rate=400)
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
