"""A market's websocket connection, run on the shared IO loop.

Connects, hands received frames to a callback in batches (every frame that
arrived before the loop next idles, with its receipt time), reconnects with
backoff, watches for a stalled feed, and performs REST fetches. It knows
nothing of dialects: what to send comes from outside, and so does the test
that tells a pure keep-alive frame, which is reported on its own (counted,
recorded) rather than woken a market's actors for, unless frames are already
waiting to go: then it goes with them, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import weakref
from collections.abc import Callable
from typing import Any

import httpx
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from level4.net.backoff import Backoff

log = structlog.get_logger(__name__)

RECONNECT_BASE = 0.5  # seconds before the first reconnect (then doubling, with jitter)
RECONNECT_CAP = 30.0  # the longest wait between attempts
REST_TIMEOUT = 10.0  # a snapshot slower than this counts as failed
WATCHDOG_TICK = 0.25  # seconds between the stale checks of all connections
# Frames websockets buffers before it stops reading the socket: its default of 16
# pauses and resumes the reader on every burst of a busy feed.
MAX_QUEUE = 1024

# A venue that answers the upgrade with these is overloaded or restarting: try again later.
# Any other 4xx says the request itself is wrong (path, symbol, permission): no retry will help.
_RETRYABLE_4XX = frozenset({408, 425, 429})

# Process-wide, so a restarted actor's new connection never shares a
# generation with frames still in flight from the one it replaced.
_generations = itertools.count(1)

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
    ) -> None:
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.cb = callbacks
        self.ping_interval = ping_interval
        self.stale_after = stale_after
        self.keepalive = keepalive
        self.backoff = backoff or Backoff(RECONNECT_BASE, RECONNECT_CAP)
        self.log = log.bind(market=tag)
        self.generation = 0
        self._ws: ClientConnection | None = None
        self._stopping = False
        self._reconnect_reason: str | None = None
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._batch: Batch = []
        self._flush_scheduled = False
        self._last_frame = time.monotonic()
        self._closing: asyncio.Task[None] | None = None

    # --- called on the IO loop -----------------------------------------------------

    async def run(self) -> None:
        self._task = asyncio.current_task()
        # Venues move REST paths behind redirects (trailing slashes, new hosts).
        self._http = httpx.AsyncClient(timeout=REST_TIMEOUT, follow_redirects=True)
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
                delay = self.backoff.next_delay()
                self.log.info("feed_reconnect_scheduled", reason=reason, delay=round(delay, 3))
                await asyncio.sleep(delay)
        finally:
            await self._http.aclose()

    async def _session(self) -> str:
        self.generation = generation = next(_generations)
        self._reconnect_reason = None
        try:
            ws = await connect(
                self.url,
                open_timeout=10,
                ping_interval=20,
                ping_timeout=20,
                max_size=2**25,
                max_queue=MAX_QUEUE,
                close_timeout=2,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if 400 <= status < 500 and status not in _RETRYABLE_4XX:
                raise Refused(f"websocket upgrade refused: HTTP {status}") from None
            return f"websocket upgrade refused: HTTP {status}"
        except InvalidURI as exc:
            raise Refused(f"unusable websocket URL: {exc}") from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            return f"connect failed: {type(exc).__name__}: {exc}"
        self._ws = ws
        self.cb.connected(generation)
        opened = time.monotonic()
        watchdog = _watchdog()
        pinger = asyncio.create_task(self._pinger(generation)) if self.ping_interval else None
        keepalive = self.keepalive
        try:
            self._last_frame = time.monotonic()
            watchdog.watch(self)
            async for raw in ws:
                self._last_frame = time.monotonic()
                if keepalive is not None and not self._batch and keepalive(raw):
                    self.cb.keepalive(generation, time.time(), raw)
                    continue
                self._batch.append((time.time(), raw))
                if not self._flush_scheduled:
                    self._flush_scheduled = True
                    asyncio.get_running_loop().call_soon(self._flush, generation)
                if self._last_frame - opened > 10 and self.backoff.attempts:
                    self.backoff.reset()  # a connection that has lived a while is healthy again
            return self._reconnect_reason or f"closed by venue: {ws.close_code} {ws.close_reason}".strip()
        except ConnectionClosed as exc:
            return self._reconnect_reason or f"connection lost: {exc}"
        finally:
            self._flush(generation)
            watchdog.forget(self)
            if pinger is not None:
                pinger.cancel()
            self._ws = None
            with contextlib.suppress(Exception):
                await ws.close()

    def _flush(self, generation: int) -> None:
        self._flush_scheduled = False
        if self._batch:
            batch, self._batch = self._batch, []
            self.cb.frames(generation, batch)

    def _stalled(self) -> None:
        ws = self._ws
        if ws is not None:
            self._reconnect_reason = f"stale feed: no frame for {self.stale_after:g}s"
            self._closing = asyncio.get_running_loop().create_task(ws.close())  # held: the loop keeps only weak refs

    async def _pinger(self, generation: int) -> None:
        assert self.ping_interval
        while True:
            await asyncio.sleep(self.ping_interval)
            self.cb.ping_due(generation)

    async def send(self, generation: int, frames: list[str | bytes]) -> None:
        ws = self._ws
        if ws is None or generation != self.generation:
            return  # frames for a connection that is gone
        try:
            for frame in frames:
                await ws.send(frame)
        except ConnectionClosed:
            pass

    async def reconnect(self, reason: str) -> None:
        ws = self._ws
        if ws is not None:
            self._reconnect_reason = reason
            await ws.close()

    async def fetch(self, symbol: str, path: str) -> None:
        assert self._http is not None
        url = f"{self.rest_url}{path}"
        try:
            response = await self._http.get(url)
            if response.status_code != 200:
                self.cb.rest_answer(symbol, path, None, f"HTTP {response.status_code} from {url}")
                return
            self.cb.rest_answer(symbol, path, response.json(), None)
        except (httpx.HTTPError, ValueError) as exc:
            self.cb.rest_answer(symbol, path, None, f"{type(exc).__name__}: {exc}")

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
