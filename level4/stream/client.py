"""One /stream client's side of the fan-out: what it subscribed to, and a
bounded queue of messages for its socket.

Events are offered from the markets' exchange threads (and the consolidated
tracker's), filtered here and queued; the socket's sender drains the queue
on the HTTP server's event loop. The queue holds at most `limit` messages:
a client that lets more pile up is slow beyond help, and is disconnected
with a reason (close code 1008) rather than allowed to grow memory. Its
queue is dropped at once.

While a market's book snapshot is pending, that market's book events are
held back (the snapshot covers them); a snapshot published by the market
itself (after a resync) answers as well as the one asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import deque
from typing import Any

import structlog

log = structlog.get_logger(__name__)

BATCH = 256  # messages taken per wake-up: what is in flight beside the queue


class StreamClient:
    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self.closing: str | None = None  # why the client is being disconnected
        self.high_water = 0  # the longest the queue has been
        self._queue: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        # market id -> channels; replaced whole, so producers may read it without the lock
        self._channels: dict[int, frozenset[str]] = {}
        self._pending: dict[int, int] = {}  # market id -> token of the book snapshot asked for
        self._tokens = itertools.count(1)
        self._ready = asyncio.Event()
        self._woken = False
        self._given_up = asyncio.Event()  # set once `closing` is: the sender may be stuck in a write

    # --- producers (any thread) -----------------------------------------------------

    def offer(self, event: dict[str, Any]) -> None:
        """The hub consumer: queue the event if the client wants it."""
        channels = self._channels.get(event["market_id"])
        if channels is None or event["channel"] not in channels:
            return
        with self._lock:
            market_id = event["market_id"]
            channels = self._channels.get(market_id)
            if channels is None or event["channel"] not in channels:
                return  # unsubscribed meanwhile
            if event["channel"] == "book" and market_id in self._pending:
                if not event["snapshot"]:
                    return  # covered by the snapshot on its way
                del self._pending[market_id]
            self._put(event)

    def deliver_snapshot(self, market_id: int, token: int, event: dict[str, Any]) -> None:
        with self._lock:
            if self._pending.get(market_id) != token:
                return  # superseded: a snapshot came through the stream, or the client left the book
            del self._pending[market_id]
            self._put(event)

    def offer_consolidated(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._put(event)

    def reply(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._put(message)

    def _put(self, item: dict[str, Any]) -> None:
        # the lock is held
        if self.closing is not None:
            return
        if len(self._queue) >= self.limit:
            self.closing = f"slow consumer: {self.limit} messages queued unsent"
            self._queue.clear()
            self._channels = {}
            self._wake()
            with contextlib.suppress(RuntimeError):  # the loop is closed: the client is gone
                self.loop.call_soon_threadsafe(self._given_up.set)
            return
        self._queue.append(item)
        if len(self._queue) > self.high_water:
            self.high_water = len(self._queue)
        self._wake()

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            with contextlib.suppress(RuntimeError):  # the loop is closed: the client is gone
                self.loop.call_soon_threadsafe(self._ready.set)

    # --- subscriptions (the event loop) ----------------------------------------------

    def subscribe(
        self, markets: dict[int, str], channels: frozenset[str], reply: dict[str, Any]
    ) -> list[tuple[int, int]]:
        """Add channels; queue `reply` before any event they bring. Returns the
        (market id, token) of each book snapshot to ask for."""
        wanted: list[tuple[int, int]] = []
        with self._lock:
            table = dict(self._channels)
            for market_id in markets:
                before = table.get(market_id, frozenset())
                if "book" in channels and "book" not in before:
                    token = next(self._tokens)
                    self._pending[market_id] = token
                    wanted.append((market_id, token))
                table[market_id] = before | channels
            self._put(reply)
            if self.closing is None:
                self._channels = table
        return wanted

    def unsubscribe(self, market_ids: list[int], channels: frozenset[str], reply: dict[str, Any]) -> None:
        """Remove channels; no event of them follows `reply`."""
        with self._lock:
            table = dict(self._channels)
            for market_id in market_ids:
                left = table.get(market_id, frozenset()) - channels
                if "book" not in left:
                    self._pending.pop(market_id, None)
                if left:
                    table[market_id] = left
                else:
                    table.pop(market_id, None)
            self._channels = table
            self._put(reply)

    def subscribed(self) -> dict[int, frozenset[str]]:
        return self._channels

    # --- the sender (the event loop) -------------------------------------------------

    async def given_up(self) -> str:
        """Wait until the client is to be disconnected; the reason."""
        await self._given_up.wait()
        return self.closing or "closing"

    async def next_batch(self) -> list[dict[str, Any]] | None:
        """The next messages to send, oldest first; None once the client must go."""
        while True:
            with self._lock:
                if self.closing is not None:
                    return None
                self._woken = False
                n = min(len(self._queue), BATCH)
                batch = [self._queue.popleft() for _ in range(n)]
                if len(self._queue):
                    self._woken = True  # more to take: no wake-up needed
            if batch:
                return batch
            self._ready.clear()
            await self._ready.wait()
