"""One venue connection carrying several markets, as a shared connection runs
it, minus the socket: the simulator's dialect plays the venue on one client
session; every frame it sends goes through the scheme's `route` (with the
connection's state) to the single-market harness of each market it names,
as level4.net.shared_connection does; a market's own requests (the
resubscribe its resync policy picks) go out on the same connection.
Subscribing a market anew gives it a fresh harness, as a new generation
gives its mediator a fresh state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from level4.simulator.dialects import dialect_for
from level4.simulator.dialects.dialect_base import ClientSession
from tests.simulator.simulator_harness import SimVenue, values
from tests.translations.harness import SchemeHarness
from translations import scheme_for
from translations.protocol import ALL_MARKETS, EVERY_MARKET, Desync, Instrument, Malformed, Renew


class RoutedConnection:
    def __init__(self, sim: SimVenue) -> None:
        self.sim = sim
        self.scheme: Any = scheme_for(sim.venue)
        self.dialect = dialect_for(sim.venue)
        self.session = ClientSession()
        self.conn = self.scheme.connection_state()
        self.instruments = {m.instrument.symbol: m.instrument for m in sim.markets.values()}
        self.markets: dict[str, SchemeHarness] = {}  # subscribed markets' harnesses
        self.renewed: list[str] = []  # reasons the connection was renewed for
        self.own: list[Any] = []  # frames kept by the connection
        self.requests: list[Any] = []

    # --- the client's side -------------------------------------------------------

    def subscribe(self, symbols: Sequence[str]) -> None:
        instruments = [self.instruments[s] for s in symbols]
        for instrument in instruments:
            self.markets[instrument.symbol] = SchemeHarness(self.scheme, [instrument], instrument.symbol)
        self.send(self.scheme.subscribe_msg(self.scheme.initial_state(instruments)))

    def unsubscribe(self, symbol: str) -> None:
        self.markets.pop(symbol, None)
        self.send(self.unsubscribe_frames(symbol))

    def unsubscribe_frames(self, symbol: str) -> list[str]:
        unsubscribe_on = getattr(self.scheme, "unsubscribe_on", None)
        if unsubscribe_on is not None:
            frames, self.conn = unsubscribe_on(self.conn, [symbol])
            return list(frames)
        return list(self.scheme.unsubscribe_msg(self.scheme.initial_state([self.instruments[symbol]])))

    def resubscribe(self, symbol: str) -> None:
        """What the shared connection does for a market's lost book."""
        self.send(self.unsubscribe_frames(symbol))
        self.subscribe([symbol])

    def send(self, frames: Sequence[str | bytes]) -> None:
        for raw in frames:
            frame = orjson.loads(raw)
            self.requests.append(frame)
            self.receive(self.dialect.on_client_frame(self.session, frame, self.sim.markets, self.sim.now))

    # --- the venue's side ----------------------------------------------------------

    def receive(self, frames: Sequence[str]) -> None:
        for raw in frames:
            frame = orjson.loads(raw)
            targets, self.conn = self.scheme.route(frame, self.conn)
            if targets is None:
                self.own.append(frame)
                continue
            if isinstance(targets, Renew):
                self.renewed.append(targets.reason)
                continue
            chosen = list(self.markets) if targets in (ALL_MARKETS, EVERY_MARKET) else list(targets)
            for symbol in chosen:
                harness = self.markets.get(symbol)
                if harness is not None:
                    harness.feed(raw)
                    # A market's own requests (its resubscribe) go out on the connection.
                    sends, harness.sends = harness.sends, []
                    self.send(sends)

    def drive(self, steps: int, heartbeat_every: int | None = None) -> None:
        sim = self.sim
        for _ in range(steps):
            flow = sim.flows[sim.steps % len(sim.flows)]
            step = sim.step(flow)
            market = flow.market
            frames: list[str] = []
            if market.instrument.symbol in self.session.subscribed:
                frames += self.dialect.on_book_change(self.session, market, step.bids, step.asks, sim.now)
                if step.trade is not None:
                    frames += self.dialect.on_trade(self.session, market, step.trade, sim.now)
            if heartbeat_every is not None and sim.steps % heartbeat_every == 0:
                frames += self.dialect.heartbeat(self.session, sim.markets, sim.now)
            self.receive(frames)

    # --- what the markets made of it ---------------------------------------------------

    def own_malformed(self) -> list[Any]:
        """Frames the connection kept that the scheme cannot read without a market."""
        out: list[Any] = []
        for frame in self.own:
            instructions, _ = self.scheme.translate(frame, self.scheme.initial_state([]))
            out += [i for i in instructions if isinstance(i, Malformed)]
        return out

    def desyncs(self, symbol: str) -> list[str]:
        """Why the market's book was cleared, each time (the resync policy's Desync)."""
        return [i.reason for i in self.markets[symbol].out if isinstance(i, Desync)]

    def book(self, symbol: str) -> dict[str, Any]:
        return self.markets[symbol].book()

    def assert_books_equal(self, depth: int | None = None, min_levels: int = 6) -> None:
        """Every subscribed market's book synchronised and equal, by value, to the
        venue's reference (its best `depth` levels a side)."""
        for symbol, harness in self.markets.items():
            book = harness.keeper.books[symbol]
            assert book.synchronised, (symbol, book.reason)
            reference = self.sim.markets[symbol].book
            for ours, ref in (
                (book.bids_levels(), reference.bids_levels(depth)),
                (book.asks_levels(), reference.asks_levels(depth)),
            ):
                assert values(ours) == values(ref), symbol
                assert len(ref) >= min_levels, symbol

    def instrument(self, symbol: str) -> Instrument:
        return self.instruments[symbol]
