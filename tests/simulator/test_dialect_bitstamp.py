"""The simulator's Bitstamp dialect, read back by the Bitstamp scheme: random
book changes and trades must leave the scheme's books equal to the reference
books, joined from REST snapshots by microtimestamp while diffs are
buffered; trades must come through; heartbeats must be answered; and a diff
delivered out of order must be noticed and repaired from a new snapshot."""

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
from level4.simulator.dialects.bitstamp import dialect
from level4.simulator.orderflow import OrderFlow
from level4.simulator.server import VenueSimulator
from translations.bitstamp import scheme
from translations.protocol import Fetch, Instruction, Instrument, MarketType, RestAnswer, Trade


class Client:
    """One client connection without sockets: dialect frames into the scheme,
    the scheme's requests back into the dialect, its fetches into `rest`."""

    def __init__(self, instruments: list[Instrument], markets: dict[str, SimMarket], fetch_delay: int) -> None:
        self.markets = markets
        self.session = ClientSession()
        self.tr = Translator(scheme, instruments)
        self.keeper = BookKeeper([i.symbol for i in instruments])
        self.work = ConnectionWork()
        self.trades: list[Trade] = []
        self.fetches: list[tuple[int, Fetch]] = []  # (step due, fetch)
        self.fetch_delay = fetch_delay
        self.step = 0
        self.now = 0.0
        self.replies: list[str] = []

    def client_sends(self, frames: list[str]) -> None:
        for raw in frames:
            replies = dialect.on_client_frame(self.session, orjson.loads(raw), self.markets, self.now)
            self.replies.extend(replies)
            self.deliver(list(replies))

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

    def assert_books_equal(self) -> None:
        for symbol, market in self.markets.items():
            book = self.keeper.books[symbol]
            assert book.synchronised, book.reason
            assert book.as_dict() == market.book.as_dict(), symbol
            assert len(book.bids) > 5 and len(book.asks) > 5


class Harness:
    """Simulated markets and the clients connected to them."""

    def __init__(self, instruments: list[Instrument], clients: int = 1, seed: int = 5) -> None:
        self.markets: dict[str, SimMarket] = {}
        self.flows: list[OrderFlow] = []
        for n, inst in enumerate(instruments):
            market = SimMarket(inst, OrderBook(inst.symbol))
            flow = OrderFlow(market, seed + n)
            flow.seed_book()
            self.markets[inst.symbol] = market
            self.flows.append(flow)
        # later clients answer their fetches later, so their joins differ
        self.clients = [Client(instruments, self.markets, fetch_delay=3 + 9 * n) for n in range(clients)]
        self.sim_trades: list[tuple[str, SimTrade]] = []
        self.step = 0
        self.now = 1_700_000_000.0
        self.hold_next_diff = False

    def connect(self) -> None:
        for c in self.clients:
            c.now = self.now
            c.client_sends(scheme.subscribe_msg(c.tr.state))

    def run(self, steps: int, ping_every: int = 300) -> None:
        held: str | None = None
        for _ in range(steps):
            self.step += 1
            flow = self.flows[self.step % len(self.flows)]
            self.now += 0.05
            st = flow.step(self.now)
            symbol = flow.market.instrument.symbol
            if st.trade is not None:
                self.sim_trades.append((symbol, st.trade))
            for c in self.clients:
                c.step, c.now = self.step, self.now
                c.answer_due_fetches()
                if self.step % ping_every == 0:
                    c.client_sends(scheme.ping_msg(c.tr.state))
                if symbol not in c.session.subscribed:
                    continue
                frames: list[str | RestAnswer] = []
                frames += dialect.on_book_change(c.session, flow.market, st.bids, st.asks, self.now)
                if self.hold_next_diff and frames:
                    self.hold_next_diff = False
                    held, frames = str(frames[0]), []  # delayed on the way: arrives after the next one
                elif held is not None and frames:
                    frames.append(held)
                    held = None
                if st.trade is not None:
                    frames += dialect.on_trade(c.session, flow.market, st.trade, self.now)
                c.deliver(frames)


INSTRUMENTS = [scheme.instrument("BTC", "USD", MarketType.SPOT), scheme.from_symbol("etheur")]


def test_books_and_trades_round_trip_for_every_client() -> None:
    h = Harness(INSTRUMENTS, clients=2)
    h.connect()
    h.run(3000)
    assert len(h.sim_trades) > 100
    for c in h.clients:
        c.assert_books_equal()
        assert c.tr.malformed == 0 and c.tr.resyncs == 0 and c.tr.synchronised()
        assert [(t.symbol, t.side, t.price, t.size, t.trade_id, t.timestamp) for t in c.trades] == [
            (sym, s.taker_side, s.price, s.size, str(s.trade_id), int(s.timestamp * 1_000_000) / 1_000_000)
            for sym, s in h.sim_trades
        ]
        # ten heartbeats asked and answered
        beats = [r for r in c.replies if '"bts:heartbeat"' in r]
        assert len(beats) == 10 and all(orjson.loads(b)["data"] == {"status": "success"} for b in beats)


def test_a_diff_out_of_order_is_noticed_and_repaired_from_a_new_snapshot() -> None:
    h = Harness(INSTRUMENTS[:1])
    h.connect()
    h.run(300)
    h.clients[0].assert_books_equal()
    h.hold_next_diff = True
    h.run(300)
    (c,) = h.clients
    # the late diff's microtimestamp ran backwards; a new snapshot joined the stream again
    assert c.tr.resyncs == 1 and c.tr.malformed == 0
    c.assert_books_equal()


def test_the_dialect_answers_like_the_venue() -> None:
    h = Harness(INSTRUMENTS[:1])
    session, markets, now = ClientSession(), h.markets, h.now
    sub = {"event": "bts:subscribe", "data": {"channel": "diff_order_book_btcusd"}}
    (ack,) = dialect.on_client_frame(session, sub, markets, now)
    assert orjson.loads(ack) == {"event": "bts:subscription_succeeded", "channel": "diff_order_book_btcusd", "data": {}}
    assert session.subscribed == {"btcusd"}
    bad = {"event": "bts:subscribe", "data": {"channel": "diff_order_book_nope"}}
    (err,) = dialect.on_client_frame(session, bad, markets, now)
    assert orjson.loads(err)["event"] == "bts:error"
    (err,) = dialect.on_client_frame(session, "not json", markets, now)
    assert orjson.loads(err)["event"] == "bts:error"
    unsub = {"event": "bts:unsubscribe", "data": {"channel": "diff_order_book_btcusd"}}
    (ack,) = dialect.on_client_frame(session, unsub, markets, now)
    assert orjson.loads(ack)["event"] == "bts:unsubscription_succeeded" and session.subscribed == set()

    market = markets["btcusd"]
    status, body = dialect.rest("/api/v2/order_book/btcusd", {}, markets, now) or (0, None)
    assert status == 200 and body["bids"][0] == list(market.book.best_bid() or [])
    assert int(body["timestamp"]) == int(body["microtimestamp"]) // 1_000_000
    # the same book state always carries the same stamp; a change gets a later one, even at the same clock time
    assert dialect.rest("/api/v2/order_book/btcusd/", {}, markets, now - 5) == (status, body)
    h.flows[0].step(now)
    later = dialect.rest("/api/v2/order_book/btcusd", {}, markets, now - 5)
    assert later is not None and int(later[1]["microtimestamp"]) > int(body["microtimestamp"])
    assert dialect.rest("/api/v2/order_book/nope", {}, markets, now) is not None
    assert dialect.rest("/api/v2/ticker/btcusd", {}, markets, now) is None


@pytest.mark.slow
async def test_over_a_real_socket() -> None:
    """The simulator's server speaking this dialect on loopback, REST snapshot
    over HTTP included, read by the scheme."""
    sim = VenueSimulator("BITSTAMP", ["BTC-USD", "ETH-EUR"], rate=400)
    await sim.start()
    instruments = [m.instrument for m in sim.markets.values()]
    tr = Translator(scheme, instruments)
    keeper = BookKeeper([i.symbol for i in instruments])
    base = f"http://127.0.0.1:{sim.port}"
    heartbeats = 0
    try:
        async with connect(f"ws://127.0.0.1:{sim.port}") as ws, httpx.AsyncClient(base_url=base) as http:
            for frame in scheme.subscribe_msg(tr.state):
                await ws.send(frame)

            async def handle(frame: str | RestAnswer) -> None:
                nonlocal heartbeats
                if isinstance(frame, str) and '"bts:heartbeat"' in frame:
                    heartbeats += 1
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
    assert heartbeats == 1
    for symbol, market in sim.markets.items():
        assert keeper.books[symbol].synchronised
        assert keeper.books[symbol].as_dict() == market.book.as_dict(), symbol
