"""Two services in this process as two nodes of a cluster, sharing one PostgreSQL
catalogue and the real NATS JetStream: the node that wins a simulated venue's
market runs it; /stream on the other serves it over a real socket (the snapshot
from its copy, then the deltas from the bus), its consolidated book covers it,
and its sinks never see it."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from level4.cluster.event_bus import stream_name
from level4.market.status_board import Status
from level4.service.root import Service
from tests.cluster.cluster_processes import fresh_database
from tests.cluster.test_event_bus import _delete_stream
from tests.sinks.servers import NATS_ENV, server_url
from tests.stream.consumer import Consumer
from tests.stream.stream_markets import add_market, same_levels
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow

Node = tuple[Service, httpx.Client]


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[Node, Node, SimulatorThread]]:
    base = os.environ.get("LEVEL4_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("LEVEL4_TEST_POSTGRES_URL is needed: a cluster keeps its leases in PostgreSQL")
    url = server_url(NATS_ENV)
    cluster = f"test-{uuid.uuid4().hex[:10]}"
    bus = {"cluster_bus": url, "cluster": cluster, "lease_ttl": 3.0}
    # The sinks go nowhere: only what they queue is looked at.
    nowhere = ["nats://127.0.0.1:1"]
    try:
        with (
            fresh_database(base) as db,
            SimulatorThread("coinbase", ["BTC-USD"], rate=300) as sim,
            running_service(db, node="a", sinks=nowhere, **bus) as (a, base_a),
            running_service(db, node="b", sinks=nowhere, **bus) as (b, base_b),
            httpx.Client(base_url=base_a, timeout=10) as api_a,
            httpx.Client(base_url=base_b, timeout=10) as api_b,
        ):
            yield (a, api_a), (b, api_b), sim
    finally:
        asyncio.run(_delete_stream(url, stream_name(cluster)))


def test_stream_on_another_node_serves_the_market_exactly(two_nodes: tuple[Node, Node, SimulatorThread]) -> None:
    first, second, sim = two_nodes
    market = add_market(first[1], "COINBASE", sim, "BTC", "USD")
    market_id = int(market["id"])

    def owner() -> tuple[Node, Node] | None:
        running = [n for n in (first, second) if n[0].registry.lookup(market_id, "market") is not None]
        if len(running) != 1:
            return None
        return (first, second) if running[0] is first else (second, first)

    (a, api_a), (b, api_b) = wait_for(owner, what="one node runs the market")
    assert a.bus is not None and b.bus is not None
    bus_b = b.bus
    assert b.registry.lookup(market_id, "market") is None  # it runs on a only
    wait_for(lambda: bus_b.book(market_id, market["tag"], None)["synchronised"], what="b's copy of a's market")
    # b tells a's status of the market, as a gives it (a's word is asked once a tick).
    assert a.settings.node is not None
    wait_for(lambda: api_b.get(f"/markets/{market_id}").json()["status"] == "live", what="b telling a's status")
    told = api_b.get(f"/markets/{market_id}").json()
    assert told["node"] == a.settings.node and told["status_reason"] is None
    assert [m["status"] for m in api_b.get("/markets").json()] == ["live"]
    assert b.board.status(market_id) is Status.STOPPED  # b's own board: it does not run the market
    mine = api_a.get("/cluster/statuses").json()
    assert mine["node"] == a.settings.node and [m["id"] for m in mine["markets"]] == [market_id]
    assert api_b.get("/cluster/statuses").json() == {"node": b.settings.node, "markets": []}

    consumer = Consumer(f"{str(api_b.base_url).replace('http://', 'ws://')}/stream")
    try:
        consumer.send(op="subscribe", markets=[market_id], channels=["top", "trade", "book", "status"], id=1)
        consumer.reply("subscribed", 1)
        snapshot = consumer.wait(lambda m: m.get("channel") == "book", what="the snapshot from b")
        assert snapshot["snapshot"] and snapshot["synchronised"]
        wait_for(lambda: len(consumer.snapshot()) > 50, what="events of a's market through b")
        sim.pause()
        reference = sim.reference("BTC-USD")
        wait_for(lambda: same_levels(consumer.book(market_id), reference), what="b's subscriber == the venue")
        served_a = api_a.get(f"/markets/{market_id}/book").json()
        assert consumer.book(market_id) == {k: served_a[k] for k in ("synchronised", "bids", "asks")}
        # Every event after the snapshot follows on, numbered by the owner.
        events = [m for m in consumer.snapshot() if m.get("market_id") == market_id]
        after = [e["sequence"] for e in events[events.index(snapshot) + 1 :]]
        assert after == list(range(snapshot["sequence"] + 1, snapshot["sequence"] + 1 + len(after)))
        assert {e.get("epoch", 0) for e in events} == {snapshot["epoch"]}  # the owner's epoch passed through
        # b's consolidated book covers the market a runs, equal to a's.
        books = api_b.get("/books/BTC-USD").json()
        assert [m["id"] for m in books["markets"]] == [market_id]
        merged = {side: [[lv["price"], lv["size"]] for lv in books[side]] for side in ("bids", "asks")}
        assert same_levels(merged, served_a)
    finally:
        consumer.close()
    # b's sinks queued none of a's events; a's bus skipped none of its own.
    assert len(b.sinks.states[0].outbox) == 0 and b.sinks.states[0].outbox.accepted == 0
    assert b.bus.status()["injected"] > 50 and a.bus.status()["stale_dropped"] == 0
    metrics = api_b.get("/metrics").text
    node_b = b.settings.node
    name = f'level4_cluster_bus_injected_events_total{{node="{node_b}"}}'
    injected = next(line for line in metrics.splitlines() if line.startswith(name))
    assert float(injected.split()[-1]) > 50
    assert f'level4_cluster_bus_up{{node="{node_b}"}} 1.0' in metrics
