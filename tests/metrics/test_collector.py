"""The metrics as Prometheus reads them, from a service's state set by hand:
every family, its labels and values, valid exposition in both formats."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

import translations
from level4.market.hub import EventHub
from level4.market.publisher import MarketPublisher
from level4.market.status_board import Status, StatusBoard
from level4.metrics.collector import ServiceCollector
from level4.metrics.latency import BOUNDS, LatencyRecorder
from level4.metrics.service import ServiceMetrics
from level4.net.venue_limiter import VenueLimiter
from tests.metrics.samples import Samples, parse


def scrape(metrics: ServiceMetrics) -> Samples:
    body, content_type = metrics.render(None)
    assert content_type.startswith("text/plain; version=0.0.4")
    return parse(body.decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def sink(**fields: Any) -> dict[str, Any]:
    base = {"name": "nats", "kind": "nats", "status": "up", "failures": 0, "unencodable": 0}
    return {**base, "delivered": 0, "dropped": 0, "queued": 0, **fields}


def setup() -> tuple[StatusBoard, dict[int, MarketPublisher], set[object], list[dict[str, Any]]]:
    board, hub = StatusBoard(), EventHub()
    publishers = {
        1: MarketPublisher(1, "COINBASE.SPOT:BTC-USD", hub),
        2: MarketPublisher(2, "KRAKEN.SPOT:BTC-USD", hub),
        3: MarketPublisher(3, "COINBASE.SPOT:BTC-USD", hub),  # deleted and added again: the same tag
    }
    return board, publishers, set(), [sink(), sink(name="redis-2", kind="redis", status="down", failures=4)]


def test_every_figure_of_every_market() -> None:
    board, publishers, clients, sinks = setup()
    board.set(1, Status.LIVE)
    board.frames_seen(1, 40, 1_700_000_000.0)
    board.count(1, resyncs=2, reconnects=1, checksum_failures=3, malformed=5, restarts=1)
    board.set(2, Status.RECONNECTING, "connection refused")
    board.set(3, Status.STOPPED)
    for _ in range(7):
        publishers[1].publish("trade", {}, None, 0.0)
    clients.update({object(), object()})
    samples = scrape(ServiceMetrics(board, publishers, clients, lambda: sinks))

    one = {"market_id": "1", "market": "COINBASE.SPOT:BTC-USD", "exchange": "COINBASE"}
    assert value(samples, "level4_frames_received_total", **one) == 40
    assert value(samples, "level4_resyncs_total", **one) == 2
    assert value(samples, "level4_reconnects_total", **one) == 1
    assert value(samples, "level4_checksum_failures_total", **one) == 3
    assert value(samples, "level4_malformed_frames_total", **one) == 5
    assert value(samples, "level4_market_restarts_total", **one) == 1
    assert value(samples, "level4_events_published_total", **one) == 7
    assert value(samples, "level4_market_last_frame_timestamp_seconds", **one) == 1_700_000_000.0
    assert value(samples, "level4_market_feed_age_seconds", **one) > 0
    for status in Status:
        assert value(samples, "level4_market_status", **one, status=str(status)) == (status is Status.LIVE)
    two = {"market_id": "2", "market": "KRAKEN.SPOT:BTC-USD", "exchange": "KRAKEN"}
    assert value(samples, "level4_market_status", **two, status="reconnecting") == 1
    assert ("level4_market_feed_age_seconds", frozenset(two.items())) not in samples  # no frame yet: no age
    three = {"market_id": "3", "market": "COINBASE.SPOT:BTC-USD", "exchange": "COINBASE"}
    assert value(samples, "level4_market_status", **three, status="stopped") == 1

    assert value(samples, "level4_stream_clients") == 2
    assert value(samples, "level4_sink_up", sink="nats", kind="nats") == 1
    assert value(samples, "level4_sink_up", sink="redis-2", kind="redis") == 0
    assert value(samples, "level4_sink_errors_total", sink="redis-2", kind="redis") == 4
    assert any(name.startswith("process_") for name, _ in samples), "the process's CPU and memory too"


def test_latency_is_one_histogram_per_venue() -> None:
    board, publishers, clients, _sinks = setup()
    publishers[1].latency.observe(0.0002)
    publishers[1].latency.observe(BOUNDS[1])  # on a bound: counted at or below it
    publishers[3].latency.observe(0.3)
    publishers[2].latency.observe(60.0)  # beyond every bound
    samples = scrape(ServiceMetrics(board, publishers, clients))

    def bucket(exchange: str, le: str) -> float:
        return value(samples, "level4_receipt_to_publish_seconds_bucket", exchange=exchange, le=le)

    assert bucket("COINBASE", "0.0005") == 1
    assert bucket("COINBASE", "0.001") == 2
    assert bucket("COINBASE", "0.25") == 2
    assert bucket("COINBASE", "0.5") == 3 == bucket("COINBASE", "+Inf")
    assert value(samples, "level4_receipt_to_publish_seconds_count", exchange="COINBASE") == 3
    assert abs(value(samples, "level4_receipt_to_publish_seconds_sum", exchange="COINBASE") - 0.3012) < 1e-9
    assert bucket("KRAKEN", "5.0") == 0 and bucket("KRAKEN", "+Inf") == 1


def test_openmetrics_when_asked() -> None:
    board, publishers, clients, _sinks = setup()
    metrics = ServiceMetrics(board, publishers, clients)
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_a_recorder_counts_without_a_lock() -> None:
    recorder = LatencyRecorder()
    for seconds in (0.0, 0.0005, 0.00051, 10.0):
        recorder.observe(seconds)
    assert recorder.counts[0] == 2 and recorder.counts[1] == 1 and recorder.counts[-1] == 1
    assert sum(recorder.counts) == 4


def test_scrapes_close_together_share_one_rendering() -> None:
    board, publishers, clients, _sinks = setup()
    board.frames_seen(1, 1, 1.0)
    shared = ServiceMetrics(board, publishers, clients, max_age=60.0)
    fresh = ServiceMetrics(board, publishers, clients, max_age=0.0)
    one = {"market_id": "1", "market": "COINBASE.SPOT:BTC-USD", "exchange": "COINBASE"}
    assert value(scrape(shared), "level4_frames_received_total", **one) == 1
    board.frames_seen(1, 5, 2.0)
    assert value(scrape(shared), "level4_frames_received_total", **one) == 1
    assert value(scrape(fresh), "level4_frames_received_total", **one) == 6


async def test_each_venue_limiter_is_scraped() -> None:
    board, publishers, clients, sinks = setup()
    limits = translations.limits_for("BINANCE").scaled(rest_budget=100, connects=5)
    limiter = VenueLimiter("BINANCE", limits)
    await limiter.connect()
    await limiter.send("connection")
    await limiter.rest(50)
    limiter.refused("HTTP 429", retry_after=30.0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(board, publishers, clients, lambda: sinks, lambda: [limiter]))
    samples = parse(generate_latest(registry).decode())
    lv = {"venue": "BINANCE", "api": "", "egress": ""}
    assert value(samples, "level4_venue_limit_tokens", **lv, kind="connect") == 4
    assert value(samples, "level4_venue_limit_tokens", **lv, kind="rest") == 50
    assert value(samples, "level4_venue_limit_tokens", **lv, kind="send") == 4
    assert value(samples, "level4_venue_limit_queued", **lv, kind="rest") == 0
    assert 29 < value(samples, "level4_venue_backoff_seconds", **lv) <= 30
    assert value(samples, "level4_venue_limited_total", **lv, kind="rest_weight") == 50
    assert value(samples, "level4_venue_limited_total", **lv, kind="connects") == 1
    assert value(samples, "level4_venue_refusals_total", **lv) == 1
    # how close to each limit: used of it in its window
    assert value(samples, "level4_venue_limit_used", **lv, kind="rest") == 50
    assert value(samples, "level4_venue_limit", **lv, kind="rest") == 100
    assert value(samples, "level4_venue_limit_window_seconds", **lv, kind="rest") == limits.rest_window
    assert value(samples, "level4_venue_limit_used", **lv, kind="connect") == 1
    assert value(samples, "level4_venue_limit", **lv, kind="connect") == 5
    assert value(samples, "level4_venue_limit_used", **lv, kind="send") == 1
    assert value(samples, "level4_venue_limit", **lv, kind="send") == limits.sends_per_second
    # the backoff's end, with what the venue said
    until = value(samples, "level4_venue_backoff_until_timestamp_seconds", **lv, reason="HTTP 429")
    assert time.time() + 29 < until <= time.time() + 30


def test_connections_shared_and_own_with_their_caps() -> None:
    board, publishers, clients, sinks = setup()
    conns = [
        {"venue": "BINANCE", "connection": "BINANCE#1", "subscriptions": 3, "capacity": 200, "open": True},
        {"venue": "BINANCE", "connection": "BINANCE#2", "subscriptions": 1, "capacity": 200, "open": False},
        {"venue": "BITFINEX", "connection": "BITFINEX.SPOT:BTC-USD", "subscriptions": 1, "capacity": 1, "open": True},
    ]
    registry = CollectorRegistry(auto_describe=False)
    collector = ServiceCollector(
        board, publishers, clients, lambda: sinks, list, lambda: [{**c, "resubscribes": 0} for c in conns]
    )
    registry.register(collector)
    samples = parse(generate_latest(registry).decode())
    assert value(samples, "level4_venue_connections", exchange="BINANCE") == 2
    assert value(samples, "level4_venue_connections", exchange="BITFINEX") == 1
    one = {"exchange": "BINANCE", "connection": "BINANCE#1"}
    assert value(samples, "level4_connection_subscriptions", **one) == 3
    assert value(samples, "level4_connection_capacity", **one) == 200
    assert value(samples, "level4_connection_open", **one) == 1
    assert value(samples, "level4_connection_open", exchange="BINANCE", connection="BINANCE#2") == 0
    own = {"exchange": "BITFINEX", "connection": "BITFINEX.SPOT:BTC-USD"}
    assert value(samples, "level4_connection_capacity", **own) == 1
