"""One registry per service (several may run in one process, as the tests
do): its own metrics plus the process's CPU, memory and file descriptors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from level4.market.publisher import MarketPublisher
from level4.market.status_board import StatusBoard
from level4.metrics.collector import ServiceCollector

# A scrape of 500 markets takes a tenth of a second or more: scrapers and open dashboards
# asking at once, or more often than this, share one rendering.
MAX_AGE = 1.0


class ServiceMetrics:
    def __init__(
        self,
        board: StatusBoard,
        publishers: Mapping[int, MarketPublisher],
        stream_clients: Collection[Any],
        sinks: Callable[[], list[dict[str, Any]]] = list,
        max_age: float = MAX_AGE,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ServiceCollector(board, publishers, stream_clients, sinks))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.max_age = max_age
        self._lock = threading.Lock()
        self._rendered: dict[str, tuple[float, bytes]] = {}  # content type -> (when, body)

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format the scraper asks for (text or OpenMetrics)."""
        encoder, content_type = choose_encoder(accept or "")
        with self._lock:
            now = time.monotonic()
            last = self._rendered.get(content_type)
            if last is None or now - last[0] >= self.max_age:
                last = self._rendered[content_type] = (now, encoder(self.registry))
            return last[1], content_type
