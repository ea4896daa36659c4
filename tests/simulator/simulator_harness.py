"""A venue's simulator dialect read back by its translation scheme, without
sockets: the round-trip harness of the dialect tests.

`make_markets` builds the simulated markets and their order flows, with a
clock of their own; a `DialectClient` is one connection as level4 runs it
(Translator and BookKeeper), with the dialect playing the venue: the
scheme's sends are answered by the dialect, its REST fetches by
`dialect.rest`, checksum mismatches go back to the scheme. `drive` steps the
order flow and renders every happening to the connected clients, with an
optional hook that loses, reorders or alters a book change on its way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from level4.book.orderbook import OrderBook
from level4.feed.bookkeeper import BookKeeper
from level4.feed.events import MarketEvent
from level4.feed.translator import ConnectionWork, Translator
from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.dialect_base import ClientSession, Dialect, SimMarket, SimTrade
from level4.simulator.orderflow import OrderFlow, Step
from translations import scheme_for
from translations.protocol import (
    ChecksumMismatch,
    Desync,
    Fetch,
    Instruction,
    Instrument,
    Level,
    Malformed,
    MarketType,
    Reconnect,
    RestAnswer,
    Scheme,
    Trade,
)

NOW = 1_700_000_000.0

# Book-change frames on their way to one client -> what arrives instead, or
# None to let them pass and wait for a later change.
Tamper = Callable[[list[str]], list[str] | None]
# The flow that makes every step, or a function of the step number that picks it.
Pick = OrderFlow | Callable[[int], OrderFlow]


@dataclass(frozen=True, slots=True)
class Pair:
    """A simulated market: "BASE-QUOTE" (of the given market type) or an
    instrument, on a tick grid of its own."""

    name: str | Instrument
    tick_decimals: int = 2
    mid_ticks: int = 5_000_000


PairSpec = str | Instrument | Pair


class SimVenue:
    """Simulated markets of one venue, their order flows and the clock."""

    def __init__(self, venue: str, markets: dict[str, SimMarket], flows: list[OrderFlow], dt: float) -> None:
        self.venue = venue
        self.markets = markets
        self.flows = flows
        self.dt = dt  # simulated seconds per step
        self.now = NOW
        self.steps = 0

    def step(self, flow: OrderFlow) -> Step:
        self.steps += 1
        self.now += self.dt
        return flow.step(self.now)


def make_markets(
    venue: str,
    pairs: Sequence[PairSpec],
    seed: int = 1,
    market_type: MarketType | None = None,
    *,
    levels: int | None = None,
    dt: float = 0.01,
) -> SimVenue:
    """Markets seeded as the simulator's server seeds them (flow n from seed + n);
    `levels` a side when the book must be deeper than the default."""
    scheme = scheme_for(venue)
    kind = market_type or scheme.market_types[0]
    markets: dict[str, SimMarket] = {}
    flows: list[OrderFlow] = []
    for n, entry in enumerate(pairs):
        pair = entry if isinstance(entry, Pair) else Pair(entry)
        if isinstance(pair.name, Instrument):
            inst = pair.name
        else:
            base, _, quote = pair.name.partition("-")
            inst = scheme.instrument(base, quote, kind)
        market = markets[inst.symbol] = SimMarket(inst, OrderBook(inst.symbol))
        flow = OrderFlow(market, seed + n, mid_ticks=pair.mid_ticks, tick_decimals=pair.tick_decimals)
        if levels is not None:
            flow.levels = levels
        flow.seed_book()
        flows.append(flow)
    return SimVenue(venue, markets, flows, dt)


class DialectClient:
    """One connection as level4 runs it, minus the socket.

    Unless allowed, a Reconnect or a Malformed from the scheme fails the test
    where it happens."""

    def __init__(
        self,
        sim: SimVenue,
        *,
        scheme: Scheme | None = None,
        dialect: Dialect | None = None,
        fetch_delay: int = 0,
        allow_reconnect: bool = False,
        allow_malformed: bool = False,
    ) -> None:
        self.sim = sim
        self.markets = sim.markets
        self.scheme: Scheme = scheme or scheme_for(sim.venue)
        self.dialect: Dialect = dialect or dialect_for(sim.venue)
        self.tr = Translator(self.scheme, [m.instrument for m in sim.markets.values()])
        self.keeper = BookKeeper(list(sim.markets), getattr(self.scheme, "checksum", None))
        self.session = ClientSession()
        self.work = ConnectionWork()
        self.fetch_delay = fetch_delay  # steps before a REST fetch is answered
        self.allow_reconnect = allow_reconnect
        self.allow_malformed = allow_malformed
        self.tamper: Tamper | None = None
        self.rewrite: Callable[[Any], Any] | None = None  # changes a request on its way to the venue
        self.trades: list[Trade] = []  # as the scheme read them
        self.made: list[tuple[str, SimTrade]] = []  # made in markets this client was subscribed to
        self.desyncs: list[Desync] = []
        self.reconnects: list[Reconnect] = []
        self.malformed: list[Malformed] = []
        self.received: list[str] = []  # every frame the scheme was given, after tampering
        self.requests: list[Any] = []  # every frame sent to the venue, as it parsed them
        self.book_frames = 0  # frames the dialect rendered for book changes
        self.hidden = 0  # book changes that rendered nothing (outside the client's view)
        self.heartbeat_frames = 0
        self._fetches: list[tuple[int, Fetch]] = []  # (step due, fetch)
        self._outbox: list[str] = []

    # --- the connection ----------------------------------------------------------

    def connect(self) -> None:
        self.send(self.scheme.subscribe_msg(self.tr.state))

    def reconnect(self) -> None:
        """A new connection: a fresh session at the venue, fresh scheme state."""
        self.session = ClientSession()
        self.tr.reset()
        self._fetches.clear()
        self._outbox.clear()
        self.connect()

    def ping(self) -> None:
        self.send(self.scheme.ping_msg(self.tr.state))

    def send(self, frames: Sequence[str | bytes]) -> None:
        """Requests to the venue, parsed as the simulator's server parses them."""
        for raw in frames:
            text = raw if isinstance(raw, str) else raw.decode()
            try:
                frame: Any = orjson.loads(text)
            except orjson.JSONDecodeError:
                frame = text
            if self.rewrite is not None:
                frame = self.rewrite(frame)
            self.requests.append(frame)
            self.receive(self.dialect.on_client_frame(self.session, frame, self.markets, self.sim.now))

    def receive(self, frames: Sequence[str | RestAnswer]) -> None:
        """Frames from the venue; the scheme's own requests go out after them,
        as they would behind the frames already on the wire."""
        for frame in frames:
            if isinstance(frame, str):
                self.received.append(frame)
            self._translate(frame)
        sends, self._outbox = self._outbox, []
        self.send(sends)

    def _translate(self, frame: str | RestAnswer) -> None:
        batch: list[Instruction] = []
        if isinstance(frame, RestAnswer):
            self.tr.feed(frame, batch, self.work)
        else:
            self.tr.feed_raw(frame, batch, self.work)
        while batch:
            events: list[MarketEvent] = []
            mismatches: list[ChecksumMismatch] = []
            self.desyncs.extend(i for i in batch if isinstance(i, Desync))
            self.keeper.apply(batch, events, mismatches)
            self.trades.extend(e for e in events if isinstance(e, Trade))
            batch = []
            for mismatch in mismatches:
                self.tr.feed(mismatch, batch, self.work)
        work = self.work
        if work.malformed and not self.allow_malformed:
            raise AssertionError(f"malformed: {[m.reason for m in work.malformed]}")
        self.malformed.extend(work.malformed)
        if work.reconnect is not None:
            assert self.allow_reconnect, work.reconnect
            self.reconnects.append(work.reconnect)
        self._fetches.extend((self.sim.steps + self.fetch_delay, f) for f in work.fetches)
        self._outbox.extend(f if isinstance(f, str) else f.decode() for s in work.sends for f in s.frames)
        work.clear()

    def answer_due_fetches(self) -> None:
        due = [f for step, f in self._fetches if step <= self.sim.steps]
        self._fetches = [(step, f) for step, f in self._fetches if step > self.sim.steps]
        for fetch in due:
            parts = urlsplit(fetch.path)
            answer = self.dialect.rest(parts.path, dict(parse_qsl(parts.query)), self.markets, self.sim.now)
            assert answer is not None and answer[0] == 200, answer
            body = orjson.loads(orjson.dumps(answer[1]))  # as it would come over HTTP
            self.receive([RestAnswer(fetch.symbol, fetch.path, body)])

    # --- the venue's happenings --------------------------------------------------

    def book_change(self, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level]) -> list[str]:
        """A change already applied to the reference book, rendered for this
        client and passed through the tamper hook."""
        frames = self.dialect.on_book_change(self.session, market, bids, asks, self.sim.now)
        self.book_frames += len(frames)
        self.hidden += not frames
        hook, self.tamper = self.tamper, None
        if hook is not None:
            changed = hook(list(frames))
            if changed is None:
                self.tamper = self.tamper or hook  # not this one: wait for the next change
            else:
                frames = changed
        return frames

    def change(self, market: SimMarket, bids: list[Level], asks: list[Level]) -> list[str]:
        """A hand-made change to the reference book, delivered; returns what was rendered."""
        market.book.update(bids, asks)
        market.update_id += 1
        frames = self.book_change(market, bids, asks)
        self.receive(frames)
        return frames

    def on_step(self, market: SimMarket, step: Step, ping: bool, heartbeat: bool) -> None:
        self.answer_due_fetches()
        if ping:
            self.ping()
        symbol = market.instrument.symbol
        if symbol in self.session.subscribed:
            frames = self.book_change(market, step.bids, step.asks)
            if step.trade is not None:
                self.made.append((symbol, step.trade))
                frames += self.dialect.on_trade(self.session, market, step.trade, self.sim.now)
            self.receive(frames)
        if heartbeat:
            beats = self.dialect.heartbeat(self.session, self.markets, self.sim.now)
            self.heartbeat_frames += len(beats)
            self.receive(beats)

    def drive(
        self,
        steps: int,
        *,
        pick: Pick | None = None,
        ping_every: int | None = None,
        heartbeat_every: int | None = None,
    ) -> None:
        drive([self], steps, pick=pick, ping_every=ping_every, heartbeat_every=heartbeat_every)

    # --- comparisons -------------------------------------------------------------

    def assert_books_equal(
        self, depth: int | None = None, *, by_value: bool = False, sequence: bool = False, min_levels: int = 6
    ) -> None:
        """Every book synchronised and equal to the reference (its best `depth`
        levels a side when the venue shows a window): as the same strings, or
        by value for venues that send JSON numbers ("50000.10" -> 50000.1).
        The reference must hold `min_levels` a side, so equality means something."""
        for symbol, market in self.markets.items():
            book = self.keeper.books[symbol]
            assert book.synchronised, (symbol, book.reason)
            ref_book = market.book
            sides = (book.bids_levels(), ref_book.bids_levels(depth)), (book.asks_levels(), ref_book.asks_levels(depth))
            for ours, ref in sides:
                got, want = (values(ours), values(ref)) if by_value else (strings(ours), strings(ref))
                assert got == want, f"{symbol}: {first_difference(got, want)}"
                assert len(ref) >= min_levels, f"{symbol}: only {len(ref)} levels a side"
            if sequence:
                assert book.sequence == market.update_id, (symbol, book.sequence, market.update_id)

    def assert_trades(
        self,
        *,
        by_value: bool = False,
        trade_id: Callable[[SimTrade], str] | None = lambda t: str(t.trade_id),
        stamp: Callable[[float], float] | None = lambda ts: ts,
        tolerance: float = 0.0,
    ) -> None:
        """Every trade made while subscribed, once, in order: symbol, taker side,
        price and size (by value where the venue sends numbers), the trade id as
        `trade_id` renders it and the time as `stamp` rounds it (each None: not sent)."""
        number: Callable[[str], Any] = Decimal if by_value else str
        got = [
            (t.symbol, t.side, number(t.price), number(t.size), t.trade_id if trade_id else None) for t in self.trades
        ]
        want = [
            (s, t.taker_side, number(t.price), number(t.size), trade_id(t) if trade_id else None) for s, t in self.made
        ]
        assert got == want, f"trades: {first_difference(got, want)}"
        if stamp is not None:
            for ours, (_, sim) in zip(self.trades, self.made, strict=True):
                expected = stamp(sim.timestamp)
                assert ours.timestamp is not None and abs(ours.timestamp - expected) <= tolerance, (ours, expected)


def drive(
    clients: Sequence[DialectClient],
    steps: int,
    *,
    pick: Pick | None = None,
    ping_every: int | None = None,
    heartbeat_every: int | None = None,
) -> None:
    """Random happenings on the clients' venue, rendered to each client the
    way the server renders them. `pick` chooses the flow (default: each
    market in turn); every `ping_every` steps the clients ping,
    every `heartbeat_every` steps the venue sends its heartbeats."""
    sim = clients[0].sim
    choose = (lambda n: sim.flows[n % len(sim.flows)]) if pick is None else pick
    for _ in range(steps):
        flow = choose if isinstance(choose, OrderFlow) else choose(sim.steps)
        step = sim.step(flow)
        ping = ping_every is not None and sim.steps % ping_every == 0
        heartbeat = heartbeat_every is not None and sim.steps % heartbeat_every == 0
        for client in clients:
            client.on_step(flow.market, step, ping, heartbeat)


def values(levels: Sequence[Sequence[Any]]) -> list[tuple[Decimal, Decimal]]:
    """Levels by value: price and size as exact decimals, never floats."""
    return [(Decimal(lv[0]), Decimal(lv[1])) for lv in levels]


def strings(levels: Sequence[Sequence[Any]]) -> list[tuple[str, str]]:
    """Levels as the venue's own strings: "0.50000000" is not "0.5"."""
    return [(lv[0], lv[1]) for lv in levels]


def first_difference(got: Sequence[Any], want: Sequence[Any]) -> str:
    """Where two lists part, for a failure message that says more than "not equal"."""
    for n, (ours, theirs) in enumerate(zip(got, want, strict=False)):
        if ours != theirs:
            return f"at {n}: got {ours!r}, want {theirs!r}"
    return f"got {len(got)} entries, want {len(want)}"
