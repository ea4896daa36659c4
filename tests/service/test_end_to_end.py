"""As a new user would: the service and a simulated venue over real sockets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import SimulatorThread, books_equal, wait_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(
    db_url: str, port: int, tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = open(tmp_path / "serve.log", "ab")  # noqa: SIM115 - the process owns it until it exits
    full_env = {**os.environ, "LEVEL4_DATABASE_URL": db_url, "LEVEL4_PORT": str(port), **(env or {})}
    if env is None or "LEVEL4_API_TOKEN" not in env:
        full_env.pop("LEVEL4_API_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "level4", "serve", *extra], env=full_env, stdout=log, stderr=log, cwd=tmp_path
    )
    wait_for(lambda: _healthy(port) or proc.poll() is not None, timeout=30, what="service up")
    assert proc.poll() is None, (tmp_path / "serve.log").read_text()
    return proc


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def test_register_switch_on_watch_live_exact_book_switch_off(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    with SimulatorThread("coinbase", ["BTC-USD"], rate=300) as sim:
        proc = start_serve(db_url, port, tmp_path)
        try:
            api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
            assert api.post("/symbols", json={"symbol": "BTC"}).status_code == 201
            assert api.post("/symbols", json={"symbol": "USD"}).status_code == 201
            r = api.post("/exchanges", json={"name": "COINBASE", "ws_url": sim.url})
            assert r.status_code == 201, r.text
            r = api.post(
                "/markets",
                json={"exchange": "COINBASE", "base_symbol": "BTC", "quote_symbol": "USD", "market_type": "SPOT"},
            )
            assert r.status_code == 201, r.text
            market = r.json()
            assert market["tag"] == "COINBASE.SPOT:BTC-USD" and market["status"] == "stopped"
            assert market["level4_feed_enabled"] is False

            r = api.patch(f"/markets/{market['id']}", json={"level4_feed_enabled": True})
            assert r.status_code == 200 and r.json()["level4_feed_enabled"] is True
            wait_for(lambda: api.get(f"/markets/{market['id']}").json()["status"] == "live", what="live")

            sim.pause()
            reference = sim.reference("BTC-USD")
            wait_for(
                lambda: books_equal(api.get(f"/markets/{market['id']}/book").json(), reference),
                what="book equals the venue's reference book",
            )
            book = api.get(f"/markets/{market['id']}/book").json()
            assert book["market"] == "COINBASE.SPOT:BTC-USD"
            assert len(book["bids"]) > 5 and len(book["asks"]) > 5
            top = api.get(f"/markets/{market['id']}/book", params={"depth": 1}).json()
            assert top["bids"] == reference["bids"][:1] and top["asks"] == reference["asks"][:1]

            r = api.patch(f"/markets/{market['id']}", json={"level4_feed_enabled": False})
            assert r.json()["status"] == "stopped"
            assert api.get(f"/markets/{market['id']}/book").json()["synchronised"] is False
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0


def test_enabled_markets_start_again_and_sigterm_exits_promptly(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'l4.sqlite3'}"
    port = free_port()
    with SimulatorThread("coinbase", ["ETH-USD"], rate=100) as sim:
        proc = start_serve(db_url, port, tmp_path)
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        api.post("/exchanges", json={"name": "coinbase", "ws_url": sim.url})
        market = api.post("/markets", json={"exchange": "COINBASE", "base_symbol": "ETH", "quote_symbol": "USD"})
        # symbols do not exist yet: 404 names the missing one
        assert market.status_code == 404 and "ETH" in market.json()["detail"]
        api.post("/symbols", json={"symbol": "ETH"})
        api.post("/symbols", json={"symbol": "USD"})
        market_id = api.post("/markets", json={"exchange": 1, "base_symbol": "ETH", "quote_symbol": 2}).json()["id"]
        api.patch(f"/markets/{market_id}", json={"level4_feed_enabled": True})
        wait_for(lambda: api.get(f"/markets/{market_id}").json()["status"] == "live", what="live")

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert time.monotonic() - started < 5
        # the venue saw the connection close
        wait_for(lambda: not sim.sim.clients, what="socket closed")

        proc = start_serve(db_url, port, tmp_path)
        try:
            wait_for(lambda: api.get(f"/markets/{market_id}").json()["status"] == "live", what="live again")
            assert api.get(f"/markets/{market_id}").json()["level4_feed_enabled"] is True
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(10) == 0


def test_non_loopback_without_token_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LEVEL4_API_TOKEN"}
    env["LEVEL4_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    done = subprocess.run(
        [sys.executable, "-m", "level4", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert b"LEVEL4_API_TOKEN" in done.stderr and b"refusing to listen on 0.0.0.0" in done.stderr
