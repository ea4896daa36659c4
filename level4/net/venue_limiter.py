"""One limiter per venue API and egress address: everything the process sends
to a venue is paced by the venue's published limits (`translations/venue_limits.py`;
Binance's spot and two futures APIs each have hosts and limits of their own).

It paces three things, each against a sliding window (no moment's last
`window` seconds may hold more than the limit, which is how venues count):
connection attempts, messages sent on each connection (spread evenly over
the window), and REST calls by their weight. A venue that still says "too many" (HTTP 429 or 418, a
throttling close code or close reason) backs off the whole venue: no new connection and
no REST call until its Retry-After has passed (or the venue's documented
default), never a storm of retries. Messages on connections already open
are not held back by it: holding their pings would only make the venue drop
them and cost more connects.

Callers wait in line, in order: only the head of the line sleeps, until
the moment the window admits it, and looks again when it wakes, so nothing
polls and a refusal or a slow attempt settled meanwhile (`settled`: an
attempt or call that takes long to reach the venue counts from when it
ended, as the venue counts arrivals) moves the waiting callers back rather
than letting them bunch up at the venue. A caller cancelled while waiting
leaves the line.

The API, for the feed today and the shared-connection pool:

    limiter = limiter_for("BINANCE")     # the venue's limiter (api="usdm": another API; egress "": default route)
    slot = await limiter.connect()       # before each websocket connection attempt,
    limiter.settled(slot)                #   and once it is answered (or given up)
    limiter.connect_wait()               # seconds a connection attempt would wait now
    await limiter.send(conn)             # before each frame sent on connection `conn` (any hashable key)
    limiter.forget(conn)                 # the connection is gone
    limiter.rest_wait(weight)            # seconds a REST call of this weight would wait now
    async with limiter.one_call:         # a REST call, one at a time:
        slot = await limiter.rest(weight)  #   its turn; weight: limiter.limits.rest_weight(path)
        limiter.settled(slot)            #   and once it is answered (a refusal told first)
    limiter.refused(reason, retry_after) # the venue refused: back the venue off
    limiter.state()                      # used of each window, waiters, backoff and why, totals (/metrics, /venues)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import structlog

from translations import limits_for
from translations.venue_limits import VenueLimits

log = structlog.get_logger(__name__)

# Windows are paced this much longer than the venue's: two frames sent a window
# apart may arrive closer together than that, and the venue counts arrivals.
MARGIN = 0.1

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


class Window:
    """A sliding window of weighted events, past and reserved (times ascending).

    A reservation costs the events it must look at: those leaving the window
    before its slot, and those that must leave for it to fit; with headroom
    that is none, so pacing a busy connection stays cheap."""

    def __init__(self, limit: int, seconds: float, spacing: float = 0.0, burst: int = 1) -> None:
        self.limit = max(1, limit)
        self.seconds = seconds
        self.spacing = spacing  # at least this long between two events (0: bursts allowed)
        self.burst = max(1, burst)  # events that may go together while the window holds fewer
        self._events: deque[list[float]] = deque()  # [time, weight]
        self._total = 0.0  # the weight of every event in _events
        self._lock = threading.Lock()  # state() reads from other threads
        self.line: deque[tuple[asyncio.Future[None], float]] = deque()  # callers waiting their turn, with weights

    def _slot(self, weight: float, earliest: float, now: float) -> float:
        events = self._events
        horizon = now - self.seconds
        while events and events[0][0] <= horizon:
            self._total -= events.popleft()[1]  # out of every future window: slots only move forward
        weight = min(weight, self.limit)  # heavier than the whole budget: waits for an empty window
        spaced = bool(events) and self._total >= self.burst  # a quiet window lets a burst go at once
        t = max(earliest, events[-1][0] + self.spacing) if spaced else earliest
        inside = self._total
        oldest = iter(events)
        event = next(oldest, None)
        while event is not None and event[0] <= t - self.seconds:
            inside -= event[1]  # gone from the window by the slot
            event = next(oldest, None)
        excess = inside + weight - self.limit
        while excess > 0 and event is not None:
            excess -= event[1]
            t = event[0] + self.seconds  # the moment this event leaves the window
            event = next(oldest, None)
        return t

    def peek(self, weight: float, earliest: float, now: float) -> float:
        with self._lock:
            return self._slot(weight, earliest, now)

    def behind_line(self, weight: float, earliest: float, now: float) -> float:
        """The slot a caller of this weight would get behind everyone waiting now."""
        with self._lock:
            saved, total = self._events, self._total
            self._events = deque(saved)  # a trial: the callers in line take their slots, then this one
            try:
                for _future, queued in list(self.line):
                    self._events.append([self._slot(queued, earliest, now), queued])
                    self._total += queued
                return self._slot(weight, earliest, now)
            finally:
                self._events, self._total = saved, total

    def reserve(self, weight: float, earliest: float, now: float) -> list[float]:
        with self._lock:
            entry = [self._slot(weight, earliest, now), float(weight)]
            self._events.append(entry)
            self._total += entry[1]
            return entry

    def settle(self, entry: list[float], now: float) -> None:
        """An event that took until `now` to reach the venue (a slow handshake
        or request) counts from then: the venue counts it when it arrives."""
        with self._lock:
            if entry[0] >= now:
                return
            events = self._events
            n = self._find(entry)
            if n is None:
                return  # already out of every window
            del events[n]
            entry[0] = now
            n = len(events)
            while n > 0 and events[n - 1][0] > now:
                n -= 1
            events.insert(n, entry)

    def cancel(self, entry: list[float]) -> None:
        with self._lock:
            n = self._find(entry)
            if n is not None:
                del self._events[n]
                self._total -= entry[1]

    def _find(self, entry: list[float]) -> int | None:
        """Where an entry is; looked for from the newest end, where turns just taken are."""
        events = self._events
        for n in range(len(events) - 1, -1, -1):
            if events[n] is entry:
                return n
        return None

    def used(self, now: float) -> float:
        """Weight in the window that ends now (reservations still ahead not counted)."""
        with self._lock:
            return sum(w for t, w in self._events if now - self.seconds < t <= now)

    def available(self, now: float) -> float:
        return max(0.0, self.limit - self.used(now))


@dataclass(frozen=True, slots=True)
class Slot:
    """A granted turn in a window."""

    window: Window
    entry: list[float]


class VenueLimiter:
    def __init__(
        self,
        venue: str,
        limits: VenueLimits,
        egress: str = "",
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        api: str = "",
    ) -> None:
        self.venue = venue.upper()
        self.api = api  # which of the venue's APIs ("" its first): each has hosts and limits of its own
        self.limits = limits
        self.egress = egress
        self._clock = clock
        self._sleep = sleep
        stretch = 1.0 + MARGIN
        self.connects = Window(limits.connects, limits.connect_window * stretch)
        self.weight = Window(limits.rest_budget, limits.rest_window * stretch)
        self._senders: dict[Hashable, Window] = {}
        # Held for the whole of a REST call (its turn, the request, the answer): calls to a venue
        # go one at a time, so a refusal is known before the next call leaves and none is sent
        # into a Retry-After the venue has already given (Binance bans an address for that, 418).
        self.one_call = asyncio.Lock()
        self.backoff_until = 0.0  # on the limiter's clock
        self.backoff_reason = ""  # what the venue said when it set backoff_until
        self.waiting = {"connect": 0, "send": 0, "rest": 0}
        self.totals = {
            "connects": 0,
            "sends": 0,
            "rest_calls": 0,
            "rest_weight": 0,
            "refusals": 0,
            "waits": 0,
            "waited_seconds": 0.0,
        }
        self.log = log.bind(venue=self.venue, api=api)

    # --- pacing ----------------------------------------------------------------------

    async def connect(self) -> Slot:
        """Wait for a connection attempt's turn; hand the result to `settled`
        once the attempt is answered or given up."""
        slot = await self._take(self.connects, 1, "connect", held_by_backoff=True)
        self.totals["connects"] += 1
        return slot

    async def send(self, conn: Hashable) -> None:
        window = self._senders.get(conn)
        if window is None:
            # Spread evenly over the window, not in bursts at its edges: a burst that reaches the
            # venue late (its loop busy, the network bunching) would land in its next second too.
            # Only a quiet connection's first frames, up to half the limit, go at once: a new
            # socket's subscribe requests, so a book is not kept waiting a spacing behind the
            # request before it (Kraken's instrument channel) after every reconnect; with the rest
            # of the window empty, they are no more exposed to a late arrival than spaced frames.
            per_second = self.limits.sends_per_second
            spacing = (1.0 + MARGIN) / max(1, per_second)
            window = self._senders[conn] = Window(per_second, 1.0 + MARGIN, spacing, burst=per_second // 2)
        await self._take(window, 1, "send", held_by_backoff=False)
        self.totals["sends"] += 1

    def forget(self, conn: Hashable) -> None:
        self._senders.pop(conn, None)

    def connect_wait(self) -> float:
        """Seconds a connection attempt asked now would wait (behind those already waiting)."""
        now = self._clock()
        return max(0.0, self.connects.behind_line(1, max(now, self.backoff_until), now) - now)

    def rest_wait(self, weight: int) -> float:
        """Seconds a REST call of this weight asked now would wait (behind those already waiting)."""
        now = self._clock()
        return max(0.0, self.weight.behind_line(weight, max(now, self.backoff_until), now) - now)

    async def rest(self, weight: int) -> Slot:
        """Wait for a REST call's turn; hand the result to `settled` once it is answered."""
        slot = await self._take(self.weight, weight, "rest", held_by_backoff=True)
        self.totals["rest_calls"] += 1
        self.totals["rest_weight"] += weight
        return slot

    def settled(self, slot: Slot) -> None:
        """The attempt or call is over: it counts from now if that is later than
        its turn, so a slow one cannot bunch up with the next at the venue."""
        slot.window.settle(slot.entry, self._clock())

    async def _take(self, window: Window, weight: int, kind: str, held_by_backoff: bool) -> Slot:
        """Wait in line for a turn, then take it. Only the caller at the head of the
        line sleeps, until the moment the window admits it, and looks again when it
        wakes: a refusal or a slow attempt settled meanwhile may have moved it."""
        now = self._clock()
        earliest = max(now, self.backoff_until) if held_by_backoff else now
        if not window.line and window.peek(weight, earliest, now) <= now:
            return Slot(window, window.reserve(weight, now, now))  # a free turn, no one waiting
        started, line = now, window.line
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line.append((turn, weight))
        self.waiting[kind] += 1
        try:
            if line[0][0] is not turn:
                await turn  # the caller ahead hands the head of the line on when it has its turn
            while True:
                now = self._clock()
                earliest = max(now, self.backoff_until) if held_by_backoff else now
                delay = window.peek(weight, earliest, now) - now
                if delay <= 0:
                    break
                await self._sleep(delay)
            entry = window.reserve(weight, now, now)
        finally:
            self.waiting[kind] -= 1
            self._leave(line, turn)
        self.totals["waits"] += 1
        self.totals["waited_seconds"] += self._clock() - started
        return Slot(window, entry)

    @staticmethod
    def _leave(line: deque[tuple[asyncio.Future[None], float]], turn: asyncio.Future[None]) -> None:
        """Out of the line (turn taken, or cancelled); a new head is woken."""
        head = bool(line) and line[0][0] is turn
        for n, (future, _weight) in enumerate(line):
            if future is turn:
                del line[n]
                break
        if not turn.done():
            turn.cancel()
        if head or (turn.done() and not turn.cancelled()):
            for future, _weight in line:
                if not future.done():
                    future.set_result(None)
                    break

    # --- refusals --------------------------------------------------------------------

    def refused(self, reason: str, retry_after: float | None = None) -> float:
        """The venue said too many: no connect or REST call before the returned
        moment (limiter clock). Several refusals in a row do not stack up."""
        seconds = self.limits.retry_after if retry_after is None else max(0.0, retry_after)
        until = self._clock() + seconds
        self.totals["refusals"] += 1
        if until > self.backoff_until:
            self.backoff_until = until
            self.backoff_reason = reason
            self.log.warning("venue_backoff", egress=self.egress, seconds=round(seconds, 3), reason=reason)
        return self.backoff_until

    def backoff_remaining(self) -> float:
        return max(0.0, self.backoff_until - self._clock())

    # --- for metrics -------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        now = self._clock()
        senders = list(self._senders.values())
        remaining = self.backoff_remaining()
        limits = self.limits
        sends_used = max((w.used(now) for w in senders), default=0.0)
        return {
            "venue": self.venue,
            "api": self.api,
            "egress": self.egress,
            "connect_tokens": self.connects.available(now),
            "rest_tokens": self.weight.available(now),
            "send_connections": len(senders),
            "send_tokens_min": min((w.available(now) for w in senders), default=float(limits.sends_per_second)),
            # What was used of each of the venue's limits, counted over the window the limiter paces
            # (the venue's, MARGIN longer: so never less than the venue counts).
            "windows": {
                "connect": {"used": self.connects.used(now), "limit": limits.connects, "window": limits.connect_window},
                "send": {"used": sends_used, "limit": limits.sends_per_second, "window": 1.0},
                "rest": {"used": self.weight.used(now), "limit": limits.rest_budget, "window": limits.rest_window},
            },
            "queued": dict(self.waiting),
            "backoff_remaining": remaining,
            "backoff_until": time.time() + remaining if remaining > 0 else None,
            "backoff_reason": self.backoff_reason if remaining > 0 else None,
            "totals": dict(self.totals),
            "limits": limits.as_dict(),
        }


def retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date), or None."""
    raw = headers.get("Retry-After") if headers is not None else None
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


_lock = threading.Lock()
_limiters: dict[tuple[str, str, str], VenueLimiter] = {}


def limiter_for(venue: str, egress: str = "", limits: VenueLimits | None = None, api: str = "") -> VenueLimiter:
    """The process's limiter for this venue's API and egress address, made on
    first use from the API's published limits (or `limits`). Limits that
    changed since (tests scale them down) make a fresh limiter."""
    key = (venue.upper(), api, egress)
    wanted = limits if limits is not None else limits_for(venue, api)
    with _lock:
        limiter = _limiters.get(key)
        if limiter is None or limiter.limits != wanted:
            limiter = _limiters[key] = VenueLimiter(venue, wanted, egress, api=api)
        return limiter


def limiters() -> list[VenueLimiter]:
    with _lock:
        return sorted(_limiters.values(), key=lambda lim: (lim.venue, lim.api, lim.egress))


def reset() -> None:
    """Forget every limiter (tests that must start from an empty window)."""
    with _lock:
        _limiters.clear()
