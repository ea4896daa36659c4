"""`level4 console`, driven as a person would at its prompt."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import httpx
import pexpect
import pytest

from tests.service.test_end_to_end import free_port
from tests.support import SimulatorThread

pytestmark = pytest.mark.slow
PROMPT = r"In \[\d+\]: "


def test_console_manages_catalogue_and_feeds(tmp_path: Path) -> None:
    env = {**os.environ, "LEVEL4_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}", "TERM": "dumb"}
    env.pop("LEVEL4_API_TOKEN", None)
    with SimulatorThread("coinbase", ["BTC-USD"], rate=100) as sim:
        child = pexpect.spawn(
            sys.executable, ["-m", "level4", "console", "--port", "0"], env=env, encoding="utf-8", timeout=30
        )
        try:
            child.expect("level4 console")
            child.expect(PROMPT)

            def run(line: str) -> str:
                child.sendline(line)
                child.expect(PROMPT)
                return str(child.before)

            assert "'symbol': 'BTC'" in run('Query.Symbol.new("BTC")')
            run('Query.Symbol.new("USD")')
            assert "COINBASE" in run(f'Query.Exchange.new("coinbase", ws_url="{sim.url}")')
            out = run('Query.Market.new("COINBASE", "BTC", "USD", "SPOT")')
            assert "COINBASE.SPOT:BTC-USD" in out
            assert "COINBASE.SPOT:BTC-USD" in run("[m['tag'] for m in Query.Market.all()]")
            assert "Start the feed" in run("Markets.start.__doc__")

            run("Markets.start(1)")
            run("import time")
            # any() stops at the first True: waits until live, 10 s at the most
            out = run("any(Markets.status(1)[0]['status'] == 'live' or time.sleep(0.05) for _ in range(200))")
            assert "True" in out
            assert "'synchronised': True" in run("Markets.book(1, depth=2)")
            assert "'stopped'" in run("Markets.stop('all')[0]['status']")
            assert "[False]" in run("[m['level4_feed_enabled'] for m in Query.Market.all()]")
            child.sendline("exit")
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0


def _console(env: dict[str, str], *args: str) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "level4", "console", *args], env=env, encoding="utf-8", timeout=30)


def test_console_beside_a_running_service_takes_a_free_port_and_names_it(tmp_path: Path) -> None:
    env = {**os.environ, "LEVEL4_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}", "TERM": "dumb"}
    env.pop("LEVEL4_API_TOKEN", None)
    # The running service's port, configured as a service's is: the console must stay off it.
    with socket.socket() as service:
        service.bind(("127.0.0.1", 0))
        service.listen()
        taken = service.getsockname()[1]
        env["LEVEL4_PORT"] = str(taken)
        child = _console(env)
        try:
            child.expect(r"API and dashboard at http://127\.0\.0\.1:(\d+)/")
            port = int(child.match.group(1))
            child.expect(PROMPT)
            assert port != taken
            assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
            child.sendline("Query.Symbol.new('BTC')")
            child.expect(PROMPT)
            assert httpx.get(f"http://127.0.0.1:{port}/symbols", timeout=5).json()[0]["symbol"] == "BTC"
            child.sendline("exit")
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0


def test_console_port_option_serves_there(tmp_path: Path) -> None:
    env = {**os.environ, "LEVEL4_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}", "TERM": "dumb"}
    env.pop("LEVEL4_API_TOKEN", None)
    port = free_port()
    child = _console(env, "--port", str(port))
    try:
        child.expect(f"API and dashboard at http://127.0.0.1:{port}/")
        child.expect(PROMPT)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
