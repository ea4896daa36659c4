"""Fan-out of every market's published events to in-process consumers
(the /stream endpoint, sinks, tests). Publishing never blocks: each
consumer callback must only enqueue."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Consumer = Callable[[dict[str, Any]], None]


class EventHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._consumers: tuple[Consumer, ...] = ()

    def subscribe(self, consumer: Consumer) -> Callable[[], None]:
        with self._lock:
            self._consumers = (*self._consumers, consumer)

        def unsubscribe() -> None:
            with self._lock:
                self._consumers = tuple(c for c in self._consumers if c is not consumer)

        return unsubscribe

    def publish(self, event: dict[str, Any]) -> None:
        for consumer in self._consumers:  # a tuple swapped whole: safe without the lock
            try:
                consumer(event)
            except Exception:  # one bad consumer must not stop the others or the market
                log.exception("consumer_failed", market=event.get("market"))
