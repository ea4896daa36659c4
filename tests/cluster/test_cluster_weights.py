"""Two services in this process as two nodes of a cluster on a fresh PostgreSQL
catalogue: one busy market and four quiet ones are placed by their measured
frame rates, not their number: the busy one gets a node to itself."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import httpx
import pytest

from level4.cluster.event_bus import stream_name
from tests.cluster.cluster_processes import fresh_database
from tests.cluster.test_event_bus import _delete_stream
from tests.sinks.servers import NATS_ENV, server_url
from tests.stream.stream_markets import add_market
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow

QUIET = ["BTC-USD", "ETH-USD", "SOL-USD", "LTC-USD"]


def test_a_busy_market_and_quiet_ones_are_spread_by_load_not_count() -> None:
    base = os.environ.get("LEVEL4_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("LEVEL4_TEST_POSTGRES_URL is needed: a cluster keeps its leases in PostgreSQL")
    url = server_url(NATS_ENV)
    cluster = f"test-{uuid.uuid4().hex[:10]}"
    # Every market its own group, and a window of seconds so the weights show within the test.
    node = {"cluster_bus": url, "cluster": cluster, "lease_ttl": 3.0, "placement_group": 1, "weight_window": 3.0}
    nowhere = ["nats://127.0.0.1:1"]
    try:
        with (
            fresh_database(base) as db,
            SimulatorThread("coinbase", ["BTC-USD"], rate=200) as busy_venue,
            SimulatorThread("kraken", QUIET, rate=8) as quiet_venue,
            running_service(db, node="a", sinks=nowhere, **node) as (_a, base_a),
            running_service(db, node="b", sinks=nowhere, **node) as (_b, _base_b),
            httpx.Client(base_url=base_a, timeout=10) as api,
        ):
            busy = int(add_market(api, "COINBASE", busy_venue, "BTC", "USD", start=False)["id"])
            quiet = []
            for pair in QUIET:
                market = add_market(api, "KRAKEN", quiet_venue, *pair.split("-"), start=False)
                quiet.append(int(market["id"]))
            for market_id in [busy, *quiet]:
                assert api.patch(f"/markets/{market_id}", json={"level4_feed_enabled": True}).status_code == 200

            def by_load() -> dict[str, Any] | None:
                nodes = {n["name"]: n for n in api.get("/cluster").json()["nodes"] if n["alive"]}
                heavy = next((n for n in nodes.values() if busy in n["markets"]), None)
                if heavy is None or len(nodes) != 2:
                    return None
                light = next(n for n in nodes.values() if n is not heavy)
                spread = heavy["markets"] == [busy] and sorted(light["markets"]) == sorted(quiet)
                return {"heavy": heavy, "light": light} if spread else None

            placed = wait_for(by_load, timeout=40, what="the busy market alone on a node, the quiet ones on the other")
            # The node with one market carries more load than the node with four.
            assert placed["heavy"]["load"] > 5 * placed["light"]["load"] > 0, placed
            # And it stays so: no market changes hands over several ticks while the rates hold.
            epochs = {m["id"]: m["epoch"] for m in api.get("/markets").json()}
            time.sleep(4.0)
            assert by_load() is not None
            assert {m["id"]: m["epoch"] for m in api.get("/markets").json()} == epochs
    finally:
        asyncio.run(_delete_stream(url, stream_name(cluster)))
