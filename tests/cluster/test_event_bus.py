"""The cluster's event bus against the real NATS JetStream: two or three "nodes"
in this process, each an EventBus over its own EventHub, on a stream of its own."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import nats
import orjson
import pytest

from level4.cluster.event_bus import EventBus, stream_name
from level4.market.hub import EventHub
from level4.sinks import Sinks
from tests.sinks.servers import NATS_ENV, TcpProxy, free_port, server_url, with_port
from tests.support import wait_for

MARKET = 7
TAG = "COINBASE.SPOT:BTC-USD"


class Owner:
    """A market's events as its owning node publishes them: numbered within an epoch,
    each epoch opening with a book snapshot; keeps the book they describe."""

    def __init__(self, hub: EventHub, market_id: int = MARKET, tag: str = TAG, epoch: int = 1) -> None:
        self.hub = hub
        self.market_id = market_id
        self.tag = tag
        self.epoch = epoch
        self.sequence = 0
        self.bids: dict[Decimal, list[str]] = {}
        self.asks: dict[Decimal, list[str]] = {}
        self.lock = threading.RLock()  # request_book reads the book under it

    def event(self, channel: str, **payload: Any) -> dict[str, Any]:
        self.sequence += 1
        base = {"channel": channel, "market_id": self.market_id, "market": self.tag, "sequence": self.sequence}
        return {**base, "epoch": self.epoch, "venue_time": None, "received_at": 1.0, **payload}

    def publish(self, event: dict[str, Any]) -> dict[str, Any]:
        self.hub.publish(event)
        return event

    def snapshot(self, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
        with self.lock:
            self.bids = {Decimal(p): [p, s] for p, s in bids}
            self.asks = {Decimal(p): [p, s] for p, s in asks}
            return self.publish(self.event("book", snapshot=True, synchronised=True, bids=bids, asks=asks, reason=None))

    def delta(self, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
        with self.lock:
            for side, levels in ((self.bids, bids), (self.asks, asks)):
                for p, s in levels:
                    if Decimal(s) == 0:
                        side.pop(Decimal(p), None)
                    else:
                        side[Decimal(p)] = [p, s]
            delta = self.event("book", snapshot=False, synchronised=True, bids=bids, asks=asks, reason=None)
            return self.publish(delta)

    def trade(self, price: str) -> dict[str, Any]:
        with self.lock:
            return self.publish(self.event("trade", side="buy", price=price, size="1", trade_id=str(self.sequence)))

    def book(self) -> dict[str, Any]:
        with self.lock:
            return {
                "market": self.tag,
                "synchronised": True,
                "bids": [self.bids[p] for p in sorted(self.bids, reverse=True)],
                "asks": [self.asks[p] for p in sorted(self.asks)],
                "reason": None,
            }

    def request_book(self, market_id: int, deliver: Callable[[dict[str, Any]], None]) -> None:
        """As the orderbook answers: the book as of the last event, numbered as it."""
        with self.lock:
            book = self.book()
            base = {"channel": "book", "market_id": market_id, "market": self.tag, "sequence": self.sequence}
            deliver({**base, "epoch": self.epoch, "venue_time": None, "received_at": 1.0, "snapshot": True, **book})


class Node:
    def __init__(
        self, name: str, url: str, cluster: str, owns: set[int], owner: Owner | None = None, queue: int = 100_000
    ) -> None:
        self.hub = EventHub()
        self.owns = owns
        self.seen: list[dict[str, Any]] = []
        self.hub.subscribe(self.seen.append)
        self.bus = EventBus(
            url,
            name,
            self.hub,
            cluster=cluster,
            is_local=lambda market_id: market_id in self.owns,
            request_book=owner.request_book if owner else None,
            local_markets=lambda: list(self.owns),
            queue=queue,
        )

    def events(self, market_id: int = MARKET) -> list[dict[str, Any]]:
        return [e for e in list(self.seen) if e["market_id"] == market_id]


@pytest.fixture
def cluster() -> Iterator[Callable[..., Node]]:
    """Nodes of one cluster (a stream of its own), stopped and the stream deleted after."""
    url = server_url(NATS_ENV)
    name = f"test-{uuid.uuid4().hex[:10]}"
    nodes: list[Node] = []

    def node(
        node_name: str, owns: set[int], owner: Owner | None = None, start: bool = True, via: str | None = None,
        **kw: Any,
    ) -> Node:  # fmt: skip
        made = Node(node_name, via or url, name, owns, owner, **kw)
        nodes.append(made)
        if start:
            made.bus.start()
            wait_for(lambda: made.bus._ready.is_set(), what=f"{node_name} reading the bus")
        return made

    try:
        yield node
    finally:
        for made in nodes:
            made.bus.stop()
        asyncio.run(_delete_stream(url, stream_name(name)))


async def _delete_stream(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


async def _stored(url: str, stream: str) -> list[dict[str, Any]]:
    """Every event the stream holds, in order (a message holds one market's run of events)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        last = int((await js.stream_info(stream)).state.last_seq)
        events: list[dict[str, Any]] = []
        for seq in range(1, last + 1):
            events.extend(orjson.loads((await js.get_msg(stream, seq)).data or b"[]"))
        return events
    finally:
        await nc.close()


def test_an_owners_events_reach_the_other_node_in_order_with_their_epoch(cluster: Callable[..., Node]) -> None:
    a = cluster("a", {MARKET})
    b = cluster("b", set())
    owner = Owner(a.hub, epoch=3)
    sent = [owner.snapshot([["100.0", "1"], ["99.5", "2"]], [["101", "1.5"]])]
    for i in range(200):
        sent.append(owner.delta([[f"{99 - i % 7}.25", str(i % 3)]], [[f"{102 + i % 5}", str((i + 1) % 4)]]))
        if i % 10 == 0:
            sent.append(owner.trade("100.5"))
    wait_for(lambda: len(b.events()) == len(sent), what="every event on node b")
    assert b.events() == sent  # in order, every field, the epoch with them
    assert {e["epoch"] for e in b.events()} == {3}
    assert b.bus.book(MARKET, TAG, None) == owner.book()  # the copy equals the owner's book
    # Nothing went back: node a's hub holds only its own events, the stream each event once.
    assert a.events() == sent
    assert asyncio.run(_stored(a.bus.url, a.bus.stream)) == sent
    assert b.bus.status()["injected"] == len(sent)


def test_a_deposed_owners_older_epoch_is_dropped(cluster: Callable[..., Node]) -> None:
    old = cluster("old", {MARKET})
    new = cluster("new", {MARKET})
    watcher = cluster("watcher", set())
    deposed = Owner(old.hub, epoch=4)
    deposed.snapshot([["10", "1"]], [["11", "1"]])
    deposed.delta([["10", "2"]], [])
    wait_for(lambda: len(watcher.events()) == 2, what="epoch 4 on the watcher")
    successor = Owner(new.hub, epoch=5)
    successor.sequence = 40
    successor.snapshot([["20", "1"]], [["21", "3"]])
    wait_for(lambda: len(watcher.events()) == 3, what="epoch 5 on the watcher")
    # The deposed owner, paused through the hand-over, publishes late under its old epoch.
    for _ in range(5):
        deposed.delta([["10", "9"]], [["11", "0"]])
    successor.delta([["19", "1"]], [])
    wait_for(lambda: len(watcher.events()) == 4, what="the successor's delta")
    wait_for(lambda: watcher.bus.stale_dropped == 5, what="the late events dropped")
    assert [(e["epoch"], e["sequence"]) for e in watcher.events()] == [(4, 1), (4, 2), (5, 41), (5, 42)]
    assert watcher.bus.book(MARKET, TAG, None) == successor.book()
    # The new owner takes none of them into its hub either.
    assert all(e["epoch"] == 5 for e in new.events())


def test_a_gap_unsynchronises_the_copy_until_the_owner_sends_a_snapshot(cluster: Callable[..., Node]) -> None:
    a_hub_owner: list[Owner] = []
    a = cluster("a", {MARKET}, start=False)
    owner = Owner(a.hub, epoch=1)
    a_hub_owner.append(owner)
    a.bus._request_book = owner.request_book
    a.bus.start()
    b = cluster("b", set())
    wait_for(lambda: a.bus._ready.is_set(), what="a reading")
    owner.snapshot([["100", "1"]], [["101", "1"]])
    owner.delta([["100", "2"]], [])
    wait_for(lambda: b.bus.book(MARKET, TAG, None) == owner.book(), what="the copy in sync")
    owner.sequence += 1  # an event lost on the way
    owner.delta([["99", "4"]], [])
    wait_for(lambda: b.bus.remote_book(MARKET) is not None and b.bus.remote_book(MARKET).gaps == 1, what="the gap")  # type: ignore[union-attr]
    # The copy asked the owner for its book, which came in line with the owner's events: good again.
    wait_for(lambda: b.bus.book(MARKET, TAG, None) == owner.book(), what="the copy repaired")
    assert b.bus.status()["resyncs_asked"] >= 1 and a.bus.status()["resyncs_sent"] >= 1
    owner.delta([], [["101", "0"], ["102", "7"]])
    wait_for(lambda: b.bus.book(MARKET, TAG, None) == owner.book(), what="deltas after the repair")


def test_a_copy_is_unsynchronised_on_a_gap(cluster: Callable[..., Node]) -> None:
    a = cluster("a", {MARKET})  # no book to send on request: the copy stays down
    b = cluster("b", set())
    owner = Owner(a.hub, epoch=2)
    owner.snapshot([["5", "1"]], [["6", "1"]])
    wait_for(lambda: b.bus.book(MARKET, TAG, None)["synchronised"], what="the copy in sync")
    owner.sequence += 3
    owner.delta([["5", "2"]], [])
    wait_for(lambda: len(b.events()) == 2, what="the delta after the gap")
    book = b.bus.book(MARKET, TAG, None)
    reason = "events lost: sequence 1 -> 5"
    assert book == {"market": TAG, "synchronised": False, "bids": [], "asks": [], "reason": reason}
    # A new epoch that does not open with a snapshot is no good either.
    owner.snapshot([["5", "1"]], [["6", "1"]])
    wait_for(lambda: b.bus.book(MARKET, TAG, None)["synchronised"], what="the snapshot")
    owner.epoch = 3
    owner.delta([["5", "3"]], [])
    wait_for(lambda: not b.bus.book(MARKET, TAG, None)["synchronised"], what="the epoch without a snapshot")
    assert b.bus.book(MARKET, TAG, None)["reason"] == "epoch 3 did not open with a snapshot"


def test_a_node_joining_late_asks_the_owners_for_their_books(cluster: Callable[..., Node]) -> None:
    a = cluster("a", {MARKET}, start=False)
    owner = Owner(a.hub, epoch=1)
    a.bus._request_book = owner.request_book
    a.bus.start()
    wait_for(lambda: a.bus._ready.is_set(), what="a reading")
    owner.snapshot([["1.5", "1"], ["1.4", "2"]], [["1.6", "3"]])
    owner.delta([["1.4", "0"]], [])
    wait_for(lambda: a.bus.state.delivered >= 2, what="a's events in the stream before the late node reads")
    late = cluster("late", set())
    wait_for(lambda: late.bus.book(MARKET, TAG, None) == owner.book(), what="the late node's copy")
    # The copy's subscribers take the snapshot that put it back in sync, as of the owner's last event.
    [repair] = late.events()
    assert (repair["channel"], repair["snapshot"], repair["sequence"], repair["epoch"]) == ("book", True, 2, 1)
    assert "resync" not in repair


def test_a_nodes_sinks_take_only_its_own_markets_events(cluster: Callable[..., Node]) -> None:
    a = cluster("a", {MARKET})
    b = cluster("b", {8})
    sinks_a, sinks_b = Sinks(["nats://127.0.0.1:1?stream=S&prefix=p"]), Sinks(["nats://127.0.0.1:1?stream=S&prefix=p"])
    sinks_a.attach(a.hub, a.bus.is_own_event)
    sinks_b.attach(b.hub, b.bus.is_own_event)
    on_a, on_b = Owner(a.hub, MARKET), Owner(b.hub, 8, "KRAKEN.SPOT:ETH-USD")
    on_a.snapshot([["1", "1"]], [["2", "1"]])
    on_b.snapshot([["3", "1"]], [["4", "1"]])
    on_a.trade("1.5")
    on_b.trade("3.5")
    wait_for(lambda: len(a.seen) == 4 and len(b.seen) == 4, what="both markets on both nodes")
    queued_a = [e["market_id"] for _, e in sinks_a.states[0].outbox.take_nowait(100)]
    queued_b = [e["market_id"] for _, e in sinks_b.states[0].outbox.take_nowait(100)]
    assert queued_a == [MARKET, MARKET] and queued_b == [8, 8]
    sinks_a.detach()
    sinks_b.detach()


def test_an_overflow_never_blocks_the_owner_and_the_copies_repair_the_gap(cluster: Callable[..., Node]) -> None:
    """While the owner's link to NATS is cut its bounded queue overflows (counted and
    logged, publishing goes on at once); back up, the other node sees the gap in the
    sequence and asks for the book, which repairs its copy."""
    url = server_url(NATS_ENV)
    proxy = TcpProxy(url, free_port())
    proxy.start()
    try:
        owner_box: list[Owner] = []
        a = cluster("a", {MARKET}, start=False, via=with_port(url, proxy.port), queue=20)
        owner = Owner(a.hub, epoch=1)
        owner_box.append(owner)
        a.bus._request_book = owner.request_book
        a.bus.start()
        b = cluster("b", set())
        wait_for(lambda: a.bus._ready.is_set(), what="a reading")
        owner.snapshot([["100", "1"]], [["101", "1"]])
        wait_for(lambda: b.bus.book(MARKET, TAG, None) == owner.book(), what="b's copy")
        proxy.stop()
        began = time.monotonic()
        for i in range(500):
            owner.delta([[f"{90 + i % 9}", str(i % 4)]], [])
        assert time.monotonic() - began < 2.0  # never waited on the bus
        assert a.bus.outbox.dropped >= 400  # all but the queue and the batch in hand
        proxy.start()
        wait_for(lambda: b.bus.remote_book(MARKET).gaps >= 1, timeout=20, what="the gap seen")  # type: ignore[union-attr]
        wait_for(lambda: b.bus.book(MARKET, TAG, None) == owner.book(), timeout=20, what="b's copy repaired")
        assert b.bus.book(MARKET, TAG, None)["synchronised"]
    finally:
        proxy.close()


def test_a_cluster_is_named_after_its_catalogue_unless_told() -> None:
    from level4.cluster.bus_child import catalogue_name

    assert catalogue_name("postgresql+psycopg://postgres@db:5432/level4-prod") == "level4_prod"
    assert catalogue_name("postgresql+psycopg://postgres@db:5432/") == "level4"


async def _publish_raw(url: str, subject: str, stream: str, payload: bytes, node: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().publish(subject, payload, stream=stream, headers={"Level4-Node": node})
    finally:
        await nc.close()


def test_an_unreadable_event_costs_only_itself_and_its_copy_is_repaired(cluster: Callable[..., Node]) -> None:
    """A message of several markets' events with bad ones among them: the good ones are
    injected, the bad ones counted, and the copy a bad event was for asks for a snapshot."""
    a = cluster("a", {MARKET}, start=False)
    owner = Owner(a.hub, epoch=1)
    a.bus._request_book = owner.request_book
    a.bus.start()
    b = cluster("b", set())
    wait_for(lambda: a.bus._ready.is_set(), what="a reading")
    owner.snapshot([["100", "1"]], [["101", "1"]])
    wait_for(lambda: b.bus.book(MARKET, TAG, None) == owner.book(), what="b's copy")
    no_levels = {"channel": "book", "market_id": MARKET, "market": TAG, "sequence": owner.sequence + 1, "epoch": 1}
    other = {"channel": "trade", "market_id": 9, "market": "KRAKEN.SPOT:ETH-USD", "sequence": 1, "epoch": 1}
    payload = orjson.dumps([no_levels, "not an event", other])
    asyncio.run(_publish_raw(a.bus.url, f"{a.bus.prefix}.events.a", a.bus.stream, payload, "a"))
    wait_for(lambda: b.events(9) == [other], what="the readable event injected")
    assert b.bus.status()["unreadable"] == 2
    wait_for(lambda: b.bus.remote_book(MARKET).gaps >= 1, what="the copy given up")  # type: ignore[union-attr]
    owner.delta([["99", "2"]], [])
    wait_for(lambda: b.bus.book(MARKET, TAG, None) == owner.book(), what="b's copy repaired by a snapshot")
