"""Part 4, runtime: actors on the scheduler pool against a thread per actor, in one run.

For each runtime (`threads`: every actor on a thread of its own, pykka's way,
as LEVEL4_SCHEDULERS=0 gives; `pool`: the scheduler pool) and each market
count, a fresh service in this process and the load generator in its own:
every market goes live, then the threads are counted (/proc/self/task and
Python's), and the generator sends a steady rate spread over all markets
while the service's CPU and context switches (voluntary and not, every
thread) are measured. The pool is swapped between runs (`scheduler.use`), so
the two runtimes are timed side by side on the same machine state.

`hops` isolates the runtime's own cost: one message at a time through a chain
of three actors (as a frame goes mediator -> orderbook -> exchange), each
waiting in its inbox, the sender waiting for the last; CPU per message, all
threads of the process.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import bench_harness
from benchmarks.report import Table
from level4.supervision import SupervisedActor, scheduler

RUNTIMES = ("threads", "pool")
# (markets, frames/s spread over them)
CASES = [(10, 0), (100, 1_000), (500, 0)]


@dataclass
class Row:
    runtime: str
    markets: int
    fps: int
    threads: int
    python_threads: int
    received_fps: float
    cpu: float  # cores
    switches_per_frame: float
    start_s: float
    stop_s: float


def context_switches() -> int:
    """Context switches of every thread of this process so far."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            continue  # the thread ended meanwhile
    return total


def measure(runtime: str, markets: int, fps: int, seconds: float) -> Row:
    scheduler.use(0 if runtime == "threads" else None)
    with bench_harness.loadgen() as gen, bench_harness.service() as (svc, api):
        ids = bench_harness.coinbase_markets(api, gen.ws_url, markets)
        started = time.monotonic()
        for market_id in ids:
            svc.control.set_feed(market_id, True)
        bench_harness.wait_until(
            lambda: all(svc.board.status(i) == "live" for i in ids), 60 + markets * 0.5, f"{markets} markets live"
        )
        start_s = time.monotonic() - started
        time.sleep(1.0)  # snapshots digested
        gc.collect()
        threads, py_threads = bench_harness.os_threads(), bench_harness.python_threads()
        received, cpu, switches = 0.0, 0.0, 0.0
        if fps:

            def seen() -> int:
                return sum(svc.board.get(i).frames for i in ids)

            gen.rate(fps)
            time.sleep(1.0)  # settled at the rate
            seen0, switches0 = seen(), context_switches()
            meter = bench_harness.CpuMeter()
            wall0 = time.monotonic()
            time.sleep(seconds)
            cpu = meter.share()
            frames = seen() - seen0
            switched = context_switches() - switches0
            received = frames / (time.monotonic() - wall0)
            switches = switched / frames if frames else float("nan")
            gen.rate(0)
        started = time.monotonic()
        svc.markets.stop_all()
        stop_s = time.monotonic() - started
    return Row(runtime, markets, fps, threads, py_threads, received, cpu, switches, start_s, stop_s)


def run(seconds: float = 10.0, cases: list[tuple[int, int]] | None = None) -> list[Row]:
    rows = []
    try:
        for markets, fps in cases or CASES:
            for runtime in RUNTIMES:
                rows.append(measure(runtime, markets, fps, seconds))
    finally:
        scheduler.use(None)
    return rows


def table(rows: list[Row]) -> Table:
    t = Table(
        [
            "markets",
            "runtime",
            "threads (OS / Python)",
            "start all (s)",
            "stop all (s)",
            "frames/s",
            "service CPU (of a core)",
            "context switches / frame",
        ]
    )
    for r in rows:
        t.add(
            r.markets,
            r.runtime,
            f"{r.threads} / {r.python_threads}",
            f"{r.start_s:.2f}",
            f"{r.stop_s:.2f}",
            f"{r.received_fps:,.0f}" if r.fps else "-",
            f"{r.cpu * 100:.1f}%" if r.fps else "-",
            f"{r.switches_per_frame:.1f}" if r.fps else "-",
        )
    return t


class Hop(SupervisedActor):
    def __init__(self, next_hop: Any, done: threading.Event) -> None:
        super().__init__()
        self.next_hop = next_hop
        self.done = done

    def on_receive(self, message: Any) -> Any:
        if self.next_hop is None:
            self.done.set()
        else:
            self.next_hop.tell(message)


def hop_cost(runtime: str, messages: int = 5_000, length: int = 3) -> float:
    """CPU seconds per message through `length` actors, one message in flight at a time."""
    scheduler.use(0 if runtime == "threads" else None)
    done = threading.Event()
    refs: list[Any] = []
    next_hop = None
    for _ in range(length):
        next_hop = Hop.start(next_hop, done)
        refs.append(next_hop)
    first = refs[-1]
    try:
        for _ in range(200):  # warm up
            done.clear()
            first.tell(0)
            done.wait(5)
        cpu = time.process_time()
        for i in range(messages):
            done.clear()
            first.tell(i)
            done.wait(5)
        return (time.process_time() - cpu) / messages
    finally:
        for ref in reversed(refs):
            ref.stop()


def hops(messages: int = 5_000) -> dict[str, float]:
    try:
        return {runtime: hop_cost(runtime, messages) for runtime in RUNTIMES}
    finally:
        scheduler.use(None)


def hop_table(costs: dict[str, float]) -> Table:
    t = Table(["runtime", "CPU per message through 3 actors (µs)"])
    for runtime, cost in costs.items():
        t.add(runtime, f"{cost * 1e6:.0f}")
    return t
