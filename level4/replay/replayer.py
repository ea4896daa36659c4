"""Replays recorded frames through a scheme and books, with no network.

The same Translator and BookKeeper the live market tree uses; REST
snapshot fetches are answered from the recorded REST answers, each made
available at the time it was recorded.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path

import orjson

from level4.feed.bookkeeper import BookKeeper, Report
from level4.feed.events import MarketEvent
from level4.feed.translator import ConnectionWork, Translator
from level4.replay import capture
from translations.instrument_listing import ListingError, ListingIndex, TickCheck, answers_list
from translations.protocol import Instruction, Instrument, RestAnswer, Scheme, Snapshot, Update


@dataclass
class Summary:
    frames: int = 0
    seconds: float = 0.0
    markets: int = 0
    trades: int = 0
    resyncs: int = 0
    malformed: int = 0
    ignored: int = 0  # frames that asked nothing: acknowledgements, heartbeats, channels the book does not use
    checksums_verified: int = 0
    checksum_failures: int = 0
    reconnects_requested: int = 0
    resubscribes_requested: int = 0
    unplaced: int = 0  # subscribed markets neither the venue's list nor the symbol's spelling could place
    off_tick: int = 0  # distinct prices off the tick size the venue's list gives their market

    def as_dict(self) -> dict[str, float | int]:
        # Not __dict__: compiled (mypyc), a dataclass instance has none.
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Connection:
    """One recorded websocket connection, loaded into memory."""

    url: str
    instruments: list[Instrument]
    frames: list[tuple[float, str]]


@dataclass
class Unplaced:
    """A subscribed market replay could not place: it is left out, alone."""

    symbol: str
    reason: str


@dataclass
class Session:
    connections: list[Connection] = field(default_factory=list)
    rest: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    listings: ListingIndex | None = None  # the venue's instrument list, where one was recorded
    unplaced: list[Unplaced] = field(default_factory=list)


def read_listings(scheme: Scheme, path: str | Path) -> ListingIndex:
    """A recorded instrument list (`VENUE.0`) read through the scheme's list reader:
    the answers to its list paths; other answers in the file (other APIs', detail
    pages the scheme does not read) are passed over."""
    paths = scheme.list_paths + scheme.legacy_list_paths
    index = ListingIndex()
    for answer in capture.read_list(path):
        if not answers_list(paths, answer.path):
            continue
        try:
            body = orjson.loads(answer.body)
        except orjson.JSONDecodeError as exc:
            raise capture.CaptureError(f"{path}: {answer.path}: not JSON: {exc}") from exc
        try:
            index.extend(scheme.instruments_from_list(answer.path, body))
        except ListingError as exc:
            raise capture.CaptureError(f"{path}: {answer.path}: {exc}") from exc
    return index


def place(scheme: Scheme, symbol: str, listings: ListingIndex | None) -> Instrument:
    """The instrument a subscribed symbol names: as the venue's list has it where a list
    is at hand, else read from the symbol's spelling (ValueError saying why not)."""
    if listings is not None:
        listing = listings.get(symbol)
        if listing is None:
            raise ValueError(f"{symbol!r} is not in {scheme.name}'s instrument list")
        return listing.instrument
    reader = getattr(scheme, "from_symbol", None)
    if reader is None:
        raise ValueError(f"{scheme.name} cannot read the symbol {symbol!r} with no instrument list")
    instrument: Instrument = reader(symbol)
    return instrument


def _subscribed(scheme: Scheme, symbols: list[str], session: Session, into: list[Instrument]) -> None:
    for symbol in symbols:
        try:
            instrument = place(scheme, symbol, session.listings)
        except ValueError as exc:
            if all(u.symbol != symbol for u in session.unplaced):
                session.unplaced.append(Unplaced(symbol, str(exc)))
            continue
        if instrument not in into:
            into.append(instrument)


def load(scheme: Scheme, paths: Iterable[str | Path]) -> Session:
    """A recorded session in memory. An instrument list among the paths (`VENUE.0`) is
    read first, and every subscribed symbol is placed through it; a symbol that cannot
    be placed is left out with its reason (Session.unplaced), never the session."""
    session = Session()
    paths = list(paths)
    for path in paths:
        if capture.is_list_file(path):
            listings = read_listings(scheme, path)
            if not len(listings):
                continue  # no answer of this API's list in it: no list at hand
            if session.listings is None:
                session.listings = listings
            else:
                session.listings.extend(listings.listings())
    for path in paths:
        if capture.is_list_file(path):
            continue
        current: Connection | None = None
        for rec in capture.read(path):
            if isinstance(rec, capture.Opened):
                current = Connection(rec.url, [], [])
                _subscribed(scheme, scheme.symbols_from_url(rec.url), session, current.instruments)
                session.connections.append(current)
            elif isinstance(rec, capture.Sent):
                if current is None:
                    current = Connection(rec.url, [], [])
                    session.connections.append(current)
                try:
                    sent = orjson.loads(rec.frame)
                except orjson.JSONDecodeError:
                    continue
                _subscribed(scheme, scheme.symbols_from_subscribe(sent), session, current.instruments)
            elif isinstance(rec, capture.Received):
                if current is None:
                    current = Connection("", [], [])
                    session.connections.append(current)
                current.frames.append((rec.time, rec.frame))
            elif isinstance(rec, capture.HttpAnswer):
                session.rest[rec.path].append((rec.time, rec.body))
    for answers in session.rest.values():
        answers.sort()
    return session


FrameHook = Callable[[float, str, "Replay"], None]


class Replay:
    """State of one connection's replay; tests step it frame by frame."""

    def __init__(
        self,
        scheme: Scheme,
        connection: Connection,
        rest: dict[str, list[tuple[float, str]]],
        listings: ListingIndex | None = None,
    ) -> None:
        self.scheme = scheme
        ticks: dict[str, str] = {}  # symbol -> the tick its venue lists
        if listings is not None:
            for instrument in connection.instruments:
                listing = listings.get(instrument.symbol)
                if listing is not None and listing.tick_size is not None:
                    ticks[instrument.symbol] = listing.tick_size
        self.ticks = TickCheck(ticks)
        self._checking_ticks = bool(self.ticks)  # a plain flag: tested for every batch of book work
        self.translator = Translator(scheme, connection.instruments)
        checksum = getattr(scheme, "checksum", None)
        self.keeper = BookKeeper([i.symbol for i in connection.instruments], checksum)
        self.rest = {path: deque(answers) for path, answers in rest.items()}
        self.pending: list[tuple[str, str]] = []  # (symbol, path) fetches not yet answered
        self.events: list[MarketEvent] = []
        self.reconnects_requested = 0
        self.sends_requested = 0  # frames a live feed would have sent (resubscribes, pongs)
        self._book_work: list[Instruction] = []
        self._work = ConnectionWork()
        self._mismatches: list[Report] = []

    def _answer_fetches(self, now: float) -> None:
        still: list[tuple[str, str]] = []
        for symbol, path in self.pending:
            queue = self.rest.get(path)
            if queue and queue[0][0] <= now:
                _, body = queue.popleft()
                self._deliver(RestAnswer(symbol, path, orjson.loads(body)))
            elif not queue:
                self._deliver(RestAnswer(symbol, path, None, "no recorded answer"))
            else:
                still.append((symbol, path))
        self.pending = still

    def _deliver(self, frame: object) -> None:
        self.translator.feed(frame, self._book_work, self._work)
        self._flush()

    def _flush(self) -> None:
        work = self._work
        while self._book_work or work.fetches:
            book_work, self._book_work = self._book_work, []
            if book_work:
                if self._checking_ticks:
                    self._check_ticks(book_work)
                self.keeper.apply(book_work, self.events, self._mismatches)
            if work.fetches:
                self.pending.extend((fetch.symbol, fetch.path) for fetch in work.fetches)
            self._connection_work()
            if self._mismatches:
                mismatches, self._mismatches = self._mismatches, []
                for mismatch in mismatches:
                    self.translator.feed(mismatch, self._book_work, work)
        self._connection_work()  # what a frame or a report asked of the connection alone

    def _check_ticks(self, book_work: list[Instruction]) -> None:
        for instruction in book_work:
            if isinstance(instruction, (Snapshot, Update)):
                self.ticks.check(instruction.symbol, instruction.bids)
                self.ticks.check(instruction.symbol, instruction.asks)

    def _connection_work(self) -> None:
        work = self._work
        if work.sends or work.reconnect is not None or work.fetches or work.malformed:
            self.sends_requested += len(work.sends)
            if work.reconnect is not None:
                # A replay cannot reconnect; the books stay as the scheme left them.
                self.reconnects_requested += 1
            work.clear()

    def feed(self, received: float, raw: str) -> None:
        if self.pending:
            self._answer_fetches(received)
        self.translator.feed_raw(raw, self._book_work, self._work)
        self._flush()

    def finish(self) -> None:
        """Answer fetches still outstanding with whatever was recorded later."""
        if self.pending:
            self._answer_fetches(float("inf"))


def replay(
    scheme: Scheme, paths: Iterable[str | Path], hook: FrameHook | None = None, repeat: int = 1
) -> tuple[list[Replay], Summary]:
    """Replay capture files; returns the final replays (one per connection)."""
    replays, summary, _ = replay_session(scheme, paths, hook, repeat)
    return replays, summary


def replay_session(
    scheme: Scheme, paths: Iterable[str | Path], hook: FrameHook | None = None, repeat: int = 1
) -> tuple[list[Replay], Summary, Session]:
    """`replay`, and the session it loaded (the markets it could not place among it)."""
    paths = list(paths)
    session = load(scheme, paths)
    summary = Summary()
    replays: list[Replay] = []
    for _ in range(repeat):
        replays = []
        started = time.perf_counter()
        for conn in session.connections:
            rp = Replay(scheme, conn, session.rest, session.listings)
            feed = rp.feed
            if hook is None:
                for received, raw in conn.frames:
                    feed(received, raw)
            else:
                for received, raw in conn.frames:
                    feed(received, raw)
                    hook(received, raw, rp)
            rp.finish()
            replays.append(rp)
            summary.frames += len(conn.frames)
        summary.seconds += time.perf_counter() - started
    for rp in replays:
        summary.markets += len(rp.keeper.books)
        summary.trades += rp.translator.trades
        summary.resyncs += rp.translator.resyncs
        summary.malformed += rp.translator.malformed
        summary.ignored += rp.translator.ignored
        summary.checksums_verified += rp.keeper.checksums_verified
        summary.checksum_failures += rp.keeper.checksum_failures
        summary.reconnects_requested += rp.reconnects_requested
        summary.resubscribes_requested += rp.sends_requested
        summary.off_tick += sum(len(prices) for prices in rp.ticks.off.values())
    summary.unplaced = len(session.unplaced)
    return replays, summary, session


def final_books(replays: list[Replay]) -> dict[str, dict[str, object]]:
    """Every market's final book, full depth, best first, keyed by symbol."""
    out: dict[str, dict[str, object]] = {}
    for rp in replays:
        for symbol, book in rp.keeper.books.items():
            out[symbol] = book.as_dict()
    return out
