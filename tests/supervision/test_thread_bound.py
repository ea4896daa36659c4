"""500 live market trees on the scheduler pool: the process's threads stay bounded.

Six actors a market used to be six OS threads a market (3,000 here); on the
pool the count does not grow with the markets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from level4.market.hub import EventHub
from level4.market.registry import Registry
from level4.market.status_board import Status, StatusBoard
from level4.net.ioloop import IOLoop
from level4.service.markets import MarketControl
from level4.supervision import Supervisor, scheduler, stop_quietly
from tests.support import SimulatorThread, wait_for

pytestmark = pytest.mark.slow

MARKETS = 500
THREAD_LIMIT = 64


@pytest.fixture(scope="module", autouse=True)
def io_loop() -> None:
    IOLoop.get()  # the process's shared socket loop, started before the leftover-thread check looks


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.fixture
def venue() -> Iterator[SimulatorThread]:
    with SimulatorThread("coinbase", [f"B{n:04d}-USD" for n in range(MARKETS)], rate=50) as sim:
        yield sim


def test_threads_stay_bounded_with_500_market_trees(venue: SimulatorThread) -> None:
    pool = scheduler.pool()
    if pool is None:
        pytest.skip("LEVEL4_SCHEDULERS=0: a thread per actor was asked for")
    board = StatusBoard()
    markets = Supervisor.start(child_name="markets")
    control = MarketControl(lambda: markets.proxy(), Registry(), board, EventHub(), 3, 30.0, timeout=60)
    try:
        before = os_threads()
        for n in range(MARKETS):
            market: dict[str, Any] = {
                "id": n + 1,
                "tag": f"COINBASE-SPOT-B{n:04d}-USD",
                "exchange": "COINBASE",
                "base_symbol": f"B{n:04d}",
                "quote_symbol": "USD",
                "market_type": "SPOT",
                "ws_url": venue.url,
                "rest_url": venue.http,
            }
            control.start(market)
        trees = len(markets.proxy().which_children().get(timeout=30))
        wait_for(
            lambda: all(board.status(n + 1) is Status.LIVE for n in range(MARKETS)),
            timeout=120,
            interval=0.2,
            what=f"{MARKETS} markets live",
        )
        running_os, running_py = os_threads(), threading.active_count()
    finally:
        assert stop_quietly(markets, 120)
    assert trees == MARKETS
    # 3,000 actors, and no more threads than the pool, its compensating workers, the socket
    # loop, the simulator and the test's own.
    assert running_os < THREAD_LIMIT, f"{running_os} OS threads for {MARKETS} markets (before: {before})"
    assert running_py < THREAD_LIMIT
    assert running_os - before <= pool.max_threads
