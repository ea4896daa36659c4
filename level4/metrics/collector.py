"""The service's metrics, read at scrape time from what the service keeps
anyway: the status board (per-market counters, written once per batch),
the publishers (events numbered per market), the /stream clients, the
sinks' states and the venue limiters (`level4/net/venue_limiter.py`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from level4.market.publisher import MarketPublisher
from level4.market.status_board import Status, StatusBoard
from level4.metrics.latency import LatencyRecorder, combined, cumulative
from level4.net import connection_pool, venue_limiter

MARKET_LABELS = ["market_id", "market", "exchange"]

# board field -> (metric name without _total, help)
MARKET_COUNTERS = {
    "frames": ("level4_frames_received", "Frames received from the venue"),
    "resyncs": ("level4_resyncs", "Times the book was found broken and resynchronised"),
    "reconnects": ("level4_reconnects", "Connections to the venue lost and reopened"),
    "checksum_failures": ("level4_checksum_failures", "Book checksums that did not match the venue's"),
    "malformed": ("level4_malformed_frames", "Frames the venue's scheme could not read"),
    "restarts": ("level4_market_restarts", "Restarts of an actor of the market's tree"),
}


def _exchange(tag: str) -> str:
    return tag.split(".", 1)[0]


class ServiceCollector(Collector):
    def __init__(
        self,
        board: StatusBoard,
        publishers: Mapping[int, MarketPublisher],
        stream_clients: Collection[Any],
        sinks: Callable[[], list[dict[str, Any]]],
        limiters: Callable[[], list[venue_limiter.VenueLimiter]] = venue_limiter.limiters,
        connections: Callable[[], list[dict[str, Any]]] = connection_pool.connections,
    ) -> None:
        self.board = board
        self.publishers = publishers
        self.stream_clients = stream_clients
        self.sinks = sinks
        self.limiters = limiters
        self.connections = connections

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        states = self.board.snapshot()
        publishers = dict(list(self.publishers.items()))  # markets may start while this runs
        tags = {mid: p.tag for mid, p in publishers.items()}

        def labels(mid: int) -> list[str]:
            tag = tags.get(mid, str(mid))
            return [str(mid), tag, _exchange(tag)]

        counters = {
            field: CounterMetricFamily(name, doc, labels=MARKET_LABELS)
            for field, (name, doc) in MARKET_COUNTERS.items()
        }
        status = GaugeMetricFamily(
            "level4_market_status",
            "1 for the market's current status, 0 for the others",
            labels=[*MARKET_LABELS, "status"],
        )
        last_frame = GaugeMetricFamily(
            "level4_market_last_frame_timestamp_seconds",
            "When the last frame arrived (Unix time)",
            labels=MARKET_LABELS,
        )
        age = GaugeMetricFamily(
            "level4_market_feed_age_seconds", "Seconds since the last frame arrived", labels=MARKET_LABELS
        )
        for mid in sorted(states):
            state, lv = states[mid], labels(mid)
            for field, family in counters.items():
                family.add_metric(lv, getattr(state, field))
            for s in Status:
                status.add_metric([*lv, str(s)], 1.0 if state.status is s else 0.0)
            if state.last_frame_at is not None:
                last_frame.add_metric(lv, state.last_frame_at)
                age.add_metric(lv, max(0.0, now - state.last_frame_at))
        yield from counters.values()
        yield status
        yield last_frame
        yield age

        published = CounterMetricFamily(
            "level4_events_published", "Events published to consumers (every channel)", labels=MARKET_LABELS
        )
        by_exchange: dict[str, list[LatencyRecorder]] = {}
        for mid in sorted(publishers):
            publisher = publishers[mid]
            published.add_metric(labels(mid), publisher.published)
            by_exchange.setdefault(_exchange(publisher.tag), []).append(publisher.latency)
        yield published
        latency = HistogramMetricFamily(
            "level4_receipt_to_publish_seconds",
            "From a batch's last frame's receipt to the publication of its events",
            labels=["exchange"],
        )
        for exchange in sorted(by_exchange):
            counts, total = combined(by_exchange[exchange])
            latency.add_metric([exchange], cumulative(counts), total)
        yield latency

        yield GaugeMetricFamily("level4_stream_clients", "Consumers connected to /stream", len(self.stream_clients))
        yield from self._sinks()
        yield from self._limits()
        yield from self._connections()

    def _limits(self) -> Iterator[Metric]:
        names = ["venue", "api", "egress"]
        tokens = GaugeMetricFamily(
            "level4_venue_limit_tokens",
            "What the venue's window allows now: connects, REST weight, sends on the fullest connection",
            labels=[*names, "kind"],
        )
        queued = GaugeMetricFamily(
            "level4_venue_limit_queued", "Callers waiting their turn within the venue's limits", labels=[*names, "kind"]
        )
        backoff = GaugeMetricFamily(
            "level4_venue_backoff_seconds", "Seconds until the venue may be asked again after a refusal", labels=names
        )
        paced = CounterMetricFamily(
            "level4_venue_limited", "Connects, sends, REST calls and REST weight let through", labels=[*names, "kind"]
        )
        refusals = CounterMetricFamily(
            "level4_venue_refusals", "Times the venue said too many (HTTP 429/418, throttling close)", labels=names
        )
        waited = CounterMetricFamily(
            "level4_venue_waited_seconds", "Time callers spent waiting their turn", labels=names
        )
        used = GaugeMetricFamily(
            "level4_venue_limit_used",
            "Used of the venue's limit in its window: connects, REST weight, sends on the busiest connection",
            labels=[*names, "kind"],
        )
        limit = GaugeMetricFamily(
            "level4_venue_limit", "The venue's published limit per window", labels=[*names, "kind"]
        )
        window = GaugeMetricFamily(
            "level4_venue_limit_window_seconds", "The window the venue's limit counts over", labels=[*names, "kind"]
        )
        backoff_until = GaugeMetricFamily(
            "level4_venue_backoff_until_timestamp_seconds",
            "While the venue backs the process off: until when (Unix time), and the venue's refusal",
            labels=[*names, "reason"],
        )
        for limiter in self.limiters():
            state = limiter.state()
            lv = [limiter.venue, limiter.api, limiter.egress]
            tokens.add_metric([*lv, "connect"], state["connect_tokens"])
            tokens.add_metric([*lv, "rest"], state["rest_tokens"])
            tokens.add_metric([*lv, "send"], state["send_tokens_min"])
            for kind, w in state["windows"].items():
                used.add_metric([*lv, kind], w["used"])
                limit.add_metric([*lv, kind], w["limit"])
                window.add_metric([*lv, kind], w["window"])
            for kind, n in state["queued"].items():
                queued.add_metric([*lv, kind], n)
            backoff.add_metric(lv, state["backoff_remaining"])
            if state["backoff_until"] is not None:
                backoff_until.add_metric([*lv, str(state["backoff_reason"])], state["backoff_until"])
            totals = state["totals"]
            for kind in ("connects", "sends", "rest_calls", "rest_weight"):
                paced.add_metric([*lv, kind], totals[kind])
            refusals.add_metric(lv, totals["refusals"])
            waited.add_metric(lv, totals["waited_seconds"])
        yield from (tokens, used, limit, window, queued, backoff, backoff_until, paced, refusals, waited)

    def _connections(self) -> Iterator[Metric]:
        """Venue connections: shared by markets, or a market's own (a subscription of one)."""
        per_venue = GaugeMetricFamily(
            "level4_venue_connections", "Venue connections open or opening", labels=["exchange"]
        )
        names = ["exchange", "connection"]
        subscriptions = GaugeMetricFamily(
            "level4_connection_subscriptions", "Markets riding on a venue connection", labels=names
        )
        capacity = GaugeMetricFamily(
            "level4_connection_capacity", "Markets a venue connection may carry (its subscription cap)", labels=names
        )
        up = GaugeMetricFamily("level4_connection_open", "1 while the connection's socket is open", labels=names)
        resubscribes = CounterMetricFamily(
            "level4_connection_resubscribes", "Markets resubscribed alone on the connection", labels=names
        )
        counts: dict[str, int] = {}
        for conn in self.connections():
            venue = str(conn["venue"])
            counts[venue] = counts.get(venue, 0) + 1
            lv = [venue, str(conn["connection"])]
            subscriptions.add_metric(lv, conn["subscriptions"])
            capacity.add_metric(lv, conn["capacity"])
            up.add_metric(lv, 1.0 if conn["open"] else 0.0)
            resubscribes.add_metric(lv, conn["resubscribes"])
        for venue in sorted(counts):
            per_venue.add_metric([venue], counts[venue])
        yield from (per_venue, subscriptions, capacity, up, resubscribes)

    def _sinks(self) -> Iterator[Metric]:
        names = ["sink", "kind"]
        up = GaugeMetricFamily("level4_sink_up", "1 when the sink's server takes events", labels=names)
        errors = CounterMetricFamily(
            "level4_sink_errors", "Failed connects or sends to the sink's server (each retried)", labels=names
        )
        unencodable = CounterMetricFamily(
            "level4_sink_unencodable_events", "Events no serialiser could write, skipped", labels=names
        )
        delivered = CounterMetricFamily("level4_sink_delivered_events", "Events the server acknowledged", labels=names)
        dropped = CounterMetricFamily(
            "level4_sink_dropped_events", "Events dropped from a full queue while the sink was down", labels=names
        )
        queued = GaugeMetricFamily("level4_sink_queued_events", "Events waiting to be sent", labels=names)
        for sink in self.sinks():
            lv = [str(sink["name"]), str(sink["kind"])]
            up.add_metric(lv, 1.0 if sink["status"] == "up" else 0.0)
            errors.add_metric(lv, sink["failures"])
            unencodable.add_metric(lv, sink["unencodable"])
            delivered.add_metric(lv, sink["delivered"])
            dropped.add_metric(lv, sink["dropped"])
            queued.add_metric(lv, sink["queued"])
        yield from (up, errors, unencodable, delivered, dropped, queued)
