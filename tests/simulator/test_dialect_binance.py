"""The simulator's Binance dialect, read back by the Binance scheme: random
book changes and trades must leave the scheme's books equal to the reference
books, joined from REST snapshots answered while diffs are buffered; trades
must come through; the keep-alive must be answered; and a lost diff must be
noticed and repaired from a new snapshot."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects.base import ClientSession, SimMarket, SimTrade
from level4.simulator.dialects.binance import dialect
from level4.simulator.orderflow import OrderFlow
from level4.simulator.server import VenueSimulator
from translations.binance import scheme
from translations.protocol import Fetch, Instruction, Instrument, MarketType, RestAnswer, Trade


class Harness:
    """One client connection without sockets: dialect frames into the scheme,
    the scheme's requests back into the dialect, its fetches into `rest`."""

    def __init__(self, instruments: list[Instrument], seed: int = 3, fetch_delay: int = 7) -> None:
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
        self.sim_trades: list[tuple[str, SimTrade]] = []
        self.fetches: list[tuple[int, Fetch]] = []  # (step due, fetch)
        self.fetch_delay = fetch_delay
        self.step = 0
        self.now = 1_700_000_000.0
        self.drop_next_diff = False

    def client_sends(self, frames: list[str]) -> None:
        for raw in frames:
            self.deliver(dialect.on_client_frame(self.session, orjson.loads(raw), self.markets, self.now))

    def deliver(self, frames: list[str | RestAnswer]) -> None:
        for raw in frames:
            out: list[Instruction] = []
            if isinstance(raw, RestAnswer):
                self.tr.feed(raw, out, self.work)
            else:
                self.tr.feed_raw(raw, out, self.work)
            self.keeper.apply(out, [], [])
            self.trades.extend(i for i in out if isinstance(i, Trade))
            assert self.work.reconnect is None, self.work.reconnect
            self.fetches.extend((self.step + self.fetch_delay, f) for f in self.work.fetches)
            sends = [f if isinstance(f, str) else f.decode() for s in self.work.sends for f in s.frames]
            self.work.clear()
            self.client_sends(sends)

    def answer_due_fetches(self) -> None:
        due = [f for step, f in self.fetches if step <= self.step]
        self.fetches = [(step, f) for step, f in self.fetches if step > self.step]
        for fetch in due:
            parts = urlsplit(fetch.path)
            answer = dialect.rest(parts.path, dict(parse_qsl(parts.query)), self.markets, self.now)
            assert answer is not None and answer[0] == 200, answer
            self.deliver([RestAnswer(fetch.symbol, fetch.path, orjson.loads(orjson.dumps(answer[1])))])

    def connect(self) -> None:
        self.client_sends(scheme.subscribe_msg(self.tr.state))

    def run(self, steps: int, ping_every: int = 400) -> None:
        for _ in range(steps):
            self.step += 1
            flow = self.flows[self.step % len(self.flows)]
            self.now += 0.05
            st = flow.step(self.now)
            self.answer_due_fetches()
            if self.step % ping_every == 0:
                self.client_sends(scheme.ping_msg(self.tr.state))
            if flow.market.instrument.symbol not in self.session.subscribed:
                continue
            frames: list[str | RestAnswer] = []
            frames += dialect.on_book_change(self.session, flow.market, st.bids, st.asks, self.now)
            if self.drop_next_diff:
                self.drop_next_diff = False
                frames = []  # lost on the way
            if st.trade is not None:
                self.sim_trades.append((flow.market.instrument.symbol, st.trade))
                frames += dialect.on_trade(self.session, flow.market, st.trade, self.now)
            self.deliver(frames)

    def assert_books_equal(self) -> None:
        for symbol, market in self.markets.items():
            book = self.keeper.books[symbol]
            assert book.synchronised, book.reason
            assert book.as_dict() == market.book.as_dict(), symbol
            assert book.sequence == market.update_id
            assert len(book.bids) > 5 and len(book.asks) > 5


INSTRUMENTS = [scheme.instrument("BTC", "USDT", MarketType.SPOT), scheme.from_symbol("ETHBTC")]


def test_books_and_trades_round_trip() -> None:
    h = Harness(INSTRUMENTS)
    h.connect()
    h.run(3000)
    h.assert_books_equal()
    assert h.tr.malformed == 0 and h.tr.resyncs == 0 and h.tr.synchronised()
    assert len(h.sim_trades) > 100
    assert [(t.symbol, t.side, t.price, t.size, t.trade_id, t.timestamp) for t in h.trades] == [
        (sym, s.taker_side, s.price, s.size, str(s.trade_id), int(s.timestamp * 1000) / 1000.0)
        for sym, s in h.sim_trades
    ]


def test_a_lost_diff_is_noticed_and_repaired_from_a_new_snapshot() -> None:
    h = Harness(INSTRUMENTS[:1])
    h.connect()
    h.run(300)
    h.assert_books_equal()
    h.drop_next_diff = True
    h.run(300)
    # the next diff's first update id exposed the gap; a new snapshot joined the stream again
    assert h.tr.resyncs == 1 and h.tr.malformed == 0
    h.assert_books_equal()


def test_the_dialect_answers_like_the_venue() -> None:
    h = Harness(INSTRUMENTS[:1])
    session, markets, now = h.session, h.markets, h.now
    sub = {"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms", "nopeusdt@trade"], "id": 1}
    assert dialect.on_client_frame(session, sub, markets, now) == ['{"result":null,"id":1}']
    assert session.subscribed == {"BTCUSDT"}
    (listing,) = dialect.on_client_frame(session, {"method": "LIST_SUBSCRIPTIONS", "id": 2}, markets, now)
    assert orjson.loads(listing) == {"result": ["btcusdt@depth@100ms", "nopeusdt@trade"], "id": 2}
    (err,) = dialect.on_client_frame(session, {"method": "SUBSCRIBES", "id": 3}, markets, now)
    assert orjson.loads(err)["error"]["code"] == 2
    (err,) = dialect.on_client_frame(session, {"method": "SUBSCRIBE", "params": ["x"], "id": "a"}, markets, now)
    assert orjson.loads(err)["error"]["code"] == 2
    (err,) = dialect.on_client_frame(session, "not json", markets, now)
    assert orjson.loads(err)["error"]["code"] == 3
    unsub = {"method": "UNSUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 4}
    dialect.on_client_frame(session, unsub, markets, now)
    assert session.subscribed == set()

    market = markets["BTCUSDT"]
    status, body = dialect.rest("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "5"}, markets, now) or (0, None)
    assert status == 200 and body["lastUpdateId"] == market.update_id and len(body["bids"]) == 5
    assert body["asks"][0] == list(market.book.best_ask() or [])
    assert dialect.rest("/api/v3/depth", {"symbol": "NOPE"}, markets, now) == (
        400,
        {"code": -1121, "msg": "Invalid symbol."},
    )
    assert dialect.rest("/api/v3/ticker", {}, markets, now) is None


@pytest.mark.slow
async def test_over_a_real_socket() -> None:
    """The simulator's server speaking this dialect on loopback, REST snapshot
    over HTTP included, read by the scheme."""
    sim = VenueSimulator("BINANCE", ["BTC-USDT", "ETH-BTC"], rate=400)
    await sim.start()
    instruments = [m.instrument for m in sim.markets.values()]
    tr = Translator(scheme, instruments)
    keeper = BookKeeper([i.symbol for i in instruments])
    base = f"http://127.0.0.1:{sim.port}"
    try:
        async with connect(f"ws://127.0.0.1:{sim.port}/stream") as ws, httpx.AsyncClient(base_url=base) as http:
            for frame in scheme.subscribe_msg(tr.state):
                await ws.send(frame)

            async def handle(frame: str | RestAnswer) -> None:
                out: list[Instruction] = []
                work = ConnectionWork()
                if isinstance(frame, RestAnswer):
                    tr.feed(frame, out, work)
                else:
                    tr.feed_raw(frame, out, work)
                keeper.apply(out, [], [])
                assert work.reconnect is None, work.reconnect
                for fetch in work.fetches:
                    response = await http.get(fetch.path)
                    await handle(RestAnswer(fetch.symbol, fetch.path, response.json()))

            async def pump(seconds: float) -> None:
                loop = asyncio.get_running_loop()
                end = loop.time() + seconds
                while (left := end - loop.time()) > 0:
                    try:
                        raw = await asyncio.wait_for(ws.recv(), left)
                    except TimeoutError:
                        return
                    await handle(raw if isinstance(raw, str) else raw.decode())

            await pump(1.0)
            for frame in scheme.ping_msg(tr.state):
                await ws.send(frame)
            await pump(0.5)
            sim.paused = True  # let the last frames arrive, then compare
            await pump(0.3)
    finally:
        await sim.stop()
    assert sim.steps > 200 and tr.trades > 10 and tr.resyncs == 0 and tr.malformed == 0 and tr.synchronised()
    for symbol, market in sim.markets.items():
        assert keeper.books[symbol].synchronised
        assert keeper.books[symbol].as_dict() == market.book.as_dict(), symbol
