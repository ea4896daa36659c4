"""Markets of one venue sharing connections, in the running service against
the venue simulator over real sockets: hundreds of markets on a handful of
connections with every book equal to the venue's reference; a market
stopped is unsubscribed alone; one market's bad frame resyncs that market
alone; a cut connection resyncs its own markets and no others."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from level4.service.root import Service
from level4.simulator.server import Client
from tests.resilience.venues import fast_feeds
from tests.stream.stream_markets import same_levels
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow

MARKETS = 200
CAP = 50  # markets a connection: 200 markets, 4 connections


class SharedVenue:
    """One simulated venue with MARKETS markets in the service."""

    def __init__(self, venue: str, quote: str, service: Service, api: httpx.Client, sim: SimulatorThread) -> None:
        self.venue, self.service, self.api, self.sim = venue, service, api, sim
        api.post("/symbols", json={"symbol": quote})
        r = api.post("/exchanges", json={"name": venue, "ws_url": sim.url, "rest_url": sim.http})
        assert r.status_code == 201, r.text
        self.ids: dict[str, int] = {}  # pair -> market id
        self.symbols: dict[int, str] = {}  # market id -> venue symbol
        for pair in pairs(quote):
            base = pair.split("-")[0]
            api.post("/symbols", json={"symbol": base})
            r = api.post("/markets", json={"exchange": venue, "base_symbol": base, "quote_symbol": quote})
            assert r.status_code == 201, r.text
            self.ids[pair] = r.json()["id"]
        for market_id in self.ids.values():
            r = api.patch(f"/markets/{market_id}", json={"level4_feed_enabled": True})
            assert r.status_code == 200, r.text
        for symbol, market in sim.sim.markets.items():
            self.symbols[self.ids[market.instrument.pair]] = symbol

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

    def push(self, client: Client, frame: dict[str, Any]) -> None:
        self.sim.loop.call_soon_threadsafe(client.outbox.put_nowait, orjson.dumps(frame).decode())

    def cut(self, client: Client) -> None:
        asyncio.run_coroutine_threadsafe(client.connection.close(1011, "cut"), self.sim.loop).result(5)

    # --- the service's side ------------------------------------------------------------

    def live(self, ids: Iterator[int] | list[int] | None = None) -> bool:
        board = self.service.board
        return all(board.status(i) == "live" for i in (ids if ids is not None else self.ids.values()))

    def reconnects(self) -> dict[int, int]:
        return {i: self.service.board.get(i).reconnects for i in self.ids.values()}

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
                    return bool(book["synchronised"]) and same_levels(book, reference)

                wait_for(same, timeout=10, what=f"{pair} book equals its reference")
        finally:
            self.sim.resume()


def pairs(quote: str) -> list[str]:
    return [f"S{n:03d}-{quote}" for n in range(MARKETS)]


@pytest.fixture
def coinbase(tmp_path: Path) -> Iterator[SharedVenue]:
    with ExitStack() as stack:
        stack.enter_context(fast_feeds())
        sim = stack.enter_context(SimulatorThread("COINBASE", pairs("USD"), rate=400, seed=5))
        db = f"sqlite:///{tmp_path / 'catalogue.sqlite3'}"
        service, base = stack.enter_context(running_service(db, subscriptions_per_connection=CAP))
        api = stack.enter_context(httpx.Client(base_url=base, timeout=30))
        venue = SharedVenue("COINBASE", "USD", service, api, sim)
        wait_for(venue.live, timeout=60, what=f"{MARKETS} markets live")
        yield venue


def test_hundreds_of_markets_ride_a_handful_of_connections(coinbase: SharedVenue) -> None:
    assert len(coinbase.clients()) == MARKETS // CAP
    assert all(n == 1 for n in coinbase.subscribed().values())
    assert len(coinbase.subscribed()) == MARKETS
    coinbase.all_books_equal()
    riding: dict[str, int] = {}  # as GET /markets tells it: connection -> markets
    for market in coinbase.api.get("/markets").json():
        riding[market["connection"]] = riding.get(market["connection"], 0) + 1
    assert sorted(riding.values()) == [CAP] * (MARKETS // CAP), riding
    assert all(name.startswith("COINBASE#") for name in riding)
    one = coinbase.api.get(f"/markets/{coinbase.ids['S000-USD']}").json()
    assert one["connection"] in riding
    metrics = coinbase.api.get("/metrics").text
    assert 'level4_venue_connections{exchange="COINBASE"} 4.0' in metrics
    assert metrics.count("level4_connection_subscriptions{") == MARKETS // CAP


def test_stopping_a_market_unsubscribes_it_alone(coinbase: SharedVenue) -> None:
    gone = coinbase.ids["S007-USD"]
    symbol = coinbase.symbols[gone]
    before = coinbase.reconnects()
    r = coinbase.api.patch(f"/markets/{gone}", json={"level4_feed_enabled": False})
    assert r.status_code == 200, r.text
    wait_for(lambda: symbol not in coinbase.subscribed(), what="unsubscribed at the venue")
    assert len(coinbase.subscribed()) == MARKETS - 1
    assert len(coinbase.clients()) == MARKETS // CAP  # its connection stays for the others
    assert coinbase.api.get(f"/markets/{gone}").json()["connection"] is None
    others = [i for i in coinbase.ids.values() if i != gone]
    assert coinbase.live(others)
    after = coinbase.reconnects()
    assert all(after[i] == before[i] for i in others)
    coinbase.all_books_equal()


def test_one_markets_bad_frame_resyncs_that_market_alone(coinbase: SharedVenue) -> None:
    victim = coinbase.ids["S042-USD"]
    symbol = coinbase.symbols[victim]
    before = coinbase.reconnects()
    resyncs = coinbase.service.board.get(victim).resyncs
    # A change with no size: unreadable, so whatever it changed is lost for this book.
    bad = {"type": "l2update", "product_id": symbol, "changes": [["buy", "1.00"]], "time": "2026-01-01T00:00:00Z"}
    coinbase.push(coinbase.client_of(symbol), bad)
    wait_for(lambda: coinbase.service.board.get(victim).resyncs > resyncs, what="the market resynchronised")
    wait_for(lambda: coinbase.live(), timeout=20, what="every market live again")
    after = coinbase.reconnects()
    assert after[victim] == before[victim] + 1  # its subscription renewed
    assert all(after[i] == before[i] for i in coinbase.ids.values() if i != victim)
    assert len(coinbase.clients()) == MARKETS // CAP  # no connection was renewed
    assert all(n == 1 for n in coinbase.subscribed().values()) and len(coinbase.subscribed()) == MARKETS
    coinbase.all_books_equal()


def test_a_cut_connection_resyncs_its_markets_and_no_others(coinbase: SharedVenue) -> None:
    client = coinbase.client_of(coinbase.symbols[coinbase.ids["S100-USD"]])
    on_it = {i for i, s in coinbase.symbols.items() if s in client.session.subscribed}
    assert len(on_it) == CAP
    before = coinbase.reconnects()
    coinbase.cut(client)
    wait_for(lambda: all(coinbase.reconnects()[i] > before[i] for i in on_it), what="its markets reconnecting")
    wait_for(lambda: coinbase.live(), timeout=30, what="every market live again")
    after = coinbase.reconnects()
    assert all(after[i] == before[i] + 1 for i in on_it)
    assert all(after[i] == before[i] for i in coinbase.ids.values() if i not in on_it)
    assert len(coinbase.clients()) == MARKETS // CAP
    coinbase.all_books_equal()
