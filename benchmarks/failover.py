"""Failover: three `level4 serve --node` processes on the real PostgreSQL share a
simulated venue's markets with the default lease (LEVEL4_LEASE_TTL, 5 s); one
owner at a time is killed (SIGKILL) and the time is taken until every one of
its markets is synchronised again on another node, asked through a survivor.

And the cost of cluster mode per node: database transactions a second (the
keeper's heartbeat, renewal and reads), and CPU, with no market enabled (the
keeper alone, against a single node beside it) and with the markets running.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from benchmarks.report import Table
from tests.cluster.cluster_processes import Node, Simulator, fresh_database, owners, wait_for

SYMBOLS = ["BTC-USD", "ETH-USD", "SOL-USD", "LTC-USD", "ADA-USD", "DOT-USD"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Cost:
    what: str
    transactions: float  # per second per node
    cpu: float  # percent of one core per node


@dataclass
class Result:
    ttl: float
    failovers: list[float]
    costs: list[Cost]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def commits(url: str) -> int:
    name = make_url(url).database
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            query = text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :n")
            return int(conn.execute(query, {"n": name}).scalar_one())
    finally:
        engine.dispose()


def measure(what: str, url: str, nodes: list[Node], seconds: float) -> Cost:
    """Transactions a second on the cluster's database and CPU, each per node, over `seconds`."""
    pids = [n.proc.pid for n in nodes if n.proc is not None]
    cpu0, tx0, t0 = [cpu_seconds(p) for p in pids], commits(url), time.monotonic()
    time.sleep(seconds)
    cpu1, tx1, t1 = [cpu_seconds(p) for p in pids], commits(url), time.monotonic()
    elapsed = t1 - t0
    cpu = statistics.mean((b - a) / elapsed * 100 for a, b in zip(cpu0, cpu1, strict=True))
    return Cost(what, (tx1 - tx0 - 2) / elapsed / len(nodes), cpu)  # the two reading transactions


def idle_single_node(tmp: Path, seconds: float) -> Cost:
    node = Node("single", f"sqlite:///{tmp / 'single.sqlite3'}", "", tmp / "single.log", 5.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    with (tmp / "single.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "level4", "serve", "--port", str(node.port), "--database-url", node.database_url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
    try:
        wait_for("the single node", lambda: node.get("/health").status_code == 200, 30)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        return Cost("single node, idle (no cluster)", 0.0, (c1 - c0) / (t1 - t0) * 100)
    finally:
        proc.terminate()
        proc.wait(30)


def run(kills: int = 10, settle_seconds: float = 10.0) -> Result:
    base = os.environ.get("LEVEL4_TEST_POSTGRES_URL")
    bus = os.environ.get("LEVEL4_TEST_NATS_URL", "nats://127.0.0.1:4222")
    if not base:
        raise SystemExit("the failover benchmark needs LEVEL4_TEST_POSTGRES_URL (source /work/tools/env.sh)")
    tmp = Path(tempfile.mkdtemp(prefix="level4-failover-"))
    costs: list[Cost] = [idle_single_node(tmp, settle_seconds)]
    with fresh_database(base) as url:
        sim = Simulator("coinbase", SYMBOLS, tmp / "simulator.log")
        env = {"LEVEL4_PLACEMENT_GROUP": "2", "LEVEL4_LOG_LEVEL": "WARNING"}
        nodes = [Node(f"n{i}", url, bus, tmp / f"n{i}.log", 5.0, **env) for i in (1, 2, 3)]
        ttl = nodes[0].ttl
        try:
            for node in nodes:
                node.start()
            costs.append(measure("cluster node, idle (keeper only)", url, nodes, settle_seconds))
            first = nodes[0]
            for code in ("BTC", "ETH", "SOL", "LTC", "ADA", "DOT", "USD"):
                httpx.post(first.url + "/symbols", json={"symbol": code})
            httpx.post(first.url + "/exchanges", json={"name": "COINBASE", "ws_url": f"ws://127.0.0.1:{sim.port}/"})
            ids = []
            for symbol in SYMBOLS:
                b, q = symbol.split("-")
                body = {"exchange": "COINBASE", "base_symbol": b, "quote_symbol": q, "market_type": "SPOT"}
                ids.append(int(httpx.post(first.url + "/markets", json=body).json()["id"]))
            for market_id in ids:
                httpx.patch(f"{first.url}/markets/{market_id}", json={"level4_feed_enabled": True})

            def settled() -> bool:
                seen = owners(first if first.running else nodes[1])
                if set(seen) != set(ids) or len(set(seen.values())) != 3:
                    return False
                return all(synchronised(first, m) for m in ids)

            wait_for("markets spread", settled, 60, every=0.25)
            costs.append(measure("cluster node, 2 markets each", url, nodes, settle_seconds))
            failovers: list[float] = []
            for i in range(kills):
                victim = nodes[i % 3]
                survivor = nodes[(i + 1) % 3]
                theirs = [m for m, n in owners(survivor).items() if n == victim.name]
                victim.kill()
                started = time.monotonic()

                def moved(survivor: Node = survivor, theirs: list[int] = theirs, victim: Node = victim) -> bool:
                    seen = owners(survivor)
                    return all(seen.get(m) not in (None, victim.name) and synchronised(survivor, m) for m in theirs)

                wait_for("failover", moved, 60, every=0.05)
                failovers.append(time.monotonic() - started)
                victim.start()
                wait_for("markets spread again", settled, 60, every=0.25)
        finally:
            for node in nodes:
                if node.running:
                    node.terminate()
            sim.stop()
    return Result(ttl, failovers, costs)


def synchronised(node: Node, market_id: int) -> bool:
    answer = node.get(f"/markets/{market_id}/book", depth=1)
    return answer.status_code == 200 and bool(answer.json()["synchronised"])


def failover_table(result: Result) -> Table:
    table = Table(["lease", "kills", "median s", "worst s", "best s"])
    f = result.failovers
    table.add(f"{result.ttl:g} s", len(f), f"{statistics.median(f):.2f}", f"{max(f):.2f}", f"{min(f):.2f}")
    return table


def cost_table(result: Result) -> Table:
    table = Table(["node", "database transactions/s", "CPU % of a core"])
    for cost in result.costs:
        table.add(cost.what, f"{cost.transactions:.1f}" if cost.transactions else "-", f"{cost.cpu:.1f}")
    return table
