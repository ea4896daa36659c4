"""Part 2, the live pipeline: a venue over real loopback websockets into
the whole service, at rising frame rates, consumed from the event hub.

The load generator (benchmarks.loadgen) runs in its own process; the service
runs in this one, so the CPU and memory figures are the service's (plus this
harness, which only sleeps and counts). Each step holds one rate for a while
and reports:

- frames/s received: frames the markets' mediators translated, per second;
- backlog: frames sent but not yet translated, at the step's start and end
  (a backlog that grows means the rate is not sustained);
- latency: from a frame's receipt on the socket (the batch's receipt time every
  event carries as `received_at`) to the moment a hub consumer is handed the
  event, over every book, top and trade event of the step.

A rate is sustained when what was received keeps up with what was sent (at
least 97%), the backlog grows by less than 2% of the step's frames, and the
generator really sent it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from benchmarks import bench_harness
from benchmarks.report import Table

RATES = [1_000, 5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 80_000, 100_000, 120_000]
LATENCY_CHANNELS = frozenset({"book", "top", "trade"})


class Latencies:
    """A hub consumer: records receipt-to-consumer delay, never blocks."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("channel") in LATENCY_CHANNELS:
            self.samples.append(time.time() - event["received_at"])

    def take(self) -> list[float]:
        samples, self.samples = self.samples, []
        return samples


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass
class Step:
    target: int
    sent_fps: float
    received_fps: float
    backlog_start: int
    backlog_end: int
    events: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu: float  # cores used by the service process
    generator_cpu: float
    rss_mb: float

    @property
    def sustained(self) -> bool:
        sent = self.sent_fps
        grown = self.backlog_end - self.backlog_start
        return sent >= 0.95 * self.target and self.received_fps >= 0.97 * sent and grown < 0.02 * sent * 1.0


def run(markets: int = 4, seconds: float = 5.0, rates: list[int] | None = None) -> list[Step]:
    steps: list[Step] = []
    with bench_harness.loadgen() as gen, bench_harness.service() as (svc, api):
        ids = bench_harness.coinbase_markets(api, gen.ws_url, markets)
        latencies = Latencies()
        unsubscribe = svc.hub.subscribe(latencies)
        bench_harness.enable(api, ids)
        bench_harness.wait_until(lambda: set(bench_harness.statuses(api).values()) == {"live"}, 30, "markets live")

        def seen() -> int:
            return sum(svc.board.get(i).frames for i in ids)

        try:
            for fps in rates or RATES:
                gen.rate(fps)
                time.sleep(1.0)  # the pipeline settles at the new rate
                sent0, seen0, gen_cpu0 = gen.stats()["sent"], seen(), gen.cpu_seconds()
                latencies.take()
                meter = bench_harness.CpuMeter()
                started = time.monotonic()
                time.sleep(seconds)
                sent1, seen1, gen_cpu1 = gen.stats()["sent"], seen(), gen.cpu_seconds()
                wall = time.monotonic() - started
                cpu = meter.share()
                samples = sorted(latencies.take())
                step = Step(
                    target=fps,
                    sent_fps=(sent1 - sent0) / wall,
                    received_fps=(seen1 - seen0) / wall,
                    backlog_start=sent0 - seen0,
                    backlog_end=sent1 - seen1,
                    events=len(samples),
                    p50_ms=percentile(samples, 0.50) * 1000,
                    p99_ms=percentile(samples, 0.99) * 1000,
                    max_ms=(samples[-1] if samples else float("nan")) * 1000,
                    cpu=cpu,
                    generator_cpu=(gen_cpu1 - gen_cpu0) / wall,
                    rss_mb=bench_harness.rss_bytes() / 2**20,
                )
                steps.append(step)
                if not step.sustained:
                    break  # the next rate would only be further behind
        finally:
            gen.rate(0)
            unsubscribe()
    return steps


def table(steps: list[Step]) -> Table:
    t = Table(
        [
            "target frames/s",
            "sent/s",
            "received/s",
            "backlog start -> end",
            "events",
            "p50 ms",
            "p99 ms",
            "max ms",
            "service CPU",
            "RSS MB",
            "sustained",
        ]
    )
    for s in steps:
        t.add(
            f"{s.target:,}",
            f"{s.sent_fps:,.0f}",
            f"{s.received_fps:,.0f}",
            f"{s.backlog_start:,} -> {s.backlog_end:,}",
            f"{s.events:,}",
            f"{s.p50_ms:.2f}",
            f"{s.p99_ms:.2f}",
            f"{s.max_ms:.1f}",
            f"{s.cpu * 100:.0f}%",
            f"{s.rss_mb:.0f}",
            "yes" if s.sustained else "no",
        )
    return t


def highest_sustained(steps: list[Step]) -> int | None:
    good = [s.target for s in steps if s.sustained]
    return max(good) if good else None
