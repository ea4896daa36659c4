"""A market's websocket connection, run on the shared IO loop.

Connects, hands received frames to a callback in batches (every frame that
arrived before the loop next idles, with its receipt time), reconnects (at
once when its market had synchronised, else with growing backoff; see
level4.net.backoff), watches for a stalled feed, and performs REST fetches. It knows
nothing of dialects: what to send comes from outside, and so does the test
that tells a pure keep-alive frame, which is reported on its own (counted,
recorded) rather than woken a market's actors for, unless frames are already
waiting to go: then it goes with them, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import structlog

from level4.net.backoff import Backoff
from level4.net.venue_limiter import VenueLimiter, retry_after

log = structlog.get_logger(__name__)

RECONNECT_BASE = 0.5  # seconds before the first retry of a failure (then doubling, with jitter)
RECONNECT_CAP = 30.0  # the longest wait between attempts
RECONNECT_JITTER = 0.1  # the longest wait after a synchronised connection was cut
REST_TIMEOUT = 10.0  # a snapshot slower than this counts as failed
OPEN_TIMEOUT = 10.0  # connect and upgrade
CLOSE_TIMEOUT = 2.0
PING_INTERVAL = 20.0  # websocket pings; a pong later than half of it counts as a lost connection
MAX_FRAME = 2**25
WATCHDOG_TICK = 0.25  # seconds between the stale checks of all connections
REST_REFUSALS = 3  # REST refusals ("too many requests") waited out before a fetch counts as failed
QUEUED_NOTICE = 0.05  # a REST call that must wait longer than this is reported as queued
RENEW_AT = 0.95  # of the venue's connection lifetime: reconnect before the venue cuts

# aiohttp, not websockets, for the venues' sockets: its frame reader is compiled
# (Cython) and costs a third of websockets' pure-Python one per received frame.
_TEXT, _BINARY = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
_ENDED = frozenset({aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED})


def _received_queue(ws: aiohttp.ClientWebSocketResponse) -> Any:
    """aiohttp's queue of messages read off the socket and not yet received (a
    deque, public on its reader in aiohttp 3.x), or None where it is not there:
    while it holds more, a batch keeps growing; once it is empty, the batch is
    complete and goes to the callbacks at once rather than a loop turn later."""
    queue = getattr(getattr(ws, "_reader", None), "_buffer", None)
    return queue if isinstance(queue, deque) else None


# A venue that answers the upgrade with these is overloaded or restarting: try again later.
# Any other 4xx says the request itself is wrong (path, symbol, permission): no retry will help.
_RETRYABLE_4XX = frozenset({408, 425, 429})

# Close reasons by which venues say "too many" whatever the code (Deribit ends a session
# with too_many_requests, Binance closes with "Too many requests").
_THROTTLE_WORDS = ("too many", "too_many", "rate limit", "exceeded msg rate")


def _throttled(code: int | None, reason: Any, limiter: VenueLimiter) -> bool:
    if code in limiter.limits.throttle_close_codes:
        return True
    text = str(reason or "").lower()
    return any(word in text for word in _THROTTLE_WORDS)


_tls: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    """One TLS context for every REST client: building one (loading the CA bundle)
    costs tens of milliseconds on the shared IO loop, per market started."""
    global _tls
    if _tls is None:
        _tls = httpx.create_ssl_context()
    return _tls


# Process-wide, so a restarted actor's new connection never shares a
# generation with frames still in flight from the one it replaced.
_generations = itertools.count(1)


def next_generation() -> int:
    """A generation no connection of this process has had (shared connections
    number each market's subscription with these too)."""
    return next(_generations)


Batch = list[tuple[float, str | bytes]]
KeepAlive = Callable[[str | bytes], bool]


class FeedCallbacks:
    """What a FeedConnection reports; implemented by the websocket actor."""

    def connected(self, generation: int) -> None: ...
    def frames(self, generation: int, batch: Batch) -> None: ...
    def keepalive(self, generation: int, received: float, raw: str | bytes) -> None:
        """A pure keep-alive frame with nothing waiting before it."""
        self.frames(generation, [(received, raw)])

    def disconnected(self, generation: int, reason: str) -> None: ...
    def rest_answer(self, symbol: str, path: str, body: Any, error: str | None) -> None: ...
    def queued(self, symbol: str, path: str, wait: float) -> None:
        """A REST fetch waits this long for its turn within the venue's limits."""

    def connect_queued(self, wait: float) -> None:
        """A connection attempt waits this long for its turn within the venue's limits."""

    def ping_due(self, generation: int) -> None: ...
    def refused(self, reason: str) -> None:
        """The venue refuses this feed for good; the connection has stopped trying."""


class Refused(Exception):
    """The venue's answer says no retry of this connection can succeed."""


class _Watchdog:
    """One timer per event loop checks every connection for a stalled feed
    (a task per connection would wake the loop once a second for each)."""

    def __init__(self) -> None:
        self.feeds: set[FeedConnection] = set()
        self.task: asyncio.Task[None] | None = None

    def watch(self, feed: FeedConnection) -> None:
        self.feeds.add(feed)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    def forget(self, feed: FeedConnection) -> None:
        self.feeds.discard(feed)

    async def _run(self) -> None:
        try:
            while self.feeds:
                await asyncio.sleep(WATCHDOG_TICK)
                now = time.monotonic()
                for feed in [f for f in self.feeds if now - f._last_frame > f.stale_after]:
                    self.feeds.discard(feed)
                    feed._stalled()
        finally:
            self.task = None


_watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = weakref.WeakKeyDictionary()


def _watchdog() -> _Watchdog:
    loop = asyncio.get_running_loop()
    dog = _watchdogs.get(loop)
    if dog is None:
        dog = _watchdogs[loop] = _Watchdog()
    return dog


class FeedConnection:
    def __init__(
        self,
        url: str,
        rest_url: str,
        callbacks: FeedCallbacks,
        ping_interval: float | None,
        stale_after: float,
        backoff: Backoff | None = None,
        tag: str = "",
        keepalive: KeepAlive | None = None,
        limiter: VenueLimiter | None = None,
    ) -> None:
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.cb = callbacks
        self.ping_interval = ping_interval
        self.stale_after = stale_after
        self.keepalive = keepalive
        self.limiter = limiter  # paces connects, sends and REST by the venue's limits (None: unpaced)
        self.backoff = backoff or Backoff(RECONNECT_BASE, RECONNECT_CAP, jitter=RECONNECT_JITTER)
        # This connection's market reached synchronised (told by `synchronised`), and
        # no reconnect since asked to back off: if it is cut, reconnect at once.
        self._synced = False
        self.log = log.bind(market=tag)
        self.generation = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stopping = False
        self._reconnect_reason: str | None = None
        self._http: httpx.AsyncClient | None = None
        self._sockets: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._batch: Batch = []
        self._flush_scheduled = False
        self._last_frame = time.monotonic()
        self._closing: asyncio.Task[bool] | None = None
        self._sending: asyncio.Lock | None = None  # made on the IO loop: frames go in the order asked

    @property
    def is_open(self) -> bool:
        """The socket is up now (not connecting, waiting its turn or backing off)."""
        return self._ws is not None

    # --- called on the IO loop -----------------------------------------------------

    async def run(self) -> None:
        self._task = asyncio.current_task()
        self._sending = asyncio.Lock()
        # Venues move REST paths behind redirects (trailing slashes, new hosts).
        self._http = httpx.AsyncClient(timeout=REST_TIMEOUT, follow_redirects=True, verify=_tls_context())
        self._sockets = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=OPEN_TIMEOUT))
        try:
            while not self._stopping:
                try:
                    reason = await self._session()
                except Refused as exc:
                    self.log.error("feed_refused", reason=str(exc))
                    self.cb.refused(str(exc))
                    return
                if self._stopping:
                    break
                self.cb.disconnected(self.generation, reason)
                synced, self._synced = self._synced, False
                delay = self.backoff.next_delay(synced)
                self.log.info("feed_reconnect_scheduled", reason=reason, delay=round(delay, 3), was_synchronised=synced)
                await asyncio.sleep(delay)
        finally:
            await self._sockets.close()
            await self._http.aclose()

    async def _session(self) -> str:
        self.generation = generation = next(_generations)
        self._reconnect_reason = None
        self._synced = False
        assert self._sockets is not None
        limiter = self.limiter
        if limiter is not None and (wait := limiter.connect_wait()) > QUEUED_NOTICE:
            self.cb.connect_queued(wait)
        attempt = await limiter.connect() if limiter is not None else None
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                ws = await self._sockets.ws_connect(
                    self.url,
                    heartbeat=PING_INTERVAL,
                    max_msg_size=MAX_FRAME,
                    compress=15,  # permessage-deflate offered, as venues expect of clients
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT),
                )
            if limiter is not None and attempt is not None:
                limiter.settled(attempt)
        except aiohttp.WSServerHandshakeError as exc:
            if limiter is not None and attempt is not None:
                limiter.settled(attempt)
            status = exc.status
            if limiter is not None and status in limiter.limits.throttle_statuses:
                limiter.refused(f"websocket upgrade: HTTP {status}", retry_after(exc.headers))
                return f"websocket upgrade refused: HTTP {status}"
            if 400 <= status < 500 and status not in _RETRYABLE_4XX:
                raise Refused(f"websocket upgrade refused: HTTP {status}") from None
            return f"websocket upgrade refused: HTTP {status}"
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError, ValueError) as exc:
            raise Refused(f"unusable websocket URL: {exc}") from None
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            if limiter is not None and attempt is not None:
                limiter.settled(attempt)
            return f"connect failed: {type(exc).__name__}: {exc}"
        self._ws = ws
        self.cb.connected(generation)
        watchdog = _watchdog()
        pinger = asyncio.create_task(self._pinger(generation)) if self.ping_interval else None
        lifetime = limiter.limits.max_lifetime if limiter is not None else None
        renew = (
            asyncio.get_running_loop().call_later(lifetime * RENEW_AT, self._renew, generation, lifetime)
            if lifetime
            else None
        )
        keepalive = self.keepalive
        received = _received_queue(ws)
        try:
            self._last_frame = time.monotonic()
            watchdog.watch(self)
            while True:
                msg = await ws.receive()
                kind = msg.type
                if kind is not _TEXT and kind is not _BINARY:
                    if kind in _ENDED:
                        closed = f"closed by venue: {ws.close_code} {msg.extra or ''}".strip()
                        if limiter is not None and _throttled(ws.close_code, msg.extra, limiter):
                            limiter.refused(closed, limiter.limits.close_backoff)
                        return self._reconnect_reason or closed
                    if kind is aiohttp.WSMsgType.ERROR:
                        return self._reconnect_reason or f"connection lost: {ws.exception() or msg.data}"
                    continue  # pings and pongs: answered and checked by aiohttp
                raw: str | bytes = msg.data
                self._last_frame = time.monotonic()
                if keepalive is not None and not self._batch and keepalive(raw):
                    self.cb.keepalive(generation, time.time(), raw)
                    continue
                self._batch.append((time.time(), raw))
                if received is not None and not received:
                    self._flush_now(generation)  # all that was read is in the batch
                elif not self._flush_scheduled:
                    self._flush_scheduled = True
                    asyncio.get_running_loop().call_soon(self._flush, generation)
        except (OSError, aiohttp.ClientError) as exc:
            return self._reconnect_reason or f"connection lost: {type(exc).__name__}: {exc}"
        finally:
            self._flush(generation)
            watchdog.forget(self)
            if pinger is not None:
                pinger.cancel()
            if renew is not None:
                renew.cancel()
            if limiter is not None:
                limiter.forget((self, generation))
            self._ws = None
            with contextlib.suppress(Exception):
                await ws.close()

    def _flush(self, generation: int) -> None:
        self._flush_scheduled = False
        if self._batch:
            batch, self._batch = self._batch, []
            self.cb.frames(generation, batch)

    def _flush_now(self, generation: int) -> None:
        """`_flush` from the receiving loop itself: a fault in a callback is logged
        as the event loop logs one in a callback it runs, and the socket goes on."""
        try:
            self._flush(generation)
        except Exception:
            self.log.exception("feed_callback_failed")

    def _stalled(self) -> None:
        ws = self._ws
        if ws is not None:
            self._reconnect_reason = f"stale feed: no frame for {self.stale_after:g}s"
            self._closing = asyncio.get_running_loop().create_task(ws.close())  # held: the loop keeps only weak refs

    def _renew(self, generation: int, lifetime: float) -> None:
        ws = self._ws
        if ws is not None and generation == self.generation:
            self._reconnect_reason = f"renewed before the venue's {lifetime:g}s connection lifetime ends"
            self._closing = asyncio.get_running_loop().create_task(ws.close())

    async def _pinger(self, generation: int) -> None:
        assert self.ping_interval
        while True:
            await asyncio.sleep(self.ping_interval)
            self.cb.ping_due(generation)

    async def send(self, generation: int, frames: list[str | bytes]) -> None:
        ws = self._ws
        if ws is None or generation != self.generation:
            return  # frames for a connection that is gone
        limiter = self.limiter
        if limiter is None or self._sending is None:
            await self._send(ws, frames)
            return
        async with self._sending:  # paced frames wait in line, so they still go in the order asked
            for frame in frames:
                await limiter.send((self, generation))
                if self._ws is not ws:
                    return  # the connection went while this frame waited its turn
                await self._send(ws, [frame])

    @staticmethod
    async def _send(ws: aiohttp.ClientWebSocketResponse, frames: list[str | bytes]) -> None:
        try:
            for frame in frames:
                if isinstance(frame, str):
                    await ws.send_str(frame)
                else:
                    await ws.send_bytes(frame)
        except (OSError, aiohttp.ClientError, RuntimeError):
            pass  # the connection is going; its end is reported by the receiving side

    def synchronised(self) -> None:
        """The market is synchronised on the current connection: the backoff
        starts afresh, and a cut from now on reconnects at once."""
        if self._ws is not None:
            self._synced = True
            self.backoff.reset()

    async def reconnect(self, reason: str, backoff: bool = False) -> None:
        """Renew the connection; `backoff`: wait as after a failure even if
        the market had synchronised (the venue refused something)."""
        ws = self._ws
        if ws is not None:
            self._reconnect_reason = reason
            if backoff:
                self._synced = False
            await ws.close()

    async def fetch(self, symbol: str, path: str) -> None:
        assert self._http is not None
        url = f"{self.rest_url}{path}"
        limiter = self.limiter
        weight = limiter.limits.rest_weight(path) if limiter is not None else 0
        try:
            for _refusal in range(REST_REFUSALS + 1):
                if limiter is None:
                    response = await self._get(url)
                    break
                wait = limiter.rest_wait(weight)
                if wait > QUEUED_NOTICE:
                    self.cb.queued(symbol, path, wait)
                async with limiter.one_call:
                    call = await limiter.rest(weight)
                    try:
                        response = await self._get(url)
                        throttled = response.status_code in limiter.limits.throttle_statuses
                        if throttled:
                            # Too many: the whole venue waits (Retry-After), told before the next
                            # call may leave; then this fetch takes its turn again.
                            limiter.refused(f"HTTP {response.status_code} from {url}", retry_after(response.headers))
                    finally:
                        limiter.settled(call)
                if not throttled:
                    break
            if response.status_code != 200:
                self.cb.rest_answer(symbol, path, None, f"HTTP {response.status_code} from {url}")
                return
            self.cb.rest_answer(symbol, path, response.json(), None)
        except (httpx.HTTPError, ValueError) as exc:
            self.cb.rest_answer(symbol, path, None, f"{type(exc).__name__}: {exc}")

    async def _get(self, url: str) -> httpx.Response:
        """A GET, asked once more when a kept-alive connection turns out closed by the
        server before it answered (nothing was served, so asking again is safe)."""
        assert self._http is not None
        try:
            return await self._http.get(url)
        except httpx.RemoteProtocolError:
            return await self._http.get(url)

    async def stop(self) -> None:
        self._stopping = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
