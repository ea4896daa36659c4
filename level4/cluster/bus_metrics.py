"""/metrics of the cluster's event bus on this node (level4_cluster_bus_*)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from level4.cluster.event_bus import EventBus

COUNTERS = (
    ("sent_events", "delivered", "Events of this node's markets the bus's server acknowledged"),
    ("overflow_dropped_events", "overflow_dropped", "Events dropped from the bus's full queue (the others see a gap)"),
    ("injected_events", "injected", "Other nodes' events taken into this node's hub"),
    ("stale_dropped_events", "stale_dropped", "Other nodes' events of an epoch older than one seen (deposed)"),
    ("local_dropped_events", "local_dropped", "Other nodes' events of a market this node owns"),
    ("unreadable_messages", "unreadable", "Bus messages that were not events"),
    ("resync_requests", "resyncs_asked", "Snapshots this node asked the owners for"),
    ("resync_snapshots", "resyncs_sent", "Snapshots this node sent on the others' request"),
)


class BusCollector(Collector):
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    def collect(self) -> Iterator[Metric]:
        status = self.bus.status()
        labels = [str(status["node"])]
        up = GaugeMetricFamily("level4_cluster_bus_up", "1 when the bus's server takes events", labels=["node"])
        up.add_metric(labels, 1.0 if status["status"] == "up" else 0.0)
        yield up
        for name, key, help_text in COUNTERS:
            family = CounterMetricFamily(f"level4_cluster_bus_{name}", help_text, labels=["node"])
            family.add_metric(labels, float(status[key]))
            yield family
        remote = GaugeMetricFamily(
            "level4_cluster_bus_remote_markets", "Markets of other nodes copied here", labels=["node"]
        )
        remote.add_metric(labels, float(status["remote_markets"]))
        yield remote
        queued = GaugeMetricFamily("level4_cluster_bus_queued_events", "Events waiting to be sent", labels=["node"])
        queued.add_metric(labels, float(status["queued"]))
        yield queued
