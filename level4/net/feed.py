"""A market's websocket connection, run on the shared IO loop.

Connects, hands received frames to a callback in batches (every frame that
arrived before the loop next idles, with its receipt time), reconnects with
backoff, watches for a stalled feed, and performs REST fetches. It knows
nothing of dialects: what to send comes from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
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

# A venue that answers the upgrade with these is overloaded or restarting: try again later.
# Any other 4xx says the request itself is wrong (path, symbol, permission): no retry will help.
_RETRYABLE_4XX = frozenset({408, 425, 429})

# Process-wide, so a restarted actor's new connection never shares a
# generation with frames still in flight from the one it replaced.
_generations = itertools.count(1)

Batch = list[tuple[float, str | bytes]]


class FeedCallbacks:
    """What a FeedConnection reports; implemented by the websocket actor."""

    def connected(self, generation: int) -> None: ...
    def frames(self, generation: int, batch: Batch) -> None: ...
    def disconnected(self, generation: int, reason: str) -> None: ...
    def rest_answer(self, symbol: str, path: str, body: Any, error: str | None) -> None: ...
    def ping_due(self, generation: int) -> None: ...
    def refused(self, reason: str) -> None:
        """The venue refuses this feed for good; the connection has stopped trying."""


class Refused(Exception):
    """The venue's answer says no retry of this connection can succeed."""


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
    ) -> None:
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.cb = callbacks
        self.ping_interval = ping_interval
        self.stale_after = stale_after
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
                self.url, open_timeout=10, ping_interval=20, ping_timeout=20, max_size=2**25, close_timeout=2
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
        watchdog = asyncio.create_task(self._watchdog(ws))
        pinger = asyncio.create_task(self._pinger(generation)) if self.ping_interval else None
        try:
            self._last_frame = time.monotonic()
            async for raw in ws:
                self._last_frame = time.monotonic()
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
            watchdog.cancel()
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

    async def _watchdog(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.stale_after / 4))
            if time.monotonic() - self._last_frame > self.stale_after:
                self._reconnect_reason = f"stale feed: no frame for {self.stale_after:g}s"
                await ws.close()
                return

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
