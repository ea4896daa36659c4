"""What the cluster's event bus carries between two nodes: node a (this process)
owns the markets and publishes their events into its hub; node b (a process of
its own, as a node is) reads them from the real NATS JetStream
(LEVEL4_TEST_NATS_URL or nats://127.0.0.1:4222) into its hub and keeps its
copies of a's books.

- throughput: events published into a's hub as fast as one thread can, until
  b's hub has them all: events per second end to end, CPU time per event in
  each node's process (the NATS client's work included, the NATS server's
  not; a's includes building the events, about a microsecond), overflow, and
  whether b's copies equal a's books exactly.
- latency: a steady rate, each event stamped when published into a's hub and
  read when it reaches b's hub: median, p99 and worst in milliseconds.

    .venv/bin/python -m benchmarks.cluster_bus [--events 300000] [--rate 10000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
import uuid
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

import nats

from benchmarks.report import Table
from level4 import logs
from level4.cluster.event_bus import EventBus, stream_name
from level4.market.hub import EventHub

MARKETS = 20
PERIOD = 350  # the levels repeat every PERIOD events: built once, shared by the events


def _levels(i: int) -> tuple[list[list[str]], list[list[str]]]:
    return [[f"{50_000 - i % 50}.25", f"{i % 7}.125"]], [[f"{50_001 + i % 50}.5", f"{i % 5}.25"]]


LEVELS = [_levels(i) for i in range(PERIOD)]
TAGS = [f"COINBASE.SPOT:M{m}-USD" for m in range(MARKETS + 1)]


class Publisher:
    """Node a's markets: event i goes to market i % MARKETS, numbered within it."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self.sequences = [0] * (MARKETS + 1)
        self.count = 0

    def publish(self, n: int) -> None:
        publish, sequences, now = self.hub.publish, self.sequences, time.time
        for i in range(self.count, self.count + n):
            m = i % MARKETS + 1
            sequence = sequences[m] = sequences[m] + 1
            bids, asks = LEVELS[i % PERIOD]
            publish({
                "channel": "book", "market_id": m, "market": TAGS[m], "sequence": sequence, "epoch": 1,
                "venue_time": None, "received_at": now(), "snapshot": sequence == 1, "synchronised": True,
                "bids": bids, "asks": asks, "reason": None,
            })  # fmt: skip
        self.count += n


def books(count: int) -> dict[int, dict[str, Any]]:
    """The books a's events describe after `count` of them (what b's copies must equal)."""
    sides: dict[int, tuple[dict[Decimal, list[str]], dict[Decimal, list[str]]]] = {}
    for i in range(count):
        bids, asks = sides.setdefault(i % MARKETS + 1, ({}, {}))
        new_bids, new_asks = LEVELS[i % PERIOD]
        for side, levels in ((bids, new_bids), (asks, new_asks)):
            for price, size in levels:
                if Decimal(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = [price, size]
    return {
        m: {
            "market": TAGS[m], "synchronised": True, "reason": None,
            "bids": [bids[p] for p in sorted(bids, reverse=True)], "asks": [asks[p] for p in sorted(asks)],
        }
        for m, (bids, asks) in sides.items()
    }  # fmt: skip


def node_b(url: str, cluster: str, expect: int, pipe: Connection) -> None:
    """Node b: read until `expect` events reached the hub; report arrivals, CPU and copies."""
    logs.configure("WARNING")
    hub = EventHub()
    bus = EventBus(url, "b", hub, cluster=cluster, is_local=lambda m: False)
    latencies: list[float] = []
    last = [0.0]

    def arrived(event: dict[str, Any]) -> None:
        last[0] = now = time.time()
        latencies.append(now - event["received_at"])

    hub.subscribe(arrived)
    bus.start()
    cpu = time.process_time()
    pipe.send("ready")
    deadline = time.monotonic() + 120
    while len(latencies) < expect and time.monotonic() < deadline:
        time.sleep(0.01)
    cpu_used = time.process_time() - cpu
    copies = {m: bus.book(m, TAGS[m], None) for m in range(1, MARKETS + 1)}
    pipe.send({"events": len(latencies), "last": last[0], "cpu": cpu_used, "latencies": latencies, "copies": copies})
    bus.stop()


class Pair:
    def __init__(self, url: str, expect: int) -> None:
        self.url = url
        self.cluster = f"bench-{uuid.uuid4().hex[:8]}"
        self.hub = EventHub()
        self.a = EventBus(url, "a", self.hub, cluster=self.cluster, is_local=lambda m: True, queue=1_000_000)
        self.publisher = Publisher(self.hub)
        context = multiprocessing.get_context("spawn")
        self.pipe, child_end = context.Pipe()
        self.b = context.Process(target=node_b, args=(url, self.cluster, expect, child_end), daemon=True)

    def __enter__(self) -> Pair:
        self.b.start()
        if not self.pipe.poll(30):
            raise RuntimeError("node b did not start")
        self.pipe.recv()
        self.a.start()
        return self

    def result(self) -> dict[str, Any]:
        if not self.pipe.poll(150):
            raise RuntimeError("node b did not report")
        result: dict[str, Any] = self.pipe.recv()
        return result

    def __exit__(self, *exc: object) -> None:
        self.a.stop()
        self.b.join(10)
        if self.b.is_alive():
            self.b.kill()
        asyncio.run(_delete(self.url, stream_name(self.cluster)))


async def _delete(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def _exact(copies: dict[int, dict[str, Any]], count: int) -> int:
    truth = books(count)
    return sum(copies.get(m) == book for m, book in truth.items())


def throughput(url: str, count: int) -> dict[str, Any]:
    with Pair(url, count) as pair:
        cpu, wall, start = time.process_time(), time.monotonic(), time.time()
        for _ in range(count // 1000):
            pair.publisher.publish(1000)
        pair.publisher.publish(count % 1000)
        published = time.monotonic() - wall
        b = pair.result()
        cpu_a = time.process_time() - cpu
        elapsed = b["last"] - start
        return {
            "events": b["events"], "publish_s": published, "seconds": elapsed, "per_second": b["events"] / elapsed,
            "cpu_a_us": 1e6 * cpu_a / max(b["events"], 1), "cpu_b_us": 1e6 * b["cpu"] / max(b["events"], 1),
            "overflow": pair.a.outbox.dropped, "exact": _exact(b["copies"], count),
        }  # fmt: skip


def latency(url: str, rate: float, seconds: float) -> dict[str, Any]:
    count = int(rate * seconds)
    with Pair(url, count) as pair:
        cpu, start = time.process_time(), time.monotonic()
        while pair.publisher.count < count:
            due = min(count, int((time.monotonic() - start) * rate) + 1)
            if due > pair.publisher.count:
                pair.publisher.publish(due - pair.publisher.count)
            time.sleep(0.001)
        b = pair.result()
        elapsed = time.monotonic() - start
        cpu_a = time.process_time() - cpu
        got = sorted(b["latencies"])
        return {
            "events": len(got), "rate": rate, "p50_ms": 1e3 * got[len(got) // 2],
            "p99_ms": 1e3 * got[int(len(got) * 0.99)], "max_ms": 1e3 * got[-1],
            "cpu_a": cpu_a / elapsed, "cpu_b": b["cpu"] / elapsed, "overflow": pair.a.outbox.dropped,
            "exact": _exact(b["copies"], count),
        }  # fmt: skip


def table(throughputs: list[dict[str, Any]], latencies: list[dict[str, Any]]) -> Table:
    header = ["load", "events", "events/s", "CPU a + b (µs/event)", "p50 ms", "p99 ms", "overflow", "exact copies"]
    out = Table(header)
    for t in throughputs:
        out.add(*[
            "as fast as possible", f"{t['events']:,}", f"{t['per_second']:,.0f}",
            f"{t['cpu_a_us']:.1f} + {t['cpu_b_us']:.1f}", "", "", f"{t['overflow']}", f"{t['exact']}/{MARKETS}",
        ])  # fmt: skip
    for lat in latencies:
        out.add(*[
            f"{lat['rate']:,.0f} events/s", f"{lat['events']:,}", "",
            f"{100 * lat['cpu_a']:.0f}% + {100 * lat['cpu_b']:.0f}% of a core",
            f"{lat['p50_ms']:.2f}", f"{lat['p99_ms']:.2f}", f"{lat['overflow']}", f"{lat['exact']}/{MARKETS}",
        ])  # fmt: skip
    return out


def run(events: int, rates: list[float], seconds: float, url: str | None = None) -> Table:
    url = url or os.environ.get("LEVEL4_TEST_NATS_URL", "nats://127.0.0.1:4222")
    return table([throughput(url, events)], [latency(url, rate, seconds) for rate in rates])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster_bus")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rate", type=float, action="append", help="events/s of a latency run (repeatable)")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    logs.configure("WARNING")
    print(run(args.events, args.rate or [10_000.0, 60_000.0], args.seconds).org())


if __name__ == "__main__":
    main()
