"""The cluster's part of /metrics: what this node's keeper did to its leases and markets."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from level4.cluster.cluster_view import ClusterView
from level4.market.publisher import MarketPublisher


class ClusterCollector(Collector):
    def __init__(self, view: ClusterView, publishers: Mapping[int, MarketPublisher]) -> None:
        self.view = view
        self.publishers = publishers

    def collect(self) -> Iterator[Metric]:
        node, counts = self.view.node, self.view.counts
        for name, value, help_text in (
            ("level4_cluster_lease_renewals", counts.renewals, "Lease renewal rounds that the database answered"),
            ("level4_cluster_leases_lost", counts.lost, "Leases lost: not renewed before the local deadline, or taken"),
            ("level4_cluster_markets_taken", counts.taken, "Markets this node claimed and started"),
            ("level4_cluster_markets_released", counts.released, "Markets this node stopped and handed back"),
            ("level4_cluster_failovers", counts.failovers, "Markets taken over from a node that stopped heartbeating"),
            ("level4_cluster_failed_ticks", counts.failed_ticks, "Keeper ticks the database did not answer"),
        ):
            family = CounterMetricFamily(name, help_text, labels=["node"])
            family.add_metric([node], value)
            yield family
        fenced = CounterMetricFamily(
            "level4_cluster_fenced_events", "Events dropped because the lease was no longer held", labels=["node"]
        )
        fenced.add_metric([node], sum(p.fenced for p in list(self.publishers.values())))
        yield fenced
        held = GaugeMetricFamily("level4_cluster_markets_held", "Markets this node runs under a lease", labels=["node"])
        held.add_metric([node], sum(1 for m in list(self.publishers) if self.view.runs_here(m)))
        yield held
