"""The simulator's Bitfinex dialect, read back by the Bitfinex scheme: after
random order flow the scheme's books equal the reference books, every
sequence number follows the last and every checksum matches."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.events import MarketEvent
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects.base import ClientSession, SimMarket, SimTrade
from level4.simulator.dialects.bitfinex import dialect
from level4.simulator.orderflow import OrderFlow
from translations.bitfinex import scheme
from translations.protocol import ChecksumMismatch, Instruction, MarketType, Trade

NOW = 1_700_000_000.0
Tamper = Callable[[list[Any]], list[Any] | None]


class Client:
    """One connection as level4 runs it, minus the socket: dialect frames in,
    the scheme's sends answered by the dialect."""

    def __init__(self, markets: dict[str, SimMarket], book_len: str = "100") -> None:
        self.markets = markets
        self.book_len = book_len
        self.tr = Translator(scheme, [m.instrument for m in markets.values()])
        self.keeper = BookKeeper(list(markets), scheme.checksum)
        self.session = ClientSession()
        self.work = ConnectionWork()
        self.trades: list[Trade] = []
        self.checksums_sent = 0
        self.reconnects = 0
        self.tamper: Tamper | None = None

    def send(self, raw: str | bytes) -> None:
        frame: Any = orjson.loads(raw)
        if frame.get("channel") == "book":
            frame["len"] = self.book_len  # the depth under test
        self.receive(dialect.on_client_frame(self.session, frame, self.markets, NOW))

    def receive(self, frames: list[str]) -> None:
        sends: list[str | bytes] = []
        for raw in frames:
            frame = orjson.loads(raw)
            if isinstance(frame, list) and frame[1] == "cs":
                self.checksums_sent += 1
            if self.tamper is not None and isinstance(frame, list):
                changed = self.tamper(frame)
                if changed is not None:
                    self.tamper = None
                    raw = orjson.dumps(changed).decode()
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
            if self.work.reconnect is not None:
                self.reconnects += 1
                self.work.reconnect = None
            sends.extend(f for s in self.work.sends for f in s.frames)
            self.work.sends.clear()
        # answered after the frames already on the wire, as on a real connection
        for out in sends:
            self.send(out)

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
    # Prices of a few hundred satoshi: JavaScript writes them as 4.5e-7 in the checksum.
    for n, (base, quote, mid, decimals) in enumerate((("BTC", "USD", 5_000_000, 2), ("SHIB", "BTC", 50, 8))):
        inst = scheme.instrument(base, quote, MarketType.SPOT)
        market = markets[inst.symbol] = SimMarket(inst, OrderBook(inst.symbol))
        flow = OrderFlow(market, seed + n, mid_ticks=mid, tick_decimals=decimals)
        flow.seed_book()
        flows.append(flow)
    return markets, flows


def drive(client: Client, flows: list[OrderFlow], steps: int) -> list[tuple[str, SimTrade]]:
    """Random happenings, rendered the way the server renders them."""
    made: list[tuple[str, SimTrade]] = []
    for n in range(steps):
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
        if n % 200 == 0:
            client.receive(dialect.heartbeat(client.session, client.markets, NOW + n))
    return made


def values(levels: list[Any]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(lv[0]), Decimal(lv[1])) for lv in levels]


def assert_books_equal(client: Client, depth: int) -> None:
    """Bitfinex sends JSON numbers, so "50000.00" comes back as "50000": the
    same decimal, which is what equality means for this venue."""
    for symbol, market in client.markets.items():
        book = client.keeper.books[symbol]
        assert book.synchronised, symbol
        assert values(book.bids_levels()) == values(market.book.bids_levels(depth)), symbol
        assert values(book.asks_levels()) == values(market.book.asks_levels(depth)), symbol
        counts = [len(lv) == 3 and lv[-1] for lv in book.bids_levels() + book.asks_levels()]
        assert set(counts) == {1}  # order counts kept


def test_round_trip_with_sequences_and_checksums() -> None:
    markets, flows = make_markets(seed=3)
    client = Client(markets)
    client.connect()
    made = drive(client, flows, 3000)
    assert_books_equal(client, 100)
    assert client.keeper.checksums_verified == client.checksums_sent > 2500
    assert client.keeper.checksum_failures == 0 and client.tr.malformed == 0 and client.tr.resyncs == 0
    assert client.tr.synchronised() and client.reconnects == 0
    assert client.tr.state.sequence > 5000  # every frame numbered, none missing
    # each trade once, although the venue sends it as "te" and again as "tu"
    assert len(made) > 200
    got = [(t.symbol, t.side, Decimal(t.price), Decimal(t.size), t.trade_id, t.timestamp) for t in client.trades]
    assert got == [
        (symbol, t.taker_side, Decimal(t.price), Decimal(t.size), str(t.trade_id), t.timestamp) for symbol, t in made
    ]


def test_a_window_of_25_levels_is_kept_by_adds_and_removals() -> None:
    markets, flows = make_markets(seed=5)
    for flow in flows:
        flow.levels = 40  # books deeper than the window
        flow.seed_book()
    client = Client(markets, book_len="25")
    client.connect()
    deeper = 0
    for _ in range(20):
        drive(client, flows, 100)
        assert_books_equal(client, 25)
        deeper += sum(len(m.book.bids) > 25 or len(m.book.asks) > 25 for m in markets.values())
    assert deeper > 10  # the window really cut the book, often
    assert client.keeper.checksum_failures == 0
    # only changes inside the window are sent, each with its checksum, every one verified
    assert client.keeper.checksums_verified == client.checksums_sent > 1000


def test_checksum_mismatch_resubscribes_that_book_only() -> None:
    markets, flows = make_markets(seed=9)
    client = Client(markets)
    client.connect()
    drive(client, flows, 500)
    btc_book = next(w.chan for s, w in client.session.extra["bitfinex"].books.items() if s == "tBTCUSD")

    def double_a_size(frame: list[Any]) -> list[Any] | None:
        # same sequence number, wrong amount: only the checksum can tell
        if frame[0] == btc_book and isinstance(frame[1], list) and frame[1][1] > 0:
            return [frame[0], [frame[1][0], frame[1][1], frame[1][2] * 2], frame[2]]
        return None

    client.tamper = double_a_size
    drive(client, flows, 1000)
    assert client.tamper is None  # it struck
    assert client.keeper.checksum_failures == 1 and client.tr.resyncs == 1
    assert client.reconnects == 0 and client.tr.synchronised()
    assert_books_equal(client, 100)  # resubscribed: a fresh snapshot, then in step again


def test_a_lost_frame_is_a_gap_then_a_new_connection_recovers() -> None:
    markets, flows = make_markets(seed=13)
    client = Client(markets)
    client.connect()
    drive(client, flows, 300)
    client.tamper = lambda frame: [frame[0], "hb", frame[-1] + 1]  # one frame lost, the next arrives
    drive(client, flows, 20)
    assert client.reconnects == 1 and not client.tr.synchronised()
    assert not any(b.synchronised for b in client.keeper.books.values())
    client.reconnect()
    drive(client, flows, 500)
    assert_books_equal(client, 100)
    assert client.tr.synchronised() and client.keeper.checksum_failures == 0


def test_requests_the_venue_refuses_and_pings() -> None:
    markets, _ = make_markets(seed=1)
    session = ClientSession()
    info, conf = dialect.on_client_frame(session, {"event": "conf", "flags": 65536}, markets, NOW)
    assert orjson.loads(info)["event"] == "info"
    assert orjson.loads(conf) == {"event": "conf", "status": "OK", "flags": 65536}
    (pong,) = dialect.on_client_frame(session, {"event": "ping", "cid": 7}, markets, NOW)
    assert orjson.loads(pong) == {"event": "pong", "ts": int(NOW * 1000), "cid": 7}
    (bad,) = dialect.on_client_frame(
        session, {"event": "subscribe", "channel": "book", "symbol": "tXYZABC"}, markets, NOW
    )
    assert orjson.loads(bad)["code"] == 10300
    (unknown,) = dialect.on_client_frame(session, {"event": "dance"}, markets, NOW)
    assert orjson.loads(unknown)["code"] == 10000
    # the scheme reads the refusal as a reason, not a crash
    state = scheme.initial_state(list(m.instrument for m in markets.values()))
    out, _ = scheme.translate(orjson.loads(bad), state)
    assert [type(i).__name__ for i in out] == ["Malformed"]
