"""Three `level4 serve --node` processes sharing a simulated venue's markets through
the real PostgreSQL: shared evenly, any node serving any book, and the markets
moving when a node is killed, paused, stopped, restarted or cut from the database.

The tests share one cluster and run in order; each leaves the three nodes running."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster.cluster_processes import Node, Simulator, fresh_database, owners, wait_for
from tests.sinks.servers import NatsTarget
from tests.stream.consumer import Consumer
from tests.stream.stream_markets import same_levels
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD", "LTC-USD", "ADA-USD", "DOT-USD"]
TTL = 3.0
FAILOVER = 10.0  # the bound: a dead node's markets live elsewhere within this


class Cluster:
    def __init__(self, tmp: Path, url: str, bus: str) -> None:
        self.sim = Simulator("coinbase", SYMBOLS, tmp / "simulator.log")
        host, port = url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)
        self.proxy = TcpProxy(host, int(port))  # n3 reaches the database through it
        proxied = url.replace(f"@{host}:{port}/", f"@127.0.0.1:{self.proxy.port}/")
        env = {"LEVEL4_PLACEMENT_GROUP": "2"}
        self.sink = NatsTarget(bus)  # what n2 publishes, epochs and all
        self.nodes = [
            Node("n1", url, bus, tmp / "n1.log", TTL, **env),
            Node("n2", url, bus, tmp / "n2.log", TTL, LEVEL4_SINKS=self.sink.sink_url(), **env),
            Node("n3", proxied, bus, tmp / "n3.log", TTL, **env),
        ]
        self.ids: dict[str, int] = {}

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.running]

    def setup(self) -> None:
        for node in self.nodes:  # at the same moment: their migrations wait on each other
            node.spawn()
        for node in self.nodes:
            node.wait_ready()
        n1 = self.nodes[0]
        for code in ("BTC", "ETH", "SOL", "LTC", "ADA", "DOT", "USD"):
            httpx.post(n1.url + "/symbols", json={"symbol": code}).raise_for_status()
        httpx.post(
            n1.url + "/exchanges", json={"name": "COINBASE", "ws_url": f"ws://127.0.0.1:{self.sim.port}/"}
        ).raise_for_status()
        for symbol in SYMBOLS:
            base, quote = symbol.split("-")
            body = {"exchange": "COINBASE", "base_symbol": base, "quote_symbol": quote, "market_type": "SPOT"}
            market = httpx.post(n1.url + "/markets", json=body).json()
            self.ids[symbol] = int(market["id"])
        for i, market_id in enumerate(self.ids.values()):
            node = self.nodes[i % 3]  # PATCH on any node
            answer = httpx.patch(f"{node.url}/markets/{market_id}", json={"level4_feed_enabled": True})
            assert answer.status_code == 200, answer.text

    def spread(self, on: Node | None = None) -> dict[int, str]:
        """Every market owned by a live node (as `on` sees it)."""
        seen = owners(on or self.live()[0])
        return seen if set(seen) == set(self.ids.values()) else {}

    def synchronised_everywhere(self, exclude: Node | None = None) -> bool:
        for node in self.live():
            if node is exclude:
                continue
            for market_id in self.ids.values():
                answer = node.get(f"/markets/{market_id}/book", depth=1)
                if answer.status_code != 200 or not answer.json()["synchronised"]:
                    return False
        return True

    def books_equal_reference(self) -> None:
        """Every live node's book of every market equals the venue's, the venue paused."""
        self.sim.control("pause")
        try:
            time.sleep(1.0)  # the frames already sent arrive
            for symbol, market_id in self.ids.items():
                reference = self.sim.reference(symbol, 10)
                for node in self.live():
                    answer = node.get(f"/markets/{market_id}/book", depth=10)
                    assert answer.status_code == 200, (node.name, answer.text)
                    book = answer.json()
                    assert book["synchronised"] is True, (node.name, book)
                    assert book["bids"] == reference["bids"] and book["asks"] == reference["asks"], (node.name, symbol)
        finally:
            self.sim.control("resume")

    def settle(self) -> dict[int, str]:
        """Wait until the live nodes share every market evenly and serve synchronised books."""
        count = len(self.live())
        share = len(self.ids) // count

        def even() -> dict[int, str]:
            spread = self.spread()
            loads = [list(spread.values()).count(n.name) for n in self.live()]
            return spread if spread and all(load == share for load in loads) else {}

        spread = wait_for("markets shared evenly", even, 30, every=0.25)
        wait_for("every book synchronised on every node", self.synchronised_everywhere, 30, every=0.25)
        return dict(spread)

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                node.signal(signal.SIGCONT)
                node.terminate()
        self.sim.stop()
        self.proxy.close()
        self.sink.cleanup()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = os.environ.get("LEVEL4_TEST_POSTGRES_URL")
    bus = os.environ.get("LEVEL4_TEST_NATS_URL")
    if not base or not bus:
        pytest.skip("LEVEL4_TEST_POSTGRES_URL and LEVEL4_TEST_NATS_URL are needed")
    tmp = tmp_path_factory.mktemp("cluster")
    with fresh_database(base) as url:
        c = Cluster(tmp, url, bus)
        try:
            c.setup()
            yield c
        finally:
            c.stop()


def moved_within(cluster: Cluster, markets: list[int], away_from: str, timeout: float) -> float:
    """Seconds until every one of `markets` is owned by a node other than `away_from`."""
    started = time.monotonic()

    def moved() -> bool:
        spread = cluster.spread()
        return bool(spread) and all(spread[m] != away_from for m in markets)

    wait_for(f"markets {markets} moved from {away_from}", moved, timeout, every=0.1)
    return time.monotonic() - started


def test_markets_are_shared_evenly_and_any_node_serves_any_book_equal_to_the_venue(cluster: Cluster) -> None:
    spread = cluster.settle()
    assert sorted(spread.values()) == ["n1", "n1", "n2", "n2", "n3", "n3"]
    for node in cluster.nodes:  # every node sees the same placement
        assert cluster.spread(node) == spread
        for market in node.get("/markets").json():
            assert market["node"] == spread[market["id"]] and market["epoch"] >= 1

    def every_node_tells_every_market_live() -> bool:
        """Each node tells the owner's status of a market another node runs (asked once a tick)."""
        return all(
            m["status"] == "live" and m["status_reason"] is None
            for node in cluster.nodes
            for m in [*node.get("/markets").json(), *(node.get(f"/markets/{i}").json() for i in cluster.ids.values())]
        )

    wait_for("every market live on every node", every_node_tells_every_market_live, 10, every=0.25)
    for node in cluster.nodes:
        assert node.metric("level4_cluster_lease_renewals_total", f'node="{node.name}"') > 0
        assert node.metric("level4_cluster_markets_taken_total", f'node="{node.name}"') >= 2
    cluster.books_equal_reference()
    # A forwarded answer names the node that gave it.
    market_id, owner = next(iter(spread.items()))
    other = next(n for n in cluster.nodes if n.name != owner)
    for route in ("book", "top", "trades", "candles"):
        answer = other.get(f"/markets/{market_id}/{route}")
        assert answer.status_code == 200 and answer.headers["x-level4-node"] == owner, (route, answer.text)


def test_kill_9_of_an_owner_moves_its_markets_within_ten_seconds_with_equal_books(cluster: Cluster) -> None:
    spread = cluster.settle()
    victim = cluster.node("n1")
    markets = [m for m, n in spread.items() if n == "n1"]
    before = cluster.node("n2").metric("level4_cluster_failovers_total") + cluster.node("n3").metric(
        "level4_cluster_failovers_total"
    )
    victim.kill()
    started = time.monotonic()
    moved_within(cluster, markets, "n1", FAILOVER)
    wait_for("the moved markets synchronised", cluster.synchronised_everywhere, FAILOVER, every=0.1)
    took = time.monotonic() - started
    assert took < FAILOVER, took
    cluster.books_equal_reference()
    time.sleep(1.1)  # /metrics renders at most once a second
    after = cluster.node("n2").metric("level4_cluster_failovers_total") + cluster.node("n3").metric(
        "level4_cluster_failovers_total"
    )
    assert after - before == len(markets)
    victim.start()
    cluster.settle()


def test_a_stream_consumer_sees_every_epoch_change_as_a_snapshot_and_no_gap_within_an_epoch(
    cluster: Cluster,
) -> None:
    spread = cluster.settle()
    watcher, victim = cluster.node("n2"), cluster.node("n1")
    moving = [m for m, n in spread.items() if n == victim.name]
    consumer = Consumer(watcher.url.replace("http://", "ws://") + "/stream")
    try:
        markets = list(cluster.ids.values())
        consumer.send(op="subscribe", markets=markets, channels=["book", "status", "top", "trade"], id=1)
        consumer.reply("subscribed", 1)
        for market_id in markets:
            consumer.wait(lambda e, m=market_id: e.get("channel") == "book" and e["market_id"] == m, what="snapshots")
        first_epoch = {m: consumer.book_epoch(m) for m in markets}
        victim.kill()
        moved_within(cluster, moving, victim.name, FAILOVER)
        wait_for("the moved markets synchronised", cluster.synchronised_everywhere, FAILOVER, every=0.1)

        def new_epoch_synchronised() -> bool:
            return all(consumer.book_epoch(m) > first_epoch[m] and consumer.book(m)["synchronised"] for m in moving)

        wait_for("the consumer's mirrors under the new owners", new_epoch_synchronised, FAILOVER, every=0.1)
        cluster.sim.control("pause")
        try:
            time.sleep(1.0)  # the frames already sent reach the owners, and their events the consumer
            for symbol, market_id in cluster.ids.items():
                reference = cluster.sim.reference(symbol, 10)
                wait_for(
                    f"the consumer's {symbol} mirror == the venue",
                    lambda m=market_id, r=reference: same_levels(consumer.book(m), r, 10),
                    5,
                )
        finally:
            cluster.sim.control("resume")
        events = [e for e in consumer.snapshot() if "channel" in e]
    finally:
        consumer.close()
    for market_id in markets:
        mine = [e for e in events if e["market_id"] == market_id]
        epochs = [e["epoch"] for e in mine]
        assert epochs == sorted(epochs), (market_id, epochs)  # never an older owner after a newer one
        assert mine[0]["channel"] == "book" and mine[0]["snapshot"] is True, mine[0]
        for epoch in dict.fromkeys(epochs):
            within = [e for e in mine if e["epoch"] == epoch]
            # Each epoch begins with a whole book; the sequence has no gap within it.
            assert within[0]["channel"] == "book" and within[0]["snapshot"] is True, (market_id, within[0])
            numbers = [e["sequence"] for e in within]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), (market_id, epoch, numbers)
        if market_id in moving:
            assert len(set(epochs)) >= 2, (market_id, set(epochs))
    victim.start()
    cluster.settle()


def test_a_paused_owner_loses_its_markets_and_publishes_nothing_under_the_old_epoch(cluster: Cluster) -> None:
    spread = cluster.settle()
    victim = cluster.node("n2")
    market_id = next(m for m, n in spread.items() if n == "n2")
    old_epoch = next(m["epoch"] for m in victim.get("/markets").json() if m["id"] == market_id)
    victim.signal(signal.SIGSTOP)
    try:
        moved_within(cluster, [market_id], "n2", FAILOVER)
        new = next(m for m in cluster.node("n1").get("/markets").json() if m["id"] == market_id)
        assert new["node"] != "n2" and new["epoch"] > old_epoch
        time.sleep(1.0)  # the venue keeps sending n2's connection frames it has not read
    finally:
        resumed = time.time()
        victim.signal(signal.SIGCONT)
    wait_for("n2 answering again", lambda: victim.get("/health").status_code < 500, 10)
    time.sleep(2.5)
    assert victim.metric("level4_cluster_fenced_events_total") > 0  # frames read after the pause: dropped
    assert victim.metric("level4_cluster_leases_lost_total") >= 1
    cluster.sink.read()
    events = [e for _subject, e in cluster.sink.in_order if e["market_id"] == market_id]
    old = sorted((e for e in events if e["epoch"] == old_epoch), key=lambda e: e["sequence"])
    assert old, events[:3]
    # Nothing under the old epoch from a frame n2 read after it resumed; and no gap within the epoch.
    late = [e for e in old if e["received_at"] is not None and e["received_at"] >= resumed]
    assert not late, late[:3]
    assert [e["sequence"] for e in old] == list(range(old[0]["sequence"], old[0]["sequence"] + len(old)))
    for epoch in {e["epoch"] for e in events}:  # each epoch n2 held begins with a book snapshot
        first = min((e for e in events if e["epoch"] == epoch), key=lambda e: e["sequence"])
        assert first["sequence"] == 1 and first["channel"] == "book" and first["snapshot"] is True, first
    cluster.settle()
    cluster.books_equal_reference()


def test_sigterm_hands_the_markets_over_at_once(cluster: Cluster) -> None:
    spread = cluster.settle()
    victim = cluster.node("n3")
    markets = [m for m, n in spread.items() if n == "n3"]
    victim.signal(signal.SIGTERM)
    took = moved_within(cluster, markets, "n3", FAILOVER)
    assert victim.wait() == 0
    # Sooner than the lease could expire: released, not waited out.
    assert took < TTL, took
    victim.start()
    cluster.settle()


def test_a_rolling_restart_of_all_three_keeps_every_market_served(cluster: Cluster) -> None:
    cluster.settle()
    down_since: dict[int, float] = {}
    longest: dict[int, float] = dict.fromkeys(cluster.ids.values(), 0.0)
    done = threading.Event()

    def watch() -> None:
        """Each market's longest time without a running owner, as a running node tells it."""
        while not done.wait(0.1):
            try:
                seen = owners(cluster.live()[0])
            except (httpx.HTTPError, IndexError):
                continue  # the node asked was stopping
            running = {n.name for n in cluster.live()}
            now = time.monotonic()
            for market_id in cluster.ids.values():
                if seen.get(market_id) in running:
                    down_since.pop(market_id, None)
                else:
                    down_since.setdefault(market_id, now)
                    longest[market_id] = max(longest[market_id], now - down_since[market_id])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for node in cluster.nodes:
            assert node.terminate() == 0
            node.start()
            wait_for("markets back on every node", lambda: len(set(cluster.spread().values())) == 3, 30, every=0.25)
    finally:
        done.set()
        watcher.join()
    assert max(longest.values()) < FAILOVER, longest
    cluster.settle()
    cluster.books_equal_reference()


def test_a_node_cut_from_the_database_loses_its_markets_and_serves_nothing_wrong(cluster: Cluster) -> None:
    spread = cluster.settle()
    cut = cluster.node("n3")
    markets = [m for m, n in spread.items() if n == "n3"]
    cluster.proxy.cut()
    try:
        moved_within(cluster, markets, "n3", FAILOVER)
        wait_for("the moved markets synchronised", lambda: cluster.synchronised_everywhere(cut), FAILOVER)
        cluster.sim.control("pause")
        try:
            time.sleep(1.0)
            for symbol, market_id in cluster.ids.items():
                reference = cluster.sim.reference(symbol, 10)
                answer = cut.get(f"/markets/{market_id}/book", depth=10)
                # The cut node either forwards to the owner or says it cannot: never a stale book.
                if answer.status_code == 200:
                    book = answer.json()
                    assert book["bids"] == reference["bids"] and book["asks"] == reference["asks"], symbol
                else:
                    assert answer.status_code == 503, answer.text
        finally:
            cluster.sim.control("resume")
    finally:
        cluster.proxy.restore()
    cluster.settle()
    cluster.books_equal_reference()
