"""Simulated venues with faults, plugged into one running service: switch
faults on and off, watch a market's counters, compare its book with the
venue's reference."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest

import level4.net.venue_connection
import level4.simulator.faults
import translations
from level4.market.status_board import MarketState
from level4.service.root import Service
from tests.simulator.test_end_to_end_venues import VENUES

__all__ = ["VENUES", "FaultyVenue", "StatusLog", "fast_feeds", "same_book"]
from tests.support import SimulatorThread, wait_for
from translations.protocol import MarketType

STALE_AFTER = 1.5  # seconds: the watchdog limit every scheme gets here, so stalls cost little time


def same_book(book: dict[str, Any], reference: dict[str, Any], depth: int | None) -> bool:
    """Synchronised and equal, level by level, to the depth the venue shows; by
    value, as venues that send JSON numbers drop trailing zeros."""

    def values(levels: list[list[Any]]) -> list[tuple[Decimal, Decimal]]:
        return [(Decimal(str(lv[0])), Decimal(str(lv[1]))) for lv in levels[:depth]]

    return bool(book["synchronised"]) and all(values(book[s]) == values(reference[s]) for s in ("bids", "asks"))


@contextmanager
def fast_feeds() -> Iterator[None]:
    """Shorter clocks everywhere, so a test sees many faults and recoveries in
    seconds: the stale-feed watchdog, keep-alive pings (a quiet venue must
    still look alive to the watchdog), reconnect backoff, REST timeout and
    the simulator's slow subscribe (held less than the watchdog allows)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in translations.names():
            scheme = translations.scheme_for(name)
            mp.setattr(scheme, "stale_after", STALE_AFTER)
            if scheme.ping_interval:
                mp.setattr(scheme, "ping_interval", STALE_AFTER / 4)
        mp.setattr(level4.net.venue_connection, "RECONNECT_BASE", 0.05)
        mp.setattr(level4.net.venue_connection, "RECONNECT_CAP", 0.5)
        mp.setattr(level4.net.venue_connection, "REST_TIMEOUT", 1.0)
        mp.setattr(level4.simulator.faults, "SLOW_SUBSCRIBE", STALE_AFTER * 0.5)
        mp.setattr(level4.simulator.faults, "REST_HANG", 3.0)
        yield


@dataclass
class StatusLog:
    """The status events one market publishes, as (status, reason)."""

    market_id: int
    events: list[tuple[str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("market_id") == self.market_id and event.get("channel") == "status":
            with self.lock:
                self.events.append((str(event.get("status")), event.get("reason")))

    def since(self, start: int) -> list[tuple[str, str | None]]:
        with self.lock:
            return list(self.events[start:])

    def __len__(self) -> int:
        with self.lock:
            return len(self.events)


class FaultyVenue:
    """One simulated venue with one market on it in the service."""

    def __init__(self, venue: str, service: Service, api: httpx.Client, stack: ExitStack, rate: float = 200) -> None:
        base, quote, kind, depth = VENUES[venue]
        self.venue, self.pair, self.depth = venue, f"{base}-{quote}", depth
        self.sim = stack.enter_context(
            SimulatorThread(venue, [self.pair], rate=rate, seed=11, market_type=MarketType(kind))
        )
        self.service, self.api = service, api
        for symbol in (base, quote):
            api.post("/symbols", json={"symbol": symbol})  # 409 when another venue made it first
        r = api.post("/exchanges", json={"name": venue, "ws_url": self.sim.url, "rest_url": self.sim.http})
        assert r.status_code == 201, r.text
        r = api.post(
            "/markets", json={"exchange": venue, "base_symbol": base, "quote_symbol": quote, "market_type": kind}
        )
        assert r.status_code == 201, r.text
        self.market_id: int = r.json()["id"]
        self.statuses = StatusLog(self.market_id)
        stack.callback(service.hub.subscribe(self.statuses))

    # --- the venue ---------------------------------------------------------------------

    def faults(self, clear: bool = False, **rates: float) -> dict[str, Any]:
        params: dict[str, Any] = {"clear": 1} if clear else {}
        r = httpx.get(f"{self.sim.http}/control/faults", params={**params, **rates})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def injected(self, fault: str) -> int:
        return int(self.faults()["injected"].get(fault, 0))

    # --- the market --------------------------------------------------------------------

    def state(self) -> MarketState:
        return self.service.board.get(self.market_id)

    def status(self) -> str:
        return str(self.state().status)

    def enable(self, on: bool = True) -> None:
        r = self.api.patch(f"/markets/{self.market_id}", json={"level4_feed_enabled": on})
        assert r.status_code == 200, r.text

    def book(self) -> dict[str, Any]:
        r = self.api.get(f"/markets/{self.market_id}/book")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def assert_book_honest(self) -> None:
        """An unsynchronised book is served empty, never as good."""
        book = self.book()
        assert book["synchronised"] or (book["bids"] == [] and book["asks"] == [] and book["reason"]), book

    def recover(self, timeout: float = 20.0) -> None:
        """Faults off: once no stalled connection is left and the market is
        live, the frozen venue's reference book and the served one must agree."""
        self.faults(clear=True)
        wait_for(
            lambda: (lambda f: f["stalled"] + f["cut"] == 0)(self.faults()),
            timeout=timeout,
            what=f"{self.venue}: faulted sockets closed",
        )
        wait_for(lambda: self.status() == "live", timeout=timeout, what=f"{self.venue} live again")
        self.sim.pause()
        try:
            reference = self.sim.reference(self.pair)
            wait_for(
                lambda: same_book(self.book(), reference, self.depth),
                timeout=10,
                what=f"{self.venue} book equals its reference",
            )
        finally:
            self.sim.resume()
