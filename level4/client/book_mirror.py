"""A live local copy of one market's book, kept from /stream events.

Levels are `Level(price, size)` of `Decimal`, best first. The mirror is fed
on the client's event loop and may be read from any thread: every change
and every read holds its lock, so a read never sees half an event.

`synchronised` is true only while all of these hold: the mirror holds a
snapshot of the current subscription and every event after it, in sequence
(and epoch); the last book event said the book is good; the last status
event (if any since the snapshot) is `synchronised`; the client is
connected. Whenever it is false the mirror holds no levels, as the service
serves an unsynchronised book empty: a stale book is never presented as good.
"""

from __future__ import annotations

import asyncio
import operator
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, overload

import structlog
from sortedcontainers import SortedDict

from level4.client.client_errors import NotSynchronised
from level4.client.client_records import Level

log = structlog.get_logger(__name__)

Callback = Callable[["BookMirror"], None]


@dataclass(frozen=True, slots=True)
class BookView:
    """One consistent reading of a mirror."""

    market: str
    synchronised: bool
    sequence: int | None
    epoch: Any
    reason: str | None
    bids: list[Level]
    asks: list[Level]


class Side(Sequence[Level]):
    """One side of a mirror, best first, read live: `book.bids[:5]` copies five levels."""

    def __init__(self, levels: SortedDict, lock: threading.Lock) -> None:
        self._levels = levels
        self._lock = lock

    @overload
    def __getitem__(self, index: int) -> Level: ...
    @overload
    def __getitem__(self, index: slice) -> list[Level]: ...
    def __getitem__(self, index: int | slice) -> Level | list[Level]:
        with self._lock:
            found: Level | list[Level] = self._levels.values()[index]
            return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._levels)

    def __iter__(self) -> Iterator[Level]:
        with self._lock:
            return iter(list(self._levels.values()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Side | list | tuple):
            return self[:] == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # it changes as the book does

    def __repr__(self) -> str:
        return f"Side({self[:]!r})"


class BookMirror:
    def __init__(self, market: str, market_id: int) -> None:
        self.market = market  # the tag
        self.market_id = market_id
        self._lock = threading.Lock()
        self._bids: SortedDict = SortedDict(operator.neg)  # price -> Level, highest first
        self._asks: SortedDict = SortedDict()
        self._orders: dict[tuple[bool, Decimal], int] = {}  # (bid?, price) -> orders, where the venue counts them
        self.bids = Side(self._bids, self._lock)
        self.asks = Side(self._asks, self._lock)
        self._sequence: int | None = None
        self._epoch: Any = None
        self._reason: str | None = "no snapshot yet"
        self._held = False  # a snapshot of the current subscription, and every event since
        self._book_good = False  # what the last book event said
        self._status_good = True  # what the last status event since the snapshot said
        self._failure: BaseException | None = None
        self._callbacks: list[Callback] = []
        self._changed = asyncio.Event()

    # --- reading (any thread) --------------------------------------------------------

    @property
    def synchronised(self) -> bool:
        with self._lock:
            return self._good()

    @property
    def sequence(self) -> int | None:
        """The sequence of the last event the mirror took."""
        return self._sequence

    @property
    def epoch(self) -> Any:
        return self._epoch

    @property
    def reason(self) -> str | None:
        """Why the mirror is not synchronised (None while it is)."""
        with self._lock:
            return None if self._good() else self._reason

    def view(self, depth: int | None = None) -> BookView:
        with self._lock:
            return BookView(
                self.market,
                self._good(),
                self._sequence,
                self._epoch,
                None if self._good() else self._reason,
                list(self._bids.values()[:depth]),
                list(self._asks.values()[:depth]),
            )

    def orders(self, side: str, price: Decimal | str) -> int | None:
        """How many orders the venue counts at that price (Bitfinex), or None."""
        with self._lock:
            return self._orders.get((side == "bid", Decimal(price)))

    def on_change(self, callback: Callback) -> Callable[[], None]:
        """Call `callback(mirror)` after every event that changed the book or
        whether it is synchronised, on the client's event loop; returns a
        function that stops the calls."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    async def wait_synchronised(self, timeout: float | None = 30.0) -> None:
        """Until the mirror is synchronised; `NotSynchronised` (a TimeoutError)
        with the reason when it is not by then, or the client's fatal error."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if self._failure is not None:
                        raise self._failure
                    if self.synchronised:
                        return
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise NotSynchronised(f"{self.market} not synchronised after {timeout}s: {self.reason}") from None

    def __repr__(self) -> str:
        return f"<BookMirror {self.market} synchronised={self.synchronised} sequence={self._sequence}>"

    # --- fed by the client's connection (its event loop) ------------------------------

    def apply_event(self, event: dict[str, Any]) -> None:
        """An event of this market, in order (the connection checked the sequence)."""
        channel = event["channel"]
        with self._lock:
            before = self._good()
            self._sequence = event["sequence"]
            changed = False
            if channel == "book":
                changed = True
                if event["snapshot"]:
                    self._clear()
                    self._held = True
                    self._status_good = True  # the snapshot says how the book stands now
                    self._epoch = event.get("epoch")
                    self._book_good = bool(event["synchronised"])
                elif not event["synchronised"]:
                    self._book_good = False
                self._reason = event.get("reason") or self._reason
                self._levels(self._bids, True, event["bids"])
                self._levels(self._asks, False, event["asks"])
            elif channel == "status":
                self._status_good = event["status"] == "synchronised"
                if not self._status_good:
                    self._reason = event.get("reason") or f"market {event['status']}"
            after = self._good()
            if not after:
                self._clear()
            if after and not before:
                self._reason = None
        if changed or after != before:
            self._notify()

    def mark_lost(self, reason: str) -> None:
        """The client lost track (a gap, a disconnect): nothing holds until a fresh snapshot."""
        with self._lock:
            was = self._held
            self._held = False
            self._reason = reason
            self._clear()
        if was:
            self._notify()

    def mark_failed(self, failure: BaseException) -> None:
        """Nothing more will come (a closed client, a refused token): waits raise `failure`."""
        self._failure = failure
        self.mark_lost(str(failure))
        self._changed.set()

    # --- internals (the lock is held) ---------------------------------------------------

    def _good(self) -> bool:
        return self._held and self._book_good and self._status_good

    def _clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._orders.clear()

    def _levels(self, ladder: SortedDict, bid: bool, levels: list[list[Any]]) -> None:
        for raw in levels:
            price, size = Decimal(raw[0]), Decimal(raw[1])
            if size == 0:
                ladder.pop(price, None)
                self._orders.pop((bid, price), None)
                continue
            ladder[price] = Level(price, size)
            if len(raw) > 2:
                self._orders[(bid, price)] = int(raw[2])

    def _notify(self) -> None:
        self._changed.set()
        for callback in list(self._callbacks):
            try:
                callback(self)
            except Exception:  # a consumer's bug must not cost the connection
                log.exception("client_callback_failed", market=self.market)
