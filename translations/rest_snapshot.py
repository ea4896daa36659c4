"""The REST-snapshot bookkeeping of venues whose stream sends only changes.

Such a venue's market buffers changes, fetches a snapshot over REST and
joins the two (Binance, Bitstamp). How a change is placed against the
snapshot is each venue's own rule and stays in its module; what is shared
is the fetching itself (asking, reading the answer, asking again when the
snapshot predates the stream, giving the market up for this connection) and
the shape around it (`SnapshotJoining`: buffering, joining, restarting).
These paths run once per snapshot or per lost book; of the per-frame path
only `_buffer`, while a book waits for its snapshot.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from translations.protocol import Fetch, Instruction, Instrument, Loss, Lost, Malformed, RestAnswer
from translations.scheme_defaults import SchemeDefaults

MAX_FETCHES = 5  # snapshots in a row that cannot be joined to the stream before giving up


class FetchingMarket(Protocol):
    instrument: Instrument
    fetching: bool  # a Fetch is out and its answer not yet read
    fetches: int  # snapshots asked for since the last one that joined the stream
    buffer: list[dict[str, Any]]  # changes waiting for the snapshot
    failed: bool  # its snapshot cannot be had on this connection: wait for the reconnect


class BreakableState(Protocol):
    broken: str | None


def fetch(market: FetchingMarket, path: str, out: list[Instruction]) -> None:
    market.fetching = True
    market.fetches += 1
    out.append(Fetch(market.instrument.symbol, path))


def give_up(market: FetchingMarket, state: BreakableState, reason: str, malformed: bool) -> list[Instruction]:
    """No snapshot for this market on this connection (asking again at once
    could hammer the REST API: the resync policy decides what instead).
    Meanwhile its changes are dropped, the other markets carry on."""
    market.failed = True
    market.buffer = []
    state.broken = reason
    out: list[Instruction] = [Malformed(reason, None)] if malformed else []
    out.append(Lost(market.instrument.symbol, Loss.SNAPSHOT_FAILED, reason))
    return out


def refetch(market: FetchingMarket, path: str) -> list[Instruction]:
    """A scheme's `refetch` for a market whose book was lost: a fresh
    snapshot, unless one is already asked for or none can be had."""
    out: list[Instruction] = []
    if not market.fetching and not market.failed:
        fetch(market, path, out)
    return out


def fetch_again(market: FetchingMarket, state: BreakableState, path: str) -> list[Instruction]:
    """The snapshot is older than every change buffered for it, so changes
    between the two may be missing: a newer one joins up, unless too many in
    a row have not."""
    if market.fetches >= MAX_FETCHES:
        return give_up(market, state, f"{MAX_FETCHES} snapshots older than the stream", False)
    out: list[Instruction] = []
    fetch(market, path, out)
    return out


def read_answer(answer: RestAnswer, position: str) -> tuple[int, list[Any], list[Any]]:
    """The snapshot's position in the stream (the integer under `position`)
    and its bids and asks. Raises ValueError, KeyError or TypeError for a
    failed fetch or a body that is not such a snapshot."""
    body = answer.body
    if answer.error is not None or not isinstance(body, dict) or position not in body:
        raise ValueError(answer.error or str(body)[:200])
    at = int(body[position])
    bids, asks = body["bids"], body["asks"]
    if type(bids) is not list or type(asks) is not list:
        raise ValueError("bids and asks must be lists")
    return at, bids, asks


Joining = TypeVar("Joining", bound=FetchingMarket)


class JoiningState(Protocol[Joining]):
    broken: str | None

    @property
    def markets(self) -> dict[str, Joining]: ...


class SnapshotJoining(SchemeDefaults, Generic[Joining]):
    """The shape every such scheme shares: changes buffered until the market's
    snapshot comes, the snapshot placed against them (asked for again when it
    predates them), the buffer replayed after it, and a lost book buffering
    again until the resync policy asks for a new one. A venue's scheme says
    where its snapshot is, where it stands in the stream and how changes
    follow it (the hooks below); the rest is here once."""

    snapshot_position: str  # the snapshot's field placing it in the stream

    # --- what a venue supplies ---------------------------------------------------------

    def snapshot_path(self, symbol: str) -> str:
        raise NotImplementedError

    def _synced(self, market: Joining) -> bool:
        """Whether the market's book follows the stream."""
        raise NotImplementedError

    def _forget(self, market: Joining) -> None:
        """Forget where the book stood in the stream: it is lost."""
        raise NotImplementedError

    def _predates(self, at: int, first: dict[str, Any]) -> bool:
        """Whether a snapshot at `at` misses changes made before the first change buffered."""
        raise NotImplementedError

    def _joined(
        self, market: Joining, state: BreakableState, at: int, bids: list[Any], asks: list[Any],
        buffered: list[dict[str, Any]], out: list[Instruction],
    ) -> None:  # fmt: skip
        """The book from the snapshot at `at`, then the buffered changes that follow it."""
        raise NotImplementedError

    # --- the shared shape ---------------------------------------------------------------

    def refetch(self, state: JoiningState[Joining], symbol: str) -> list[Instruction]:
        market = state.markets[symbol]
        return refetch(market, self.snapshot_path(market.instrument.symbol))

    def _fetch(self, market: Joining, out: list[Instruction]) -> None:
        fetch(market, self.snapshot_path(market.instrument.symbol), out)

    def _buffer(self, market: Joining, data: dict[str, Any], out: list[Instruction]) -> None:
        """A change while the book waits for its snapshot: kept, and a snapshot asked for
        if none is."""
        market.buffer.append(data)
        if not market.fetching:
            self._fetch(market, out)

    def _restart(self, market: Joining, kind: Loss, reason: str, out: list[Instruction]) -> None:
        """The book is lost (the resync policy refetches its snapshot, see
        `refetch`); changes arriving meanwhile are buffered. A market still
        joining its first snapshot just makes sure one is asked for."""
        if market.failed:
            return
        was_synced = self._synced(market)
        self._forget(market)
        if was_synced:
            out.append(Lost(market.instrument.symbol, kind, reason))
        elif not market.fetching:
            self._fetch(market, out)

    def _rest(self, answer: RestAnswer, state: JoiningState[Joining]) -> list[Instruction]:
        market = state.markets.get(answer.symbol)
        if market is None or not market.fetching:
            return [Malformed(f"unexpected snapshot for {answer.symbol}", None)]
        market.fetching = False
        try:
            at, bids, asks = read_answer(answer, self.snapshot_position)
        except (KeyError, TypeError, ValueError) as exc:
            return give_up(market, state, f"snapshot fetch failed: {exc}", True)
        return self._answered(market, state, at, bids, asks)

    def _answered(
        self, market: Joining, state: BreakableState, at: int, bids: list[Any], asks: list[Any]
    ) -> list[Instruction]:
        """A snapshot read: joined to the stream (a venue may hold it back first)."""
        return self._join(market, state, at, bids, asks)

    def _join(
        self, market: Joining, state: BreakableState, at: int, bids: list[Any], asks: list[Any]
    ) -> list[Instruction]:
        """The snapshot joined to the buffered changes, or fetched again if it predates them."""
        buffered = market.buffer
        if buffered and self._predates(at, buffered[0]):
            return fetch_again(market, state, self.snapshot_path(market.instrument.symbol))
        market.buffer = []
        market.fetches = 0
        out: list[Instruction] = []
        self._joined(market, state, at, bids, asks, buffered, out)
        return out
