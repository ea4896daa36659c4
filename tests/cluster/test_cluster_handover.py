"""A market handed from one owner to the next, seen by the client library through
/stream of a third node (a real service over a real socket): the mirror follows
the new owner's epoch from its snapshot, never mixes the two books, and sees no
gap; the deposed owner's late events never reach it."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from level4.client import Client
from level4.cluster.event_bus import stream_name
from tests.client.live_service import same_book
from tests.cluster.cluster_processes import fresh_database
from tests.cluster.test_event_bus import Node, Owner, _delete_stream
from tests.sinks.servers import NATS_ENV, server_url
from tests.stream.stream_markets import add_market
from tests.support import running_service, until, wait_for

pytestmark = pytest.mark.slow


async def test_a_client_follows_a_market_from_one_owner_to_the_next(tmp_path: Path) -> None:
    base_db = os.environ.get("LEVEL4_TEST_POSTGRES_URL")
    if not base_db:
        pytest.skip("LEVEL4_TEST_POSTGRES_URL is needed: a cluster keeps its leases in PostgreSQL")
    url = server_url(NATS_ENV)
    cluster = f"test-{uuid.uuid4().hex[:10]}"
    nodes: list[Node] = []
    try:
        # The market is never enabled: node b's keeper leaves it alone, the two owners here publish it.
        with (
            fresh_database(base_db) as db,
            running_service(db, node="b", cluster_bus=url, cluster=cluster) as (service, base),
        ):
            nowhere = SimpleNamespace(url="ws://127.0.0.1:9", http="http://127.0.0.1:9")
            with httpx.Client(base_url=base, timeout=10) as api:
                market = add_market(api, "COINBASE", nowhere, "BTC", "USD", start=False)  # type: ignore[arg-type]
            market_id, tag = int(market["id"]), str(market["tag"])
            old = Node("old", url, cluster, {market_id})
            new = Node("new", url, cluster, {market_id})
            nodes += [old, new]
            for node in nodes:
                node.bus.start()
            assert service.bus is not None
            bus_b = service.bus
            wait_for(lambda: all(n.bus._ready.is_set() for n in nodes), what="both owners reading")
            deposed = Owner(old.hub, market_id, tag, epoch=1)
            deposed.snapshot([["100", "1"], ["99", "2"]], [["101", "3"]])
            wait_for(lambda: bus_b.book(market_id, tag, None)["synchronised"], what="b's copy")

            async with Client(base) as client:
                book = await client.book(tag)
                await book.wait_synchronised(10)
                deposed.delta([["99", "0"], ["98", "5"]], [])
                await until(lambda: same_book(book.view(), deposed.book()), what="the first owner's book")
                assert book.epoch == 1

                successor = Owner(new.hub, market_id, tag, epoch=2)  # numbered anew, from its snapshot
                successor.snapshot([["200", "1"]], [["201", "1"], ["202", "4"]])
                await until(lambda: book.epoch == 2, what="the new epoch")
                for _ in range(3):  # the deposed owner, paused through the hand-over, goes on
                    deposed.delta([["100", "7"]], [["101", "0"]])
                successor.delta([["199", "2"]], [["201", "0"]])
                await until(lambda: same_book(book.view(), successor.book()), what="the new owner's book")
                await asyncio.sleep(0.3)  # room for anything late to arrive
                assert same_book(book.view(), successor.book()) and book.sequence == 2
                assert client.connection.gaps == 0
            assert bus_b.stale_dropped == 3
    finally:
        for node in nodes:
            node.bus.stop()
        await _delete_stream(url, stream_name(cluster))
