"""A cut shared connection resubscribes at once: its new socket's subscribe
does not wait out the pace of the socket before it (venues count messages per
connection), and Binance asks for the snapshot as soon as the subscribe has
gone out, so the market is live again well within one send interval. Over
real sockets against the simulator, which enforces the venue's limits."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

import translations.binance
from tests.stream.stream_markets import add_market
from tests.support import SimulatorThread, running_service, wait_for

# One frame a second on a connection (the limiter spreads them over 1.1 s): far longer than a
# resync takes, so a subscribe that waited out the pace of the socket before it would show.
INTERVAL = 1.1


def test_a_cut_connection_subscribes_again_at_once_and_refetches_its_snapshot(tmp_path: Path) -> None:
    with ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setattr(translations.binance, "limits", translations.binance.limits.scaled(sends_per_second=1))
        sim = stack.enter_context(SimulatorThread("binance", ["BTC-USDT"], rate=50, seed=11))
        service, base = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}"))
        api = stack.enter_context(httpx.Client(base_url=base, timeout=10))
        market = add_market(api, "BINANCE", sim, "BTC", "USDT")  # live: its subscribe went just now

        def live_again_after_a_cut() -> float:
            before = service.board.get(market["id"]).reconnects
            (client,) = list(sim.sim.clients)
            cut_at = time.monotonic()
            asyncio.run_coroutine_threadsafe(client.connection.close(1011, "cut"), sim.loop).result(5)
            wait_for(lambda: service.board.get(market["id"]).reconnects > before, what="the cut seen")
            wait_for(lambda: service.board.status(market["id"]) == "live", timeout=INTERVAL * 2, what="live again")
            return time.monotonic() - cut_at

        # Twice in a row, each within the send interval of the subscribe before it.
        for _ in range(2):
            assert live_again_after_a_cut() < INTERVAL * 0.8
        book = api.get(f"/markets/{market['id']}/book").json()
        assert book["synchronised"] and book["bids"] and book["asks"]
        limits = httpx.get(f"{sim.http}/control/limits").json()
        assert limits["refusals"] == {} or not any(limits["refusals"].values()), limits  # no limit tripped
        assert limits["peaks"]["sends"]["ratio"] <= 1.0
