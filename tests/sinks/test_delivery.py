"""Sinks against the real NATS JetStream and Redis servers, fed by a running
simulated market: every event arrives, once, in order; a sink whose server is
unreachable is reported, retried, blocks nothing, and catches up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.sinks.servers import (
    NATS_ENV,
    REDIS_ENV,
    NatsTarget,
    RedisTarget,
    Target,
    TcpProxy,
    by_key,
    free_port,
    server_url,
    sink_health,
    start_market,
)
from tests.support import SimulatorThread, running_service, settle_and_compare, wait_for

pytestmark = pytest.mark.slow


def new_target(kind: str) -> Target:
    if kind == "nats":
        return NatsTarget(server_url(NATS_ENV))
    return RedisTarget(server_url(REDIS_ENV))


@pytest.fixture(params=["nats", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def targets(kind: str) -> Iterator[list[Target]]:
    made: list[Target] = []
    yield made
    for target in made:
        target.cleanup()


def target_for(kind: str, targets: list[Target]) -> Target:
    target = new_target(kind)
    targets.append(target)
    return target


def as_stored(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [orjson.loads(orjson.dumps(e)) for e in events]


def flatten(stored: dict[Any, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One market's events from every stream, by sequence."""
    return sorted((e for events in stored.values() for e in events), key=lambda e: e["sequence"])


def test_every_event_of_a_running_market_arrives_once_in_order(
    kind: str, targets: list[Target], tmp_path: Path
) -> None:
    target = target_for(kind, targets)
    published: list[dict[str, Any]] = []
    with (
        SimulatorThread("coinbase", ["BTC-USD"], rate=300) as sim,
        running_service(f"sqlite:///{tmp_path / 'c.sqlite3'}", sinks=[target.sink_url()]) as (service, base),
    ):
        service.hub.subscribe(published.append)
        start_market(base, sim)
        wait_for(lambda: sum(e["channel"] == "trade" for e in published) >= 20, what="trades published")
        wait_for(lambda: sink_health(base, kind)["delivered"] > 0, what="delivery under way")
        assert sink_health(base, kind)["status"] == "up"
    # Stopped: markets first, then the sinks, flushing what was still queued.

    stored = target.read()
    assert stored == by_key(published)
    channels = {channel for channel, _market in stored}
    assert {"status", "top", "trade"} <= channels
    everything = flatten(stored)
    assert [e["sequence"] for e in everything] == list(range(1, len(published) + 1))  # no gap
    statuses = [e["status"] for e in everything if e["channel"] == "status"]
    assert statuses[0] == "started" and statuses[-1] == "stopped"  # the last word, flushed at shutdown
    if isinstance(target, NatsTarget):  # one stream: the global order is the hub's order
        assert [e for _subject, e in target.in_order] == as_stored(published)
        subject = target.in_order[0][0]
        assert subject == f"{target.prefix}.status.COINBASE.SPOT.BTC-USD"
    final = service.sinks.status()[0]
    assert final["status"] == "stopped" and final["delivered"] == len(published) and final["dropped"] == 0


def test_a_sink_that_is_down_is_retried_blocks_nothing_and_catches_up(
    kind: str, targets: list[Target], tmp_path: Path
) -> None:
    down, healthy = target_for(kind, targets), target_for(kind, targets)
    port = free_port()  # nothing listens there until the proxy starts
    proxy = TcpProxy(down.sink_url().split("?")[0], port)
    sinks = [down.sink_url(port, name="down", retry_max=0.3), healthy.sink_url(name="healthy")]
    published: list[dict[str, Any]] = []
    try:
        with (
            SimulatorThread("coinbase", ["BTC-USD"], rate=300) as sim,
            running_service(f"sqlite:///{tmp_path / 'c.sqlite3'}", sinks=sinks) as (service, base),
        ):
            service.hub.subscribe(published.append)
            market = start_market(base, sim)
            api = httpx.Client(base_url=base, timeout=10)

            wait_for(lambda: sink_health(base, "down")["attempts"] >= 3, what="retried")
            status = sink_health(base, "down")
            assert status["status"] == "down" and "connect call failed" in status["reason"].lower()
            assert status["delivered"] == 0 and status["retry_at"] is not None

            # The market runs regardless: live, its book exactly the venue's, the other sink up to date.
            wait_for(lambda: api.get(f"/markets/{market['id']}").json()["status"] == "live", what="live")
            settle_and_compare(sim, lambda: api.get(f"/markets/{market['id']}/book").json(), "BTC-USD")
            wait_for(lambda: sink_health(base, "healthy")["delivered"] == len(published), what="healthy sink current")
            assert sink_health(base, "down")["queued"] == len(published)
            sim.resume()

            proxy.start()
            wait_for(lambda: sink_health(base, "down")["status"] == "up", what="reconnected")
            wait_for(lambda: sink_health(base, "down")["queued"] == 0, what="caught up")

            # Cut the link in mid-stream and restore it: nothing lost, nothing twice.
            proxy.stop()
            wait_for(lambda: sink_health(base, "down")["status"] == "down", what="cut noticed")
            proxy.start()
            wait_for(lambda: sink_health(base, "down")["status"] == "up", what="reconnected again")
    finally:
        proxy.close()

    expected = by_key(published)
    assert down.read() == expected
    assert healthy.read() == expected
    assert [s["dropped"] for s in service.sinks.status()] == [0, 0]


def test_while_down_the_oldest_events_are_dropped_and_counted(kind: str, targets: list[Target], tmp_path: Path) -> None:
    target = target_for(kind, targets)
    port = free_port()
    proxy = TcpProxy(target.sink_url().split("?")[0], port)
    published: list[dict[str, Any]] = []
    try:
        with (
            SimulatorThread("coinbase", ["BTC-USD"], rate=300) as sim,
            running_service(
                f"sqlite:///{tmp_path / 'c.sqlite3'}", sinks=[target.sink_url(port, retry_max=0.3, queue=25)]
            ) as (service, base),
        ):
            service.hub.subscribe(published.append)
            start_market(base, sim)
            wait_for(lambda: sink_health(base, kind)["dropped"] >= 50, what="drops")
            status = sink_health(base, kind)
            assert status["status"] == "down" and status["queued"] == 25
            proxy.start()
            wait_for(lambda: sink_health(base, kind)["status"] == "up", what="reconnected")
    finally:
        proxy.close()

    dropped = service.sinks.status()[0]["dropped"]
    assert dropped >= 50
    # Everything after the dropped head, in order: the queue lost only its oldest events.
    assert flatten(target.read()) == as_stored(published[dropped:])
