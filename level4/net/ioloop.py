"""One asyncio event loop thread for every socket in the process.

Sockets are cheap coroutines. Running every market's websocket on one shared
loop costs one thread in all instead of one per connection. The loop's thread
is also the scheduler's host: the market actors a received frame wakes run
their turns here, between socket reads (level4/supervision/scheduler.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from level4.supervision import scheduler

T = TypeVar("T")


class IOLoop:
    _instance: IOLoop | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.host: Any = None  # the scheduler's host on this loop's thread, once it runs
        self._hosting = threading.Event()
        self._thread = threading.Thread(target=self._run, name="level4-io", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.host = scheduler.host_here(self.loop)
        self._hosting.set()
        self.loop.run_forever()

    @classmethod
    def get(cls) -> IOLoop:
        with cls._lock:
            if cls._instance is None or not cls._instance._thread.is_alive():
                cls._instance = IOLoop()
            return cls._instance

    def hosted_turns(self) -> int:
        """Actor turns this loop's thread has run as the scheduler's host."""
        self._hosting.wait(5)
        return int(self.host.turns) if self.host is not None else 0

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)
