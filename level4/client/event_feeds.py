"""A consumer's feed of events: the markets its selectors chose, the
channels it asked for, and a bounded queue between the connection and the
consumer's `async for`.

A consumer that lets `limit` events pile up unread has lost events it cannot
get back; its feed ends with `SlowConsumer` rather than growing memory or
silently skipping.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any

from level4.client.client_errors import SlowConsumer
from level4.client.market_patterns import Selector


class Feed:
    def __init__(self, selectors: Iterable[Selector], channels: Iterable[str], limit: int) -> None:
        self.selectors = tuple(selectors)
        self.channels = frozenset(channels)
        self.markets: dict[int, str] = {}  # chosen by the selectors: id -> tag
        self.limit = limit
        self._queue: deque[dict[str, Any]] = deque()
        self._ready = asyncio.Event()
        self._end: BaseException | None = None

    def push(self, event: dict[str, Any]) -> None:
        if self._end is not None:
            return
        if len(self._queue) >= self.limit:
            self._queue.clear()
            self.finish(SlowConsumer(f"{self.limit} events queued unread: the feed gave up"))
            return
        self._queue.append(event)
        self._ready.set()

    def finish(self, end: BaseException) -> None:
        """No more events: the consumer gets the ones queued, then `end` raised."""
        if self._end is None:
            self._end = end
            self._ready.set()

    async def next(self) -> dict[str, Any]:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._end is not None:
                raise self._end
            self._ready.clear()
            await self._ready.wait()
