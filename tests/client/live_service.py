"""What the client tests share: a simulated venue feeding the service, async
waits that leave the event loop free for the client, and comparisons of a
mirror with the service's book and the venue's reference."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from level4.client import BookMirror, BookView, Level, SyncBook
from level4.service.root import Service
from tests.stream.markets import add_market, values
from tests.support import SimulatorThread, running_service

SYMBOL = "BTC-USD"


@dataclass
class Live:
    service: Service
    base: str
    api: httpx.Client
    sim: SimulatorThread
    market: dict[str, Any]

    @property
    def tag(self) -> str:
        return str(self.market["tag"])

    def served(self) -> dict[str, Any]:
        body: dict[str, Any] = self.api.get(f"/markets/{self.market['id']}/book").json()
        return body


@contextmanager
def live_venue(
    tmp_path: Path, venue: str = "coinbase", name: str = "COINBASE", rate: float = 400, **overrides: Any
) -> Iterator[Live]:
    """A simulated venue, the service in-process, and the venue's BTC-USD market live."""
    headers = {"Authorization": f"Bearer {overrides['api_token']}"} if overrides.get("api_token") else {}
    with (
        SimulatorThread(venue, [SYMBOL], rate=rate) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}", **overrides) as (service, base),
        httpx.Client(base_url=base, timeout=10, headers=headers) as api,
    ):
        market = add_market(api, name, sim, "BTC", "USD")
        yield Live(service, base, api, sim, market)


async def until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Like tests.support.wait_for, but sleeping on the event loop so the client keeps reading."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


def levels(view: BookView) -> dict[str, list[tuple[Decimal, Decimal]]]:
    return {"bids": [tuple(lv) for lv in view.bids], "asks": [tuple(lv) for lv in view.asks]}  # type: ignore[misc]


def same_book(view: BookView, book: dict[str, Any]) -> bool:
    """The mirror holds exactly the levels of a served or reference book (by value:
    venues that send JSON numbers drop trailing zeros)."""
    return view.synchronised and levels(view) == {side: values(book[side]) for side in ("bids", "asks")}


def exact_now(live: Live, mirror: BookMirror | SyncBook) -> bool:
    """Mirror == the service's book == the venue's reference (the venue paused)."""
    reference = live.sim.reference(SYMBOL)
    served = live.served()
    view = mirror.view()
    return served["synchronised"] and same_book(view, served) and same_book(view, reference)


def as_strings(levels: list[Level]) -> list[list[str]]:
    return [[str(lv.price), str(lv.size)] for lv in levels]
