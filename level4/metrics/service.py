"""One registry per service (several may run in one process, as the tests
do): its own metrics plus the process's CPU, memory and file descriptors."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from level4.market.publisher import MarketPublisher
from level4.market.status import StatusBoard
from level4.metrics.collector import ServiceCollector


class ServiceMetrics:
    def __init__(
        self,
        board: StatusBoard,
        publishers: Mapping[int, MarketPublisher],
        stream_clients: Collection[Any],
        sinks: Callable[[], list[dict[str, Any]]] = list,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ServiceCollector(board, publishers, stream_clients, sinks))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format the scraper asks for (text or OpenMetrics)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
