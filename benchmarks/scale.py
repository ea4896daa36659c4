"""Part 3, scale: many simulated markets in one process.

For each count, a fresh service in this process and the load generator in
its own: every market connects, subscribes and takes its snapshot, then the
feeds stay quiet (a heartbeat a second per market, as venues send). Reported:
the venue connections the markets ride on (shared, up to the venue's cap a
connection), the time from switching every feed on (as `PATCH /markets/{id}`
does) until all are live, memory per market (RSS growth over the idle
service, divided by the count), threads, the CPU the quiet feeds cost, and
the time to stop them all.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

from benchmarks import bench_harness
from benchmarks.report import Table

COUNTS = [10, 100, 500, 2000, 5000]


@dataclass
class Row:
    markets: int
    connections: int  # venue connections carrying them, counted at the venue
    start_s: float
    stop_s: float
    rss_idle_mb: float
    rss_mb: float
    threads: int
    python_threads: int
    quiet_cpu: float  # cores

    @property
    def per_market_kb(self) -> float:
        return (self.rss_mb - self.rss_idle_mb) * 1024 / self.markets


def measure(count: int, quiet_seconds: float) -> Row:
    with bench_harness.loadgen() as gen, bench_harness.service() as (svc, api):
        ids = bench_harness.coinbase_markets(api, gen.ws_url, count)
        gc.collect()
        rss_idle = bench_harness.rss_bytes()
        started = time.monotonic()
        for market_id in ids:
            svc.control.set_feed(market_id, True)
        bench_harness.wait_until(
            lambda: all(svc.board.status(i) == "live" for i in ids), 60 + count * 0.5, f"{count} markets live"
        )
        start_s = time.monotonic() - started
        connections = int(gen.stats()["connections"])
        time.sleep(2.0)  # snapshots and first heartbeats digested
        meter = bench_harness.CpuMeter()
        time.sleep(quiet_seconds)
        quiet = meter.share()
        gc.collect()
        rss = bench_harness.rss_bytes()
        threads, py_threads = bench_harness.os_threads(), bench_harness.python_threads()
        started = time.monotonic()
        svc.markets.stop_all()
        stop_s = time.monotonic() - started
        return Row(count, connections, start_s, stop_s, rss_idle / 2**20, rss / 2**20, threads, py_threads, quiet)


def run(counts: list[int] | None = None, quiet_seconds: float = 10.0) -> list[Row]:
    return [measure(n, quiet_seconds) for n in counts or COUNTS]


def table(rows: list[Row]) -> Table:
    t = Table(
        [
            "markets",
            "venue connections",
            "start all (s)",
            "stop all (s)",
            "RSS idle -> running (MB)",
            "RSS per market (KB)",
            "threads (OS / Python)",
            "quiet CPU (of a core)",
        ]
    )
    for r in rows:
        t.add(
            r.markets,
            r.connections,
            f"{r.start_s:.2f}",
            f"{r.stop_s:.2f}",
            f"{r.rss_idle_mb:.0f} -> {r.rss_mb:.0f}",
            f"{r.per_market_kb:.0f}",
            f"{r.threads} / {r.python_threads}",
            f"{r.quiet_cpu * 100:.1f}%",
        )
    return t
