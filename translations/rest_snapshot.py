"""The REST-snapshot bookkeeping of venues whose stream sends only changes.

Such a venue's market buffers changes, fetches a snapshot over REST and
joins the two (Binance, Bitstamp). How a change is placed against the
snapshot is each venue's own rule and stays in its module; what is shared
is the fetching itself: asking, reading the answer, asking again when the
snapshot predates the stream, and giving the market up for this connection.
These paths run once per snapshot, never per frame.
"""

from __future__ import annotations

from typing import Any, Protocol

from translations.protocol import Fetch, Instruction, Instrument, Loss, Lost, Malformed, RestAnswer

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
