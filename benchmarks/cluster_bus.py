"""What the cluster's event bus carries: two nodes in this process (two
EventBus instances over their own hubs) on the real NATS JetStream
(LEVEL4_TEST_NATS_URL or nats://127.0.0.1:4222), node a owning the markets.

- throughput: events published into a's hub as fast as one thread can, until
  node b's hub has them all; events per second end to end, and the process's
  CPU time per event (both nodes, the NATS client's work included; the NATS
  server's not).
- latency: a steady rate, each event stamped when published into a's hub and
  read when it reaches b's hub; median, p99 and worst in milliseconds.

    .venv/bin/python -m benchmarks.cluster_bus [--events 100000] [--rate 5000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
import uuid
from typing import Any

import nats

from level4 import logs
from level4.cluster.event_bus import EventBus, stream_name
from level4.market.hub import EventHub

MARKETS = 20


def delta(market_id: int, sequence: int, i: int) -> dict[str, Any]:
    return {
        "channel": "book", "market_id": market_id, "market": f"COINBASE.SPOT:M{market_id}-USD",
        "sequence": sequence, "epoch": 1, "venue_time": None, "received_at": time.time(),
        "snapshot": sequence == 1, "synchronised": True,
        "bids": [[f"{50_000 - i % 50}.25", f"{i % 7}.125"]], "asks": [[f"{50_001 + i % 50}.5", f"{i % 5}.25"]],
        "reason": None,
    }  # fmt: skip


class Pair:
    def __init__(self, url: str) -> None:
        self.cluster = f"bench-{uuid.uuid4().hex[:8]}"
        self.url = url
        self.hub_a, self.hub_b = EventHub(), EventHub()
        self.a = EventBus(url, "a", self.hub_a, cluster=self.cluster, is_local=lambda m: True, queue=1_000_000)
        self.b = EventBus(url, "b", self.hub_b, cluster=self.cluster, is_local=lambda m: False, queue=1_000_000)
        self.received = 0
        self.latencies: list[float] = []
        self.done = threading.Event()
        self.expect = 0
        self.hub_b.subscribe(self._arrived)

    def _arrived(self, event: dict[str, Any]) -> None:
        self.latencies.append(time.time() - event["received_at"])
        self.received += 1
        if self.received >= self.expect:
            self.done.set()

    def __enter__(self) -> Pair:
        self.a.start()
        self.b.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.a.stop()
        self.b.stop()
        asyncio.run(_delete(self.url, stream_name(self.cluster)))


async def _delete(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def throughput(url: str, count: int) -> dict[str, float]:
    with Pair(url) as pair:
        pair.expect = count
        sequences = [0] * MARKETS
        cpu, wall = time.process_time(), time.monotonic()
        for i in range(count):
            m = i % MARKETS
            sequences[m] += 1
            pair.hub_a.publish(delta(m + 1, sequences[m], i))
        published = time.monotonic() - wall
        pair.done.wait(120)
        elapsed, cpu_used = time.monotonic() - wall, time.process_time() - cpu
        return {
            "events": pair.received, "publish_s": published, "seconds": elapsed, "per_second": pair.received / elapsed,
            "cpu_us_per_event": 1e6 * cpu_used / max(pair.received, 1), "overflow": pair.a.outbox.dropped,
            "synchronised": sum(pair.b.book(m + 1, "", None)["synchronised"] for m in range(MARKETS)),
        }  # fmt: skip


def latency(url: str, rate: float, seconds: float) -> dict[str, float]:
    with Pair(url) as pair:
        count = int(rate * seconds)
        pair.expect = count
        sequences = [0] * MARKETS
        start = time.monotonic()
        cpu = time.process_time()
        for i in range(count):
            due = start + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            m = i % MARKETS
            sequences[m] += 1
            pair.hub_a.publish(delta(m + 1, sequences[m], i))
        pair.done.wait(60)
        cpu_used = time.process_time() - cpu
        got = sorted(pair.latencies)
        return {
            "events": len(got), "rate": rate, "p50_ms": 1e3 * got[len(got) // 2],
            "p99_ms": 1e3 * got[int(len(got) * 0.99)], "max_ms": 1e3 * got[-1],
            "cpu_share": cpu_used / (time.monotonic() - start),
        }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster_bus")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=5_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    logs.configure("WARNING")
    url = os.environ.get("LEVEL4_TEST_NATS_URL", "nats://127.0.0.1:4222")
    t = throughput(url, args.events)
    print(
        f"throughput: {t['events']} events a->b in {t['seconds']:.2f}s = {t['per_second']:,.0f} events/s "
        f"(published in {t['publish_s']:.2f}s; {t['cpu_us_per_event']:.1f} us CPU/event, both nodes; "
        f"overflow {t['overflow']}; {t['synchronised']}/{MARKETS} copies synchronised)"
    )
    lat = latency(url, args.rate, args.seconds)
    print(
        f"latency at {lat['rate']:,.0f} events/s over {MARKETS} markets ({lat['events']} events): "
        f"p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms; "
        f"process CPU {100 * lat['cpu_share']:.0f}% of a core (both nodes)"
    )


if __name__ == "__main__":
    main()
