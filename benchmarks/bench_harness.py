"""What the live and scale parts share: the load generator in its own
process, the whole service in this one, markets set up through the control
API, and this process's CPU, memory and threads."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from level4.config import Settings
from level4.service import gc_policy
from level4.service.root import Service

ROOT = Path(__file__).resolve().parent.parent


class LoadGen:
    """benchmarks.loadgen as a child process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loadgen"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            self.proc.kill()
            raise RuntimeError(f"load generator did not start: {line!r}")
        self.port = int(line.split()[1])
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def rate(self, fps: float) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get("/rate", params={"fps": fps}).json()
        return answer

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get("/stats").json()
        return answer

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.http.close()
        end_process(self.proc)


def end_process(proc: subprocess.Popen[Any]) -> None:
    """Terminate a child process, killing it if it will not go within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def loadgen() -> Iterator[LoadGen]:
    gen = LoadGen()
    try:
        yield gen
    finally:
        gen.close()


@contextmanager
def service() -> Iterator[tuple[Service, httpx.Client]]:
    """The whole service in this process, on a fresh SQLite catalogue."""
    with tempfile.TemporaryDirectory(prefix="level4-bench-") as tmp:
        settings = Settings(host="127.0.0.1", port=0, database_url=f"sqlite:///{tmp}/bench.sqlite3", api_token=None)
        settings.start_enabled = False
        svc = Service(settings)
        svc.start()
        gc_policy.apply()  # as `level4 serve` does
        api = httpx.Client(base_url=f"http://127.0.0.1:{svc.http_port()}", timeout=60)
        try:
            yield svc, api
        finally:
            api.close()
            svc.stop()
            gc_policy.release()


def coinbase_markets(api: httpx.Client, ws_url: str, count: int) -> list[int]:
    """`count` Coinbase markets fed by the load generator, created but not started."""
    quote = "USD"
    api.post("/symbols", json={"symbol": quote})
    api.post("/exchanges", json={"name": "COINBASE", "ws_url": ws_url}).raise_for_status()
    ids = []
    for n in range(count):
        base = f"B{n:04d}"
        api.post("/symbols", json={"symbol": base}).raise_for_status()
        market = api.post("/markets", json={"exchange": "COINBASE", "base_symbol": base, "quote_symbol": quote})
        market.raise_for_status()
        ids.append(int(market.json()["id"]))
    return ids


def enable(api: httpx.Client, ids: list[int], on: bool = True) -> None:
    for market_id in ids:
        api.patch(f"/markets/{market_id}", json={"level4_feed_enabled": on}).raise_for_status()


def statuses(api: httpx.Client) -> dict[int, str]:
    return {int(m["id"]): str(m["status"]) for m in api.get("/markets").json()}


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout:g}s")
        time.sleep(0.02)
    return time.monotonic() - started


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def python_threads() -> int:
    return threading.active_count()


class CpuMeter:
    """CPU of this whole process (every thread) over wall time."""

    def __init__(self) -> None:
        self.cpu = time.process_time()
        self.wall = time.monotonic()

    def share(self) -> float:
        """Cores used since the meter started (1.0 = one whole core)."""
        wall = time.monotonic() - self.wall
        return (time.process_time() - self.cpu) / wall if wall > 0 else 0.0
