"""The event bus as a child of the service's root supervisor, in cluster mode only
(a node name and a bus URL: LEVEL4_NODE, LEVEL4_CLUSTER_BUS)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.engine import make_url

from level4.cluster.event_bus import EventBus, RequestBook
from level4.market.hub import EventHub
from level4.market.registry import Registry
from level4.supervision.supervised import SupervisedActor
from level4.supervision.supervisor import ChildSpec

STOP_MARGIN = 5.0  # seconds beyond the bus's flush before its supervisor stops waiting


class EventBusActor(SupervisedActor):
    # Its own thread: starting waits for the server and stopping for the flush.
    dispatcher = "thread"

    def __init__(self, bus: EventBus, **supervision: Any) -> None:
        super().__init__(**supervision)
        self.bus = bus

    def on_start(self) -> None:
        self.bus.start()

    def on_stop(self) -> None:
        self.bus.stop(self.bus.spec.flush + 1.0)


def cluster_bus(
    settings: Any,
    hub: EventHub,
    registry: Registry,
    request_book: RequestBook,
    known_markets: Callable[[], Iterable[int]],
) -> EventBus | None:
    """The node's bus when both a node name and a bus URL are configured, else None.
    Until the cluster's leases say otherwise (`EventBus.attach`), a node owns the markets it runs."""
    node = getattr(settings, "node", None)
    url = getattr(settings, "cluster_bus", None)
    if not node or not url:
        return None
    cluster = getattr(settings, "cluster", None) or catalogue_name(getattr(settings, "database_url", ""))
    return EventBus(
        url,
        str(node),
        hub,
        cluster=str(cluster),
        is_local=lambda market_id: registry.lookup(market_id, "market") is not None,
        request_book=request_book,
        local_markets=known_markets,
    )


def catalogue_name(database_url: str) -> str:
    """The cluster's default name: its catalogue database's, as a subject token
    (letters, digits, _), so clusters of two catalogues on one NATS stay apart."""
    name = make_url(database_url).database if database_url else None
    return re.sub(r"[^A-Za-z0-9_]", "_", name or "") or "level4"


def bus_children(bus: EventBus | None) -> list[ChildSpec]:
    if bus is None:
        return []
    return [ChildSpec.for_actor("cluster-bus", EventBusActor, bus, shutdown=bus.spec.flush + STOP_MARGIN)]
