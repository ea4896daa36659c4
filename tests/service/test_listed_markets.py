"""Many markets at once: every market a venue lists of one type and quote, added and
started by one request (POST /exchanges/{name}/markets) or one command
(`level4 add-markets`), against a simulated venue over real sockets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from tests.support import SimulatorThread, running_service, wait_for

PAIRS = [f"C{n:02d}-USDT" for n in range(30)] + ["C00-BTC", "C01-BTC"]


def test_one_request_adds_and_starts_every_listed_market_of_a_quote(tmp_path: Path) -> None:
    with (
        SimulatorThread("COINBASE", PAIRS, rate=100) as sim,
        running_service(f"sqlite:///{tmp_path / 'bulk.sqlite3'}") as (_service, base),
        httpx.Client(base_url=base, timeout=60) as api,
    ):
        assert (
            api.post("/exchanges", json={"name": "COINBASE", "ws_url": sim.url, "rest_url": sim.http}).status_code
            == 201
        )
        r = api.post("/exchanges/COINBASE/markets", json={"market_type": "SPOT", "quote": "USDT", "enable": True})
        assert r.status_code == 200, r.text
        added = r.json()
        assert len(added["created"]) == 30 and added["existing"] == [] and added["enabled"] == 30
        assert added["failed"] == []
        markets = api.get("/markets").json()
        assert sorted(m["tag"] for m in markets) == sorted(f"COINBASE.SPOT:{p}" for p in PAIRS if p.endswith("USDT"))
        assert {s["symbol"] for s in api.get("/symbols").json()} >= {"USDT", "C00", "C29"}  # added as needed
        wait_for(lambda: {m["status"] for m in api.get("/markets").json()} == {"live"}, timeout=60, what="all live")

        # Again, with the other quote and without enabling: nothing twice, the BTC ones added switched off.
        again = api.post("/exchanges/COINBASE/markets", json={"market_type": "SPOT"}).json()
        assert len(again["created"]) == 2 and sorted(again["existing"]) == sorted(added["created"])
        assert again["enabled"] == 0
        off = [m for m in api.get("/markets").json() if m["quote_symbol"] == "BTC"]
        assert len(off) == 2 and not any(m["level4_feed_enabled"] for m in off)

        bad = api.post("/exchanges/COINBASE/markets", json={"market_type": "SWAP"})
        assert bad.status_code == 422
        assert api.post("/exchanges/NOPE/markets", json={"market_type": "SPOT"}).status_code == 404
        form = api.post(
            "/exchanges/COINBASE/markets", content=b"market_type=SPOT", headers={"Content-Type": "text/plain"}
        )
        assert form.status_code == 415


def test_the_command_adds_a_venues_markets_to_a_running_service(tmp_path: Path) -> None:
    with (
        SimulatorThread("COINBASE", PAIRS, rate=50) as sim,
        running_service(f"sqlite:///{tmp_path / 'cli.sqlite3'}") as (_service, base),
        httpx.Client(base_url=base, timeout=60) as api,
    ):
        assert (
            api.post("/exchanges", json={"name": "COINBASE", "ws_url": sim.url, "rest_url": sim.http}).status_code
            == 201
        )
        argv = [sys.executable, "-m", "level4", "add-markets", "COINBASE", "--type", "SPOT", "--quote", "BTC"]
        done = subprocess.run([*argv, "--enable", "--url", base], capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert orjson.loads(done.stdout.splitlines()[-1]) == {
            "exchange": "COINBASE",
            "created": 2,
            "existing": 0,
            "enabled": 2,
            "failed": 0,
            "unavailable": 0,
        }
        wait_for(lambda: {m["status"] for m in api.get("/markets").json()} == {"live"}, timeout=60, what="live")
        missing = subprocess.run([*argv, "--url", "http://127.0.0.1:9"], capture_output=True, timeout=60)
        assert missing.returncode == 1 and b"cannot reach" in missing.stderr and b"Traceback" not in missing.stderr
