"""Replays a journal through the market's own actors, on one thread.

The journal holds what the connection actor handed the mediator (connection
opened and closed with its generation, frame batches with their receipt
times, REST answers) in the order it handed them over, and when the
market's actors were started. The replay builds the same mediator,
orderbook and exchange (so the same Translator, BookKeeper and publisher)
without threads and tells the mediator the same messages; the messages the
actors tell each other are delivered in the order they were told, which is
the order a live tree processes them in when every actor keeps up. What
the connection actor would do (send, fetch, reconnect) is dropped: its
consequences are in the journal already.

Exact, then, are the books, and the events with their sequence numbers,
venue times and, for events a frame caused, receipt times. Approximate:
events stamped with the clock (started, stopped, reconnecting, REST
answers) carry the replay's; a checksum mismatch is answered at once where
the live mediator may have taken a few more frames first; after an actor
crashed the replay follows from the restart the journal records, but not
the frames the dead actor lost; a `failed` status of a tree that gave up is
not in the journal. A replay that starts in the middle of a run (its first
files removed by retention) numbers from 1 and has no book until the venue
sends a snapshot.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from level4.journal.format import (
    Begin,
    Closed,
    End,
    FileReport,
    Frames,
    Gap,
    Header,
    Opened,
    Record,
    Rest,
    find_markets,
    read_file,
)
from level4.journal.meta import context_from
from level4.market.context import MarketContext
from level4.market.exchange_actor import ExchangeActor
from level4.market.hub import Consumer, EventHub
from level4.market.mediator_actor import MediatorActor
from level4.market.messages import Connected, Disconnected, RestReply
from level4.market.messages import Frames as FramesMessage
from level4.market.orderbook_actor import OrderBookActor
from level4.market.publisher import MarketPublisher
from level4.market.registry import Registry
from level4.market.status_board import StatusBoard
from level4.replay.replayer import Summary
from translations.protocol import RestAnswer


class _Quiet:
    """The actors' logger in a replay: what they would log (malformed frames)
    is counted in the summary instead."""

    def bind(self, **_kw: Any) -> _Quiet:
        return self

    def __getattr__(self, _name: str) -> Any:
        return lambda *_a, **_kw: None


_QUIET = _Quiet()


class InlineRegistry(Registry):
    """A registry whose `tell` queues for `drain`, on the caller's thread."""

    def __init__(self) -> None:
        super().__init__()
        self.actors: dict[str, Any] = {}
        self.pending: deque[tuple[Any, Any]] = deque()
        self.dropped = 0  # told to roles the replay has no actor for: the connection's work

    def register(self, market_id: int, role: str, ref: Any) -> None:
        pass  # the replay binds actor objects itself

    def unregister(self, market_id: int, role: str, ref: Any) -> None:
        pass

    def tell(self, market_id: int, role: str, message: object) -> bool:
        actor = self.actors.get(role)
        if actor is None:
            self.dropped += 1
            return False
        self.pending.append((actor, message))
        return True

    def drain(self) -> None:
        pending = self.pending
        while pending:
            actor, message = pending.popleft()
            actor.on_receive(message)


_COUNTED = ("trades", "resyncs", "malformed", "ignored", "checksums_verified", "checksum_failures")


class MarketReplay:
    """One market's journal (every run in it) through its actors."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self.tag: str | None = None
        self.ctx: MarketContext | None = None
        self.registry = InlineRegistry()
        self.exchange: ExchangeActor | None = None
        self.mediator: MediatorActor | None = None
        self.orderbook: OrderBookActor | None = None
        self.actors: dict[str, str] = {}  # role -> URN of the live actor the replay stands in for
        self.publishers: dict[tuple[str, int], MarketPublisher] = {}
        self.run: str | None = None
        self.ended = False
        self.frames = 0
        self.gaps = 0
        self.skipped = 0  # frames before any record of the actors that took them
        self.retired = Summary()  # counts of the actors a restart replaced

    # --- records ---------------------------------------------------------------

    def feed(self, record: Record) -> None:
        kind = type(record)
        if kind is Frames:
            assert isinstance(record, Frames)
            self.frames += len(record.batch)
            if self.mediator is None:
                self.skipped += len(record.batch)
                return
            self._tell(FramesMessage(record.generation, record.batch))
        elif kind is Opened:
            assert isinstance(record, Opened)
            self._tell(Connected(record.generation))
        elif kind is Closed:
            assert isinstance(record, Closed)
            self._tell(Disconnected(record.generation, record.reason))
        elif kind is Rest:
            assert isinstance(record, Rest)
            self._tell(RestReply(RestAnswer(record.symbol, record.path, record.body, record.error)))
        elif kind is Begin:
            assert isinstance(record, Begin)
            self._begin(record.market, record.actors, record.run)
        elif kind is Header:
            assert isinstance(record, Header)
            self._header(record)
        elif kind is Gap:
            assert isinstance(record, Gap)
            self._gap(record)
        elif kind is End:
            self.ended = True

    def finish(self) -> None:
        """The end of the journal: a market whose connection actor ended
        stopped in order (a killed process left no end record)."""
        if self.ended:
            self._stop_tree()

    def _tell(self, message: Any) -> None:
        if self.mediator is None:
            return
        self.registry.tell(0, "mediator", message)
        self.registry.drain()

    def _header(self, header: Header) -> None:
        if self.tag is None:
            self.tag = str(header.market["tag"])
        if self.mediator is not None or header.begin is None:
            return  # a rotation inside a run this replay follows already
        # The first file of what is left: the run began in a file no longer there.
        self._begin(header.begin["market"], header.begin["actors"], header.begin["run"])
        if header.generation is not None:
            self._tell(Connected(header.generation))

    def _begin(self, meta: dict[str, Any], actors: dict[str, str], run: str) -> None:
        """The connection actor started: find which of the others are new."""
        self.tag = str(meta["tag"])
        if run != self.run or self.exchange is None or actors.get("exchange") != self.actors.get("exchange"):
            if self.ended:
                self._stop_tree()  # the previous tree stopped in order before this one started
            self._start_tree(meta, run)
        elif actors.get("mediator") != self.actors.get("mediator"):
            self._start_level2(mediator=True)  # rest_for_one: the orderbook went with it
        elif actors.get("orderbook") != self.actors.get("orderbook"):
            self._start_level2(mediator=False)
        self.actors = dict(actors)
        self.ended = False

    def _gap(self, gap: Gap) -> None:
        """Frames the journal dropped: the translator's state and the book
        cannot be trusted past here, as after a lost connection."""
        self.gaps += 1
        if self.mediator is None:
            return
        generation = self.mediator.generation
        self._tell(Disconnected(generation, f"journal gap: {gap.frames} frames not recorded"))
        self._tell(Connected(generation))  # the scheme starts again from its initial state

    # --- the actors -------------------------------------------------------------

    def _start_tree(self, meta: dict[str, Any], run: str) -> None:
        self._retire(self.mediator, self.orderbook)
        self.run = run
        market_id = int(meta["id"])
        publisher = self.publishers.get((run, market_id))
        if publisher is None:
            # One per market for the life of a process, as the service keeps it.
            publisher = self.publishers[(run, market_id)] = MarketPublisher(market_id, str(meta["tag"]), self.hub)
        self.registry = InlineRegistry()
        self.ctx = context_from(meta, self.registry, StatusBoard(), self.hub, publisher, _QUIET)
        self.exchange = ExchangeActor(self.ctx)
        self.registry.actors["exchange"] = self.exchange
        self.exchange.on_start()
        self.mediator = self.orderbook = None
        self._start_level2(mediator=True)

    def _start_level2(self, mediator: bool) -> None:
        assert self.ctx is not None
        if mediator:
            self._retire(self.mediator, None)
            self.mediator = MediatorActor(self.ctx)
            self.registry.actors["mediator"] = self.mediator
            self.mediator.on_start()
        self._retire(None, self.orderbook)
        self.orderbook = OrderBookActor(self.ctx)
        self.registry.actors["orderbook"] = self.orderbook
        self.orderbook.on_start()
        self.registry.drain()

    def _stop_tree(self) -> None:
        # Reverse start order, as the supervisor stops them.
        for actor in (self.orderbook, self.mediator, self.exchange):
            if actor is not None:
                actor.on_stop()
                self.registry.drain()
        self.ended = False

    def _retire(self, mediator: MediatorActor | None, orderbook: OrderBookActor | None) -> None:
        self._retire_into(self.retired, mediator, orderbook)

    @staticmethod
    def _retire_into(into: Summary, mediator: MediatorActor | None, orderbook: OrderBookActor | None) -> None:
        if mediator is not None:
            t = mediator.translator
            into.trades += t.trades
            into.resyncs += t.resyncs
            into.malformed += t.malformed
            into.ignored += t.ignored
        if orderbook is not None:
            into.checksums_verified += orderbook.keeper.checksums_verified
            into.checksum_failures += orderbook.keeper.checksum_failures

    # --- results ---------------------------------------------------------------

    def add_counts(self, into: Summary) -> None:
        """Add trades, resyncs, malformed and ignored frames and checksums, over every incarnation of the actors."""
        for name in _COUNTED:
            setattr(into, name, getattr(into, name) + getattr(self.retired, name))
        self._retire_into(into, self.mediator, self.orderbook)

    def book(self) -> dict[str, Any] | None:
        """The book as the service's book endpoint serves it, full depth."""
        return None if self.orderbook is None else self.orderbook.query(None)


@dataclass
class JournalReplay:
    markets: list[MarketReplay] = field(default_factory=list)
    reports: list[FileReport] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)

    def books(self) -> dict[str, dict[str, Any]]:
        """Every market's final book by tag: `synchronised`, `bids`, `asks`, `reason`."""
        out: dict[str, dict[str, Any]] = {}
        for market in self.markets:
            book = market.book()
            if market.tag is not None and book is not None:
                out[market.tag] = {k: v for k, v in book.items() if k != "market"}
        return out

    def damaged(self) -> list[FileReport]:
        return [r for r in self.reports if r.discarded]


def replay_journal(paths: Iterable[Path], on_event: Consumer | None = None) -> JournalReplay:
    """Replay the journals under `paths` (journal directories, market
    directories or files); `on_event` receives every event published."""
    hub = EventHub()
    if on_event is not None:
        hub.subscribe(on_event)
    result = JournalReplay()
    started = time.perf_counter()
    for files in find_markets(list(paths)):
        market = MarketReplay(hub)
        for path in files.files:
            report = FileReport(path)
            result.reports.append(report)
            for record in read_file(path, report):
                market.feed(record)
        market.finish()
        result.markets.append(market)
    summary = result.summary
    summary.seconds = time.perf_counter() - started
    for market in result.markets:
        summary.frames += market.frames
        summary.markets += 1 if market.tag is not None else 0
        market.add_counts(summary)
    return result
