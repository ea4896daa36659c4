"""A sink's bounded queue: filled from any thread, drained by one asyncio loop.

`put` is what the event hub calls on an exchange actor's thread, so it never
waits on the sink: when the queue is full the oldest event is dropped and
counted, and the market goes on. One FIFO queue keeps every market's events
in the order they were published. Each event gets a serial number, unique in
this process, that the sinks use to make a resend after a broken connection
recognisable as one (JetStream drops it as a duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import deque
from typing import Any

# (serial, event): a plain tuple, as this is built on the publishing thread for every event.
Queued = tuple[int, dict[str, Any]]


class Outbox:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("an outbox holds at least one event")
        self.capacity = capacity
        self.origin = uuid.uuid4().hex[:12]  # serials are unique per outbox, this makes them unique overall
        self.accepted = 0
        self.dropped = 0
        self.last_drop_at: float | None = None
        self._items: deque[Queued] = deque()
        self._lock = threading.Lock()
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: dict[str, Any]) -> None:
        with self._lock:
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
                self.last_drop_at = time.time()
            self.accepted += 1
            self._items.append((self.accepted, event))
            waiter, self._waiter = self._waiter, None
        if waiter is not None:  # only a waiting consumer costs a wake-up
            _set_soon(*waiter)

    def wake(self) -> None:
        """End a consumer's wait now (used at shutdown), events or not."""
        with self._lock:
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            _set_soon(*waiter)

    def take_nowait(self, limit: int) -> list[Queued]:
        with self._lock:
            return self._pop(limit)

    async def take(self, limit: int, timeout: float) -> list[Queued]:
        """Up to `limit` events, oldest first; waits up to `timeout` for the first."""
        ready = asyncio.Event()
        with self._lock:
            if self._items:
                return self._pop(limit)
            self._waiter = (asyncio.get_running_loop(), ready)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), timeout)
        with self._lock:
            if self._waiter is not None and self._waiter[1] is ready:
                self._waiter = None
            return self._pop(limit)

    def _pop(self, limit: int) -> list[Queued]:
        items = self._items
        n = min(limit, len(items))
        return [items.popleft() for _ in range(n)]


def _set_soon(loop: asyncio.AbstractEventLoop, ready: asyncio.Event) -> None:
    with contextlib.suppress(RuntimeError):  # its loop has closed: nobody is waiting any more
        loop.call_soon_threadsafe(ready.set)
