"""One venue connection carrying many markets' subscriptions, on the IO loop.

A FeedConnection does the socket work (connect, backoff, stale watchdog,
pings, REST); this is its callbacks. Each received frame is parsed once and
routed by the scheme's `route` to the markets it concerns, which get it as
they would from a connection of their own: every market's subscription has
generations of its own (a new one each time it is subscribed), so a market
resubscribed alone looks to its mediator like a market on a new connection,
and the other markets on the connection see nothing of it.

Frames sent (subscribes, unsubscribes, pings, the markets' own requests) go
out in order, paced by one policy: the venue limiter's message window
(`FeedConnection.send`), from the limit the scheme states.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

import orjson
import structlog

from level4.net.backoff import Backoff
from level4.net.subscription_caps import SharingCaps
from level4.net.venue_connection import Batch, FeedCallbacks, FeedConnection, next_generation
from level4.net.venue_limiter import limiter_for
from translations.protocol import ALL_MARKETS, EVERY_MARKET, Instrument, Malformed, Renew, Send

log = structlog.get_logger(__name__)

BATCH_WINDOW = 0.05  # seconds markets joining together wait, to be subscribed in one request
BATCH_WAIT_MAX = 1.0  # while the sender is busy markets wait for more to join them, this long at most
RESUBSCRIBE_BASE = 0.5  # the first wait between a market's unsubscribe and its new subscribe
RESUBSCRIBE_CAP = 30.0
RESUBSCRIBE_CALM = 60.0  # a market not resubscribed for this long starts its backoff again
ERROR_LOGS_PER_MINUTE = 20  # a venue repeating an error must not flood the log

_numbers = itertools.count(1)


class SubscriberCallbacks(FeedCallbacks):
    """What a subscription reports; its market's relay implements it."""

    def routed(self, generation: int, batch: Batch, parsed: list[Any]) -> None:
        """Frames routed to this market, with the connection's parse of each."""
        self.frames(generation, batch)

    def riding(self, connection: str | None) -> None:
        """The shared connection this market now rides on (None: none)."""

    def unreadable(self, reason: str) -> None:
        """The connection received a frame no market can be given and the
        venue's scheme cannot read (logged once, by the connection)."""


class Subscription:
    """One market's place on a shared connection."""

    def __init__(self, instrument: Instrument, callbacks: SubscriberCallbacks, tag: str) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.cb = callbacks
        self.tag = tag
        self.generation = 0  # 0: not subscribed on the connection now
        self.sent_index = 0  # the connection's count of frames sent when its subscribe went (0: not yet)
        self.connection: SharedConnection | None = None
        self.backoff = Backoff(RESUBSCRIBE_BASE, RESUBSCRIBE_CAP)
        self.last_resubscribe = 0.0
        self.resubscribes = 0


# A frame waiting to be sent: connection generation, frame, the subscriptions its
# sending subscribes (marked with the sent count), whether it is a keep-alive ping.
_Outgoing = tuple[int, str | bytes, list[Subscription] | None, bool]


class SharedConnection(FeedCallbacks):
    def __init__(self, scheme: Any, url: str, rest_url: str, caps: SharingCaps) -> None:
        self.scheme = scheme
        self.url = url
        self.caps = caps
        self.number = next(_numbers)
        self.name = f"{scheme.name}#{self.number}"
        self.log = log.bind(market=self.name, url=url)
        self.feed = FeedConnection(
            url,
            rest_url,
            self,
            scheme.ping_interval,
            scheme.stale_after,
            tag=self.name,
            limiter=limiter_for(scheme.name, api=scheme.api),
        )
        self._is_keepalive = getattr(scheme, "keepalive", None)
        self.subs: dict[str, Subscription] = {}  # venue symbol -> subscription
        self.generation = 0  # the socket's generation while it is open, else 0
        self.conn_state: Any = None
        self.done = False  # refused for good, or closed
        self.connects = 0
        self.frames_routed = 0
        self.unrouted = 0  # frames for markets that have left or are being resubscribed
        self.venue_errors = 0
        self.renewals = 0  # connections renewed because a frame showed the whole one broken
        self._pending: list[Subscription] = []
        self._pending_since = 0.0
        self._flush_handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._outbox: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self._held = False  # the sender holds a frame until the connection's pace allows it
        self._sent = 0
        self._ping_index = 0
        self._error_logs: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._fetches: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references
        # Snapshots asked for by markets whose subscribe has not gone out yet: symbol -> paths.
        self._after_subscribe: dict[str, list[str]] = {}

    # --- life ------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self.feed.run())
        self._sender = loop.create_task(self._send_loop())

    async def close(self) -> None:
        self.done = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._after_subscribe.clear()
        for task in list(self._fetches):
            task.cancel()  # its answer has no market to go to, and the REST client is closing
        await self.feed.stop()
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    def room(self) -> int:
        return self.caps.markets_per_connection - len(self.subs)

    # --- the markets' operations ----------------------------------------------------

    def add(self, sub: Subscription) -> None:
        self.subs[sub.symbol] = sub
        sub.connection = self
        sub.generation = 0
        sub.sent_index = 0
        sub.cb.riding(self.name)
        if self.generation:
            self._want(sub, BATCH_WINDOW)

    def remove(self, sub: Subscription) -> None:
        """The market leaves: its subscription ends (one unsubscribe request)."""
        if self.subs.get(sub.symbol) is not sub:
            return
        del self.subs[sub.symbol]
        self._after_subscribe.pop(sub.symbol, None)
        if sub in self._pending:
            self._pending.remove(sub)
        if self.generation and sub.generation and self.subs:
            self._unsubscribe(sub)
        sub.generation = 0
        sub.connection = None
        sub.cb.riding(None)

    def resubscribe(self, sub: Subscription, reason: str) -> None:
        """This market alone starts again: unsubscribed, then after a pause (its
        own backoff) subscribed anew with a new generation; its mediator sees a
        lost connection, then a new one. The other markets see nothing."""
        if self.subs.get(sub.symbol) is not sub or not self.generation or not sub.generation:
            return  # not subscribed now: the next subscribe (pending or on connect) is fresh anyway
        now = time.monotonic()
        if now - sub.last_resubscribe > RESUBSCRIBE_CALM:
            sub.backoff.reset()
        sub.last_resubscribe = now
        sub.resubscribes += 1
        old, sub.generation, sub.sent_index = sub.generation, 0, 0
        self._after_subscribe.pop(sub.symbol, None)  # its new subscription asks anew
        self.log.info("market_resubscribe", symbol=sub.symbol, reason=reason)
        sub.cb.disconnected(old, reason)
        self._unsubscribe(sub)
        # The pause lets the old subscription's frames still in flight arrive (and be dropped).
        self._want(sub, sub.backoff.next_delay())

    def send(self, sub: Subscription, generation: int, frames: list[str | bytes]) -> None:
        if generation != sub.generation or not self.generation:
            return  # for a subscription that has been replaced
        for frame in frames:
            self._outbox.put_nowait((self.generation, frame, None, False))

    def fetch(self, symbol: str, path: str) -> None:
        if self.done:
            return  # closing: the market leaving will not need it
        sub = self.subs.get(symbol)
        if sub is not None and sub.generation and not sub.sent_index:
            # Its subscribe waits its turn to be sent: a snapshot taken now could predate its
            # stream and be fetched twice. It is asked for once the subscribe has gone.
            self._after_subscribe.setdefault(symbol, []).append(path)
            return
        self._fetch_now(symbol, path)

    def _fetch_now(self, symbol: str, path: str) -> None:
        task = asyncio.get_running_loop().create_task(self.feed.fetch(symbol, path))
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    # --- subscribing ---------------------------------------------------------------------

    def _want(self, sub: Subscription, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if delay > BATCH_WINDOW:
            loop.call_later(delay, self._want_now, sub)
            return
        if sub not in self._pending:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append(sub)
        if self._flush_handle is None:
            self._flush_handle = loop.call_later(delay, self._flush)

    def _want_now(self, sub: Subscription) -> None:
        if self.subs.get(sub.symbol) is sub and not sub.generation and self.generation and not self.done:
            self._want(sub, BATCH_WINDOW)

    def _flush(self) -> None:
        """Subscribe the markets waiting, in requests of the venue's size."""
        self._flush_handle = None
        waiting = [s for s in self._pending if self.subs.get(s.symbol) is s and not s.generation]
        size = self.caps.markets_per_request
        if (
            waiting
            and (self._held or not self._outbox.empty())
            and len(waiting) < size
            and time.monotonic() - self._pending_since < BATCH_WAIT_MAX
        ):
            # Requests already wait their turn: later joiners can share this one's.
            self._pending = waiting
            self._flush_handle = asyncio.get_running_loop().call_later(self._send_spacing, self._flush)
            return
        self._pending = []
        if not self.generation or not waiting:
            return
        scheme = self.scheme
        subscribe_on = getattr(scheme, "subscribe_on", None)
        for start in range(0, len(waiting), size):
            chunk = waiting[start : start + size]
            for sub in chunk:
                sub.generation = next_generation()
                sub.cb.connected(sub.generation)  # before any of its frames can arrive
            state = scheme.initial_state([s.instrument for s in chunk])
            if subscribe_on is not None:
                # The connection's own settings go with its first request only (Bitfinex's conf).
                frames, self.conn_state = subscribe_on(self.conn_state, state)
            else:
                frames = scheme.subscribe_msg(state)
            for n, frame in enumerate(frames):
                # The subscriptions count as sent with the last frame of their request.
                self._outbox.put_nowait((self.generation, frame, chunk if n == len(frames) - 1 else None, False))

    def _unsubscribe(self, sub: Subscription) -> None:
        scheme = self.scheme
        unsubscribe_on = getattr(scheme, "unsubscribe_on", None)
        if unsubscribe_on is not None:
            # The venue unsubscribes by what it assigned on this connection (channel ids).
            frames, self.conn_state = unsubscribe_on(self.conn_state, [sub.symbol])
        else:
            frames = scheme.unsubscribe_msg(scheme.initial_state([sub.instrument]))
        for frame in frames:
            self._outbox.put_nowait((self.generation, frame, None, False))

    @property
    def _send_spacing(self) -> float:
        """Seconds between frames at the venue's sustained message rate."""
        limiter = self.feed.limiter
        return 1.0 / limiter.limits.sends_per_second if limiter is not None else BATCH_WINDOW

    async def _send_loop(self) -> None:
        while True:
            generation, frame, subs, ping = await self._outbox.get()
            if generation != self.generation:
                continue  # queued for a socket that has gone; a new one subscribes afresh
            # The venue limiter paces every frame per socket (a new socket's subscribe after a
            # cut goes at once); while one waits its turn it is as good as queued, for _flush.
            self._held = True
            try:
                await self.feed.send(generation, [frame])
            finally:
                self._held = False
            self._sent += 1
            if subs is not None:
                for sub in subs:
                    if sub.generation:
                        sub.sent_index = self._sent
                        for path in self._after_subscribe.pop(sub.symbol, ()):
                            self._fetch_now(sub.symbol, path)
            if ping:
                self._ping_index = self._sent

    # --- FeedCallbacks: the socket's reports ------------------------------------------

    def connected(self, generation: int) -> None:
        self.generation = generation
        self.connects += 1
        self.conn_state = self.scheme.connection_state()
        self._sent = self._ping_index = 0
        self._after_subscribe.clear()  # for the socket that has gone: each market asks anew
        for sub in self.subs.values():
            sub.generation = 0
            sub.sent_index = 0
        while not self._outbox.empty():
            self._outbox.get_nowait()  # for the socket that has gone
        self._pending = list(self.subs.values())
        self._pending_since = time.monotonic()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)
        self.log.info("shared_connection_open", markets=len(self.subs))

    def frames(self, generation: int, batch: Batch) -> None:
        if generation != self.generation:
            return
        route = self.scheme.route
        keepalive = self._is_keepalive
        subs = self.subs
        out: dict[Subscription, tuple[Batch, list[Any]]] = {}
        # A frame for one market that already has frames in this batch (nearly every frame
        # under load) goes straight to that market's lists: one lookup by its symbol.
        single: dict[str, tuple[Batch, list[Any]]] = {}
        for received, raw in batch:
            try:
                frame: Any = orjson.loads(raw)
            except orjson.JSONDecodeError:
                frame = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            try:
                targets, self.conn_state = route(frame, self.conn_state)
            except Exception as exc:  # a scheme bug costs this frame, never the connection
                self._venue_error(f"route raised {type(exc).__name__}: {exc}", raw)
                continue
            if type(targets) is tuple and len(targets) == 1:
                entry = single.get(targets[0])
                if entry is not None:
                    entry[0].append((received, raw))
                    entry[1].append(frame)
                    continue
            if targets is None:
                self._own(frame, raw)
                continue
            if type(targets) is Renew:
                self._renew(targets.reason)
                break  # the rest of the batch came on a connection being replaced
            if targets is EVERY_MARKET or targets == EVERY_MARKET:
                chosen = [s for s in subs.values() if s.generation]
            elif targets is ALL_MARKETS or targets == ALL_MARKETS:
                # Answers about what the connection carries concern the markets whose
                # subscribe went out before the request they answer.
                limit = self._ping_index or self._sent
                chosen = [s for s in subs.values() if s.generation and 0 < s.sent_index <= limit]
            else:
                chosen = []
                for symbol in targets:
                    sub = subs.get(symbol)
                    if sub is not None and sub.generation:
                        chosen.append(sub)
                    else:
                        self.unrouted += 1
            for sub in chosen:
                entry = out.get(sub)
                if entry is None:
                    if keepalive is not None and keepalive(raw):
                        # Nothing of this market waits before it: counted, recorded, the actors left asleep.
                        sub.cb.keepalive(sub.generation, received, raw)
                        continue
                    entry = out[sub] = ([], [])
                    single[sub.symbol] = entry
                entry[0].append((received, raw))
                entry[1].append(frame)
        self.frames_routed += len(batch)
        for sub, (frames, parsed) in out.items():
            sub.cb.routed(sub.generation, frames, parsed)

    def _renew(self, reason: str) -> None:
        """The connection as a whole lost integrity: every market on it resyncs
        on a new one (their mediators see the disconnect), no other connection."""
        generation, self.generation = self.generation, 0  # frames still arriving are dropped
        if not generation:
            return
        self.renewals += 1
        self.log.warning("shared_connection_renew", reason=reason, markets=len(self.subs))
        task = asyncio.get_running_loop().create_task(self.feed.reconnect(reason))
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    def _own(self, frame: Any, raw: str | bytes) -> None:
        """A frame of the connection itself: what the scheme makes of it with no
        market subscribed tells an acknowledgement from the venue's error, and
        what the venue asks of the connection (answered here, once)."""
        try:
            instructions, _ = self.scheme.translate(frame, self.scheme.initial_state([]))
        except Exception:  # a scheme that cannot read it without markets: nothing to report
            return
        for ins in instructions:
            if type(ins) is Send:
                # The venue's own requests of the connection (a test request, a ping to answer).
                for frame_out in ins.frames:
                    self._outbox.put_nowait((self.generation, frame_out, None, False))
            elif type(ins) is Malformed:
                self._venue_error(ins.reason, raw)
                # Every market on the connection counts it: it came on their connection.
                for sub in self.subs.values():
                    if sub.generation:
                        sub.cb.unreadable(ins.reason)

    def _venue_error(self, reason: str, raw: str | bytes) -> None:
        self.venue_errors += 1
        now = time.monotonic()
        self._error_logs = [t for t in self._error_logs if now - t < 60.0]
        if len(self._error_logs) < ERROR_LOGS_PER_MINUTE:
            self._error_logs.append(now)
            self.log.warning("shared_connection_error", reason=reason, frame=str(raw)[:200])

    def disconnected(self, generation: int, reason: str) -> None:
        self.generation = 0
        self._after_subscribe.clear()
        for sub in list(self.subs.values()):
            old, sub.generation, sub.sent_index = sub.generation, 0, 0
            # A market not subscribed yet is told too (as a connection of its own would
            # tell it of each failed attempt): it waits on this connection, for this reason.
            sub.cb.disconnected(old or next_generation(), reason)

    def rest_answer(self, symbol: str, path: str, body: Any, error: str | None) -> None:
        sub = self.subs.get(symbol)
        if sub is not None:
            sub.cb.rest_answer(symbol, path, body, error)

    def queued(self, symbol: str, path: str, wait: float) -> None:
        # A snapshot waiting its turn within the venue's REST budget: that market says so.
        sub = self.subs.get(symbol)
        if sub is not None:
            sub.cb.queued(symbol, path, wait)

    def connect_queued(self, wait: float) -> None:
        for sub in list(self.subs.values()):
            sub.cb.connect_queued(wait)

    def ping_due(self, generation: int) -> None:
        if generation != self.generation:
            return
        state = self.scheme.initial_state([s.instrument for s in self.subs.values()])
        frames = self.scheme.ping_msg(state)
        for n, frame in enumerate(frames):
            self._outbox.put_nowait((generation, frame, None, n == len(frames) - 1))

    def refused(self, reason: str) -> None:
        self.done = True
        for sub in list(self.subs.values()):
            sub.cb.refused(reason)

    # --- what /metrics and the dashboard show ------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "connection": self.name,
            "api": str(self.scheme.api),
            "url": self.url,
            "shared": True,
            "state": "closed" if self.done else "open" if self.generation else "connecting",
            "open": bool(self.generation),
            "subscriptions": len(self.subs),
            "subscribed": sum(1 for s in self.subs.values() if s.generation),
            "capacity": self.caps.markets_per_connection,
            "connects": self.connects,
            "frames": self.frames_routed,
            "unrouted": self.unrouted,
            "venue_errors": self.venue_errors,
            "renewals": self.renewals,
            "resubscribes": sum(s.resubscribes for s in self.subs.values()),
        }
