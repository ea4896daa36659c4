"""The simulator's BitMEX dialect, read back by the BitMEX scheme: random
book changes and trades on a simulated market must leave the scheme's book
equal to the reference book. BitMEX sends JSON numbers, so "1.50" arrives as
1.5: levels are compared by exact decimal value."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects.base import ClientSession, SimMarket
from level4.simulator.dialects.bitmex import dialect, number
from level4.simulator.orderflow import OrderFlow
from translations.bitmex import scheme
from translations.protocol import Instruction, Instrument, Level, MarketType, Trade


def exact(levels: list[Level]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(lv[0]), Decimal(lv[1])) for lv in levels]


class Harness:
    """A client connection without a socket: dialect frames into the scheme,
    the scheme's sends back into the dialect."""

    def __init__(self, instruments: list[Instrument], seed: int = 3) -> None:
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
        self.drop_next_insert = False

    def client_sends(self, frames: list[str]) -> None:
        for raw in frames:
            frame: Any = raw if raw == "ping" else orjson.loads(raw)
            self.deliver(dialect.on_client_frame(self.session, frame, self.markets, self.now))

    def deliver(self, frames: list[str]) -> None:
        for raw in frames:
            if self.drop_next_insert and raw.startswith('{"table":"orderBookL2","action":"insert"'):
                self.drop_next_insert = False  # lost on the way
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

    def change(self, market: SimMarket, bids: list[Level], asks: list[Level]) -> None:
        market.book.update(bids, asks)
        market.update_id += 1
        self.deliver(dialect.on_book_change(self.session, market, bids, asks, self.now))

    def step(self, n: int) -> None:
        for i in range(n):
            flow = self.flows[i % len(self.flows)]
            self.now += 0.01
            st = flow.step(self.now)
            frames = dialect.on_book_change(self.session, flow.market, st.bids, st.asks, self.now)
            if st.trade is not None:
                frames += dialect.on_trade(self.session, flow.market, st.trade, self.now)
            self.deliver(frames)

    def assert_books_equal(self) -> None:
        for symbol, market in self.markets.items():
            book = self.keeper.books[symbol]
            assert book.synchronised, book.reason
            assert exact(book.bids_levels()) == exact(market.book.bids_levels()), symbol
            assert exact(book.asks_levels()) == exact(market.book.asks_levels()), symbol


XBT = scheme.instrument("BTC", "USD", MarketType.PERP)
SOL = scheme.instrument("SOL", "USDT", MarketType.PERP)


def test_numbers_keep_their_value() -> None:
    assert number("50000.00") == 50000 and isinstance(number("50000.00"), int)
    assert number("0.01000000") == 0.01
    assert number("17") == 17
    assert number("0.0000016425") == 0.0000016425


def test_random_flow_round_trips_exactly() -> None:
    h = Harness([XBT, SOL])
    h.connect()
    h.assert_books_equal()
    for _ in range(20):
        h.step(150)
        h.assert_books_equal()
    assert len(h.trades) == sum(f.market.trade_id for f in h.flows) > 100
    assert h.tr.resyncs == 0 and h.tr.malformed == 0
    trade = h.trades[-1]
    market = h.markets[trade.symbol]
    assert trade.trade_id == f"00000000-0000-0000-0000-{market.trade_id:012d}"
    assert trade.side in ("buy", "sell")


def test_lost_insert_is_detected_when_its_level_changes_and_recovered() -> None:
    h = Harness([XBT])
    h.connect()
    h.step(20)
    market = h.markets["XBTUSD"]
    best = market.book.best_bid()
    assert best is not None
    price = f"{Decimal(best[0]) + Decimal('0.01')}"
    h.drop_next_insert = True
    h.change(market, [(price, "2.00000000")], [])  # the insert never arrives
    assert h.tr.resyncs == 0  # nothing shows the loss yet
    h.change(market, [(price, "3.00000000")], [])  # an update for an id the client never saw
    assert h.tr.resyncs == 1
    h.assert_books_equal()  # the resubscribe brought a fresh partial
    h.step(100)
    h.assert_books_equal()


def test_acknowledgements_pongs_and_errors() -> None:
    h = Harness([XBT])
    ack, image = dialect.on_client_frame(h.session, {"op": "subscribe", "args": ["orderBookL2:XBTUSD"]}, h.markets, 0)
    assert orjson.loads(ack) == {
        "success": True,
        "subscribe": "orderBookL2:XBTUSD",
        "request": {"op": "subscribe", "args": ["orderBookL2:XBTUSD"]},
    }
    assert orjson.loads(image)["action"] == "partial" and h.session.subscribed == {"XBTUSD"}
    (pong,) = dialect.on_client_frame(h.session, scheme.ping_msg(h.tr.state)[0], h.markets, 0)
    out: list[Instruction] = []
    h.tr.feed_raw(pong, out, h.work)
    assert pong == "pong" and out == [] and h.tr.malformed == 0
    for bad in (
        {"op": "subscribe", "args": ["orderBookL2:XBTUSD"]},  # already subscribed
        {"op": "subscribe", "args": ["orderBookL3:XBTUSD"]},
        {"op": "subscribe", "args": ["trade:NOPE"]},
        {"op": "dance"},
    ):
        (err,) = dialect.on_client_frame(h.session, bad, h.markets, 0)
        assert orjson.loads(err)["status"] == 400
    (bye,) = dialect.on_client_frame(h.session, {"op": "unsubscribe", "args": ["orderBookL2:XBTUSD"]}, h.markets, 0)
    assert orjson.loads(bye)["success"] is True and h.session.subscribed == set()
    assert dialect.on_book_change(h.session, h.markets["XBTUSD"], [("1", "1")], [], 0) == []
