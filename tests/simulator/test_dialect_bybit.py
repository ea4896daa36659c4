"""The simulator's Bybit v5 dialect, read back by the Bybit scheme: random
book changes and trades on a simulated market must leave the scheme's book
equal to the reference book's subscribed depth, exactly."""

from __future__ import annotations

from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects.base import ClientSession, SimMarket
from level4.simulator.dialects.bybit import dialect
from level4.simulator.orderflow import OrderFlow
from translations.bybit import DEPTH, scheme
from translations.protocol import Instruction, Instrument, MarketType, Trade


class Harness:
    """A client connection without a socket: dialect frames into the scheme,
    the scheme's sends back into the dialect."""

    def __init__(self, instruments: list[Instrument], seed: int = 7) -> None:
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
        self.now = 1_700_000_000.0
        self.drop_next = False

    def client_sends(self, frames: list[str]) -> None:
        for raw in frames:
            self.deliver(dialect.on_client_frame(self.session, orjson.loads(raw), self.markets, self.now))

    def deliver(self, frames: list[str]) -> None:
        for raw in frames:
            if self.drop_next and '"type":"delta"' in raw:
                self.drop_next = False  # a book change lost on the way
                continue
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

    def step(self, n: int) -> int:
        trades = 0
        for i in range(n):
            flow = self.flows[i % len(self.flows)]
            self.now += 0.01
            st = flow.step(self.now)
            frames = dialect.on_book_change(self.session, flow.market, st.bids, st.asks, self.now)
            if st.trade is not None:
                trades += 1
                frames += dialect.on_trade(self.session, flow.market, st.trade, self.now)
            self.deliver(frames)
        return trades

    def assert_books_equal(self) -> None:
        for symbol, market in self.markets.items():
            book = self.keeper.books[symbol]
            assert book.synchronised, book.reason
            assert book.as_dict() == market.book.as_dict(DEPTH), symbol


BTC = scheme.instrument("BTC", "USDT", MarketType.PERP)
ETH = scheme.instrument("ETH", "USDT", MarketType.PERP)


def test_random_flow_round_trips_exactly() -> None:
    h = Harness([BTC, ETH])
    h.connect()
    h.assert_books_equal()
    for _ in range(20):
        h.step(150)
        h.assert_books_equal()
    assert len(h.trades) == sum(f.market.trade_id for f in h.flows) > 100
    assert h.tr.resyncs == 0 and h.tr.malformed == 0
    first = h.trades[0]
    assert first.side in ("buy", "sell") and first.trade_id is not None and first.trade_id.startswith("sim-")


def test_depth_window_is_kept_when_the_book_is_deeper() -> None:
    h = Harness([BTC])
    market = h.markets["BTCUSDT"]
    # 80 levels a side: the venue only ever shows the best 50.
    market.book.replace(
        [(f"{40000 - i}.00", "1.00000000") for i in range(80)], [(f"{40001 + i}.00", "1.00000000") for i in range(80)]
    )
    h.connect()
    h.assert_books_equal()
    for i in range(60):  # eat the top of the asks: deeper levels come into view
        market.book.update([], [(f"{40001 + i}.00", "0")])
        market.update_id += 1
        h.deliver(dialect.on_book_change(h.session, market, [], [(f"{40001 + i}.00", "0")], h.now))
        h.assert_books_equal()
    assert len(h.keeper.books["BTCUSDT"].asks) == 20
    # a change beyond the window sends nothing at all
    market.book.update([(f"{40000 - 79}.00", "5.00000000")], [])
    assert dialect.on_book_change(h.session, market, [(f"{40000 - 79}.00", "5.00000000")], [], h.now) == []


def test_lost_delta_is_detected_and_recovered_through_the_dialect() -> None:
    h = Harness([BTC])
    h.connect()
    h.step(50)
    h.drop_next = True
    while h.drop_next:
        h.step(1)
    h.step(5)  # the next delta shows the gap: resubscribe, fresh snapshot
    assert h.tr.resyncs == 1
    h.step(100)
    h.assert_books_equal()


def test_acknowledgements_pongs_and_errors() -> None:
    h = Harness([BTC])
    (ack, snapshot) = dialect.on_client_frame(
        h.session, {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}, h.markets, h.now
    )
    assert orjson.loads(ack)["success"] is True and orjson.loads(snapshot)["type"] == "snapshot"
    assert h.session.subscribed == {"BTCUSDT"}
    (pong,) = dialect.on_client_frame(h.session, orjson.loads(scheme.ping_msg(h.tr.state)[0]), h.markets, h.now)
    out: list[Instruction] = []
    h.tr.feed_raw(pong, out, h.work)
    assert out == [] and h.tr.malformed == 0
    again = dialect.on_client_frame(h.session, {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}, h.markets, h.now)
    unknown = dialect.on_client_frame(h.session, {"op": "subscribe", "args": ["orderbook.50.NOPE"]}, h.markets, h.now)
    for frame in again + unknown:
        body: dict[str, Any] = orjson.loads(frame)
        assert body["success"] is False and body["ret_msg"].startswith("error:")
    (bye,) = dialect.on_client_frame(
        h.session, {"op": "unsubscribe", "args": ["orderbook.50.BTCUSDT"]}, h.markets, h.now
    )
    assert orjson.loads(bye)["success"] is True and h.session.subscribed == set()
    assert dialect.on_book_change(h.session, h.markets["BTCUSDT"], [("1", "1")], [], h.now) == []
