"""A level4 cluster on this machine for tests and benchmarks: a fresh PostgreSQL
database, a simulated venue and level4 nodes as real processes (tests/tcp_proxy.py
cuts one node from the database)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


@contextlib.contextmanager
def fresh_database(base: str) -> Iterator[str]:
    """A new database on the server of `base`, dropped afterwards."""
    name = f"level4_cluster_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def python_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


class Simulator:
    def __init__(self, venue: str, symbols: list[str], log: Path) -> None:
        self.port = free_port()
        self.symbols = symbols
        self.log = log.open("ab")
        options = ["--symbols", ",".join(symbols), "--rate", "20"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "level4", "simulate", "--venue", venue, "--port", str(self.port), *options],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=python_env({}),
        )
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for("the simulator listening", lambda: httpx.get(f"{self.url}/control/resume", timeout=1), 20)

    def control(self, what: str) -> None:
        httpx.get(f"{self.url}/control/{what}", timeout=5).raise_for_status()

    def reference(self, symbol: str, depth: int) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/reference", params={"symbol": symbol, "depth": depth}, timeout=5)
        answer.raise_for_status()
        return dict(answer.json())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


class Node:
    """One `level4 serve --node NAME` process on its own port."""

    def __init__(self, name: str, database_url: str, bus: str, log: Path, ttl: float, **env: str) -> None:
        self.name = name
        self.database_url = database_url
        self.bus = bus
        self.log_path = log
        self.ttl = ttl
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        env = python_env(
            {
                "LEVEL4_DATABASE_URL": self.database_url,
                "LEVEL4_CLUSTER_BUS": self.bus,
                "LEVEL4_LEASE_TTL": str(self.ttl),
                "LEVEL4_LOG_LEVEL": "INFO",
                **self.env,
            }
        )
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "level4", "serve", "--node", self.name, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def wait_ready(self) -> None:
        def answering() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
            return self.get("/cluster").status_code == 200

        wait_for(f"{self.name} answering", answering, 60)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=10)

    def signal(self, signum: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait()

    def terminate(self) -> int:
        self.signal(signal.SIGTERM)
        return self.wait()

    def wait(self) -> int:
        assert self.proc is not None
        code = self.proc.wait(30)
        self.proc = None
        return code

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metric(self, name: str, labels: str = "") -> float:
        """A sample of this node's /metrics (summed over label sets containing `labels`)."""
        total = 0.0
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(name) and (line[len(name)] in "{ ") and labels in line:
                total += float(line.rsplit(" ", 1)[1])
        return total


def owners(node: Node) -> dict[int, str]:
    """Market id -> owning node, as `node`'s /cluster says (live nodes only)."""
    body = node.get("/cluster").json()
    return {m: n["name"] for n in body["nodes"] if n["alive"] for m in n["markets"]}
