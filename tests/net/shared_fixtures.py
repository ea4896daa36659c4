"""One simulated venue's markets in one running service, for the tests of shared
connections: the set-up (simulator, service, catalogue, markets enabled and live)
and what those tests look at on the venue's side and on the service's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from level4.service.root import Service
from level4.simulator.server import Client
from tests.stream.stream_markets import same_levels
from tests.support import SimulatorThread, running_service, wait_for


class SharedVenue:
    """One simulated venue with its markets (one a pair) created and enabled in the service."""

    def __init__(
        self, name: str, quote: str, pairs: list[str], depth: int | None,
        service: Service, api: httpx.Client, sim: SimulatorThread,
    ) -> None:  # fmt: skip
        self.name, self.quote, self.depth = name, quote, depth  # depth: levels a side compared
        self.service, self.api, self.sim = service, api, sim
        api.post("/symbols", json={"symbol": quote})
        r = api.post("/exchanges", json={"name": name, "ws_url": sim.url, "rest_url": sim.http})
        assert r.status_code == 201, r.text
        self.ids: dict[str, int] = {}  # pair -> market id
        for pair in pairs:
            base = pair.split("-")[0]
            api.post("/symbols", json={"symbol": base})
            r = api.post("/markets", json={"exchange": name, "base_symbol": base, "quote_symbol": quote})
            assert r.status_code == 201, r.text
            self.ids[pair] = r.json()["id"]
        for market_id in self.ids.values():
            r = api.patch(f"/markets/{market_id}", json={"level4_feed_enabled": True})
            assert r.status_code == 200, r.text
        # market id -> venue symbol
        self.symbols: dict[int, str] = {self.ids[m.instrument.pair]: s for s, m in sim.sim.markets.items()}

    # --- the venue's side ------------------------------------------------------------

    def clients(self) -> list[Client]:
        return list(self.sim.sim.clients)

    def subscribed(self) -> dict[str, int]:
        """Venue symbol -> how many connections carry it."""
        out: dict[str, int] = {}
        for client in self.clients():
            for symbol in client.session.subscribed:
                out[symbol] = out.get(symbol, 0) + 1
        return out

    def client_of(self, symbol: str) -> Client:
        (client,) = [c for c in self.clients() if symbol in c.session.subscribed]
        return client

    def in_venue(self, fn: Callable[[], None]) -> None:
        """Run on the simulator's loop, in order with the frames it sends."""
        self.sim.loop.call_soon_threadsafe(fn)

    def push(self, client: Client, frame: Any) -> None:
        self.sim.loop.call_soon_threadsafe(client.outbox.put_nowait, orjson.dumps(frame).decode())

    def cut(self, client: Client) -> None:
        asyncio.run_coroutine_threadsafe(client.connection.close(1011, "cut"), self.sim.loop).result(5)

    def limits(self) -> dict[str, Any]:
        return httpx.get(f"{self.sim.http}/control/limits").json()

    # --- the service's side ------------------------------------------------------------

    def live(self, ids: Iterable[int] | None = None) -> bool:
        board = self.service.board
        return all(board.status(i) == "live" for i in (ids if ids is not None else self.ids.values()))

    def reconnects(self) -> dict[int, int]:
        return {i: self.service.board.get(i).reconnects for i in self.ids.values()}

    def resyncs(self) -> dict[int, int]:
        return {i: self.service.board.get(i).resyncs for i in self.ids.values()}

    def all_running(self) -> None:
        """Every market enabled again and live, as each test begins."""
        for market_id in self.ids.values():
            if self.service.board.status(market_id) == "stopped":
                self.api.patch(f"/markets/{market_id}", json={"level4_feed_enabled": True})
        wait_for(self.live, timeout=60, what="every market live")

    def all_books_equal(self) -> None:
        """Freeze the venue; every served book must equal its reference."""
        self.sim.pause()
        try:
            for pair, market_id in self.ids.items():
                if self.service.board.status(market_id) == "stopped":
                    continue
                reference = self.sim.reference(pair)

                def same(market_id: int = market_id, reference: dict[str, Any] = reference) -> bool:
                    book = self.api.get(f"/markets/{market_id}/book").json()
                    return bool(book["synchronised"]) and same_levels(book, reference, self.depth)

                wait_for(same, timeout=10, what=f"{pair} book equals its reference")
        finally:
            self.sim.resume()


@contextmanager
def venue_in_service(
    name: str, quote: str, pairs: list[str], depth: int | None, folder: Path, live_timeout: float,
    simulator: dict[str, Any], service: dict[str, Any],
) -> Iterator[SharedVenue]:  # fmt: skip
    """The venue simulated (`simulator`: its options), a service (`service`: its settings)
    with a catalogue in `folder`, and every pair a market there, all live."""
    with ExitStack() as stack:
        sim = stack.enter_context(SimulatorThread(name, pairs, **simulator))
        db = f"sqlite:///{folder / 'catalogue.sqlite3'}"
        running, base = stack.enter_context(running_service(db, **service))
        api = stack.enter_context(httpx.Client(base_url=base, timeout=30))
        venue = SharedVenue(name, quote, pairs, depth, running, api, sim)
        wait_for(venue.live, timeout=live_timeout, what=f"{len(pairs)} {name} markets live")
        yield venue
