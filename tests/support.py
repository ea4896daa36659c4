"""Test support: a simulated venue on a thread, the service in-process, waits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from level4.config import Settings
from level4.service.root import Service
from level4.simulator.server import VenueSimulator


def _tries(predicate: Callable[[], Any], timeout: float, what: str) -> Iterator[None]:
    """One turn a check of `predicate`, and after the deadline the failure saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        yield
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
    for _ in _tries(predicate, timeout, what):
        value = predicate()
        if value:
            return value
        time.sleep(interval)


async def until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02, what: str = "") -> Any:
    """`wait_for` sleeping on the event loop, so that the loop's own work (a client reading) goes on."""
    for _ in _tries(predicate, timeout, what):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(interval)


class SimulatorThread:
    """A VenueSimulator serving from its own event loop thread."""

    def __init__(self, venue: str, symbols: list[str], rate: float = 200.0, seed: int = 1, **kw: Any) -> None:
        self.sim = VenueSimulator(venue, symbols, rate=rate, seed=seed, **kw)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> SimulatorThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.sim.port}/"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.sim.port}"

    def pause(self) -> None:
        httpx.get(f"{self.http}/control/pause").raise_for_status()

    def resume(self) -> None:
        httpx.get(f"{self.http}/control/resume").raise_for_status()

    def reference(self, symbol: str) -> dict[str, Any]:
        response = httpx.get(f"{self.http}/reference", params={"symbol": symbol})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def running_service(db_url: str, **overrides: Any) -> Iterator[tuple[Service, str]]:
    settings = Settings(host="127.0.0.1", port=0, database_url=db_url, api_token=None)
    settings.market_max_restarts = 3
    settings.market_restart_window = 30.0
    for key, value in overrides.items():
        setattr(settings, key, value)
    service = Service(settings)
    service.start()
    try:
        yield service, f"http://127.0.0.1:{service.http_port()}"
    finally:
        service.stop()


def books_equal(book: dict[str, Any], reference: dict[str, Any]) -> bool:
    return bool(book["synchronised"]) and book["bids"] == reference["bids"] and book["asks"] == reference["asks"]


def settle_and_compare(sim: SimulatorThread, fetch_book: Callable[[], dict[str, Any]], symbol: str) -> dict[str, Any]:
    """Freeze the venue, wait until the service has caught up, return its book
    (asserting it equals the reference exactly)."""
    sim.pause()
    reference = sim.reference(symbol)
    wait_for(lambda: books_equal(fetch_book(), reference), what="book == reference")
    return fetch_book()
