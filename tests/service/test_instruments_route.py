"""GET /exchanges/{name}/instruments: the venue's own list, fetched over REST through
the exchange's REST override (a simulated venue, over real sockets), cached and
refreshed; and the cache's policy on its own."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from level4.service.instrument_catalogue import InstrumentCatalogue, ListUnavailable
from tests.support import SimulatorThread, running_service


def test_the_instruments_of_an_exchange_from_its_venues_list(db_url: str) -> None:
    with (
        SimulatorThread("binance", ["BTC-USDT", "ETH-BTC"]) as sim,
        running_service(db_url) as (_service, base),
        httpx.Client(base_url=base, timeout=30) as api,
    ):
        assert api.get("/exchanges/BINANCE/instruments").status_code == 404  # not in the catalogue yet
        assert api.post("/exchanges", json={"name": "BINANCE", "rest_url": sim.http}).status_code == 201

        r = api.get("/exchanges/binance/instruments", params={"type": "spot", "quote": "usdt"})
        assert r.status_code == 200, r.text
        listed = r.json()
        assert listed["exchange"] == "BINANCE" and listed["refresh_error"] is None
        assert listed["instruments"] == [
            {
                "symbol": "BTCUSDT",
                "base": "BTC",
                "quote": "USDT",
                "type": "SPOT",
                "api": "default",
                "tick_size": "0.01",
                "lot_size": "0.00000001",
                "expiry": None,
                "trading": True,
            }
        ]
        # The simulator speaks one of Binance's APIs: the futures lists are named as missing, not fatal.
        assert sorted(u["api"] for u in listed["unavailable"]) == ["coinm", "usdm"]
        assert all("HTTP 404" in u["reason"] for u in listed["unavailable"])

        every = api.get("/exchanges/BINANCE/instruments").json()
        assert sorted(i["symbol"] for i in every["instruments"]) == ["BTCUSDT", "ETHBTC"]
        assert every["age_seconds"] >= listed["age_seconds"]  # the cached list, not a new fetch
        assert api.get("/exchanges/BINANCE/instruments", params={"type": "PERP"}).json()["instruments"] == []

        bad = api.get("/exchanges/BINANCE/instruments", params={"type": "SWAP"})
        assert bad.status_code == 422 and bad.json()["field"] == "type"


def test_a_venue_that_answers_no_list_is_a_clear_502(db_url: str) -> None:
    with socket.socket() as closed:  # a port nothing listens on: the venue is down
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with running_service(db_url) as (_service, base), httpx.Client(base_url=base, timeout=30) as api:
        assert api.post("/exchanges", json={"name": "BITSTAMP", "rest_url": down}).status_code == 201
        r = api.get("/exchanges/BITSTAMP/instruments")
        assert r.status_code == 502
        assert r.json()["error"] == "list_unavailable" and "did not answer" in r.json()["detail"]


class Venue:
    """A venue's list server as the catalogue sees it: answers, or fails, per URL."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.down = False

    def __call__(self, url: str) -> Any:
        self.calls.append(url)
        if self.down:
            raise ValueError(f"{url} did not answer: refused")
        return [{"id": "BTC-USD", "base_currency": "BTC", "quote_currency": "USD", "quote_increment": "0.01"}]


def test_lists_are_cached_refreshed_and_kept_when_a_refresh_fails() -> None:
    now = [1000.0]
    venue = Venue()
    catalogue = InstrumentCatalogue(venue, ttl=60.0, clock=lambda: now[0])
    first = catalogue.lists("COINBASE", None)
    assert venue.calls == ["https://api.exchange.coinbase.com/products"]
    assert [listing.symbol for _, listing in first.listings] == ["BTC-USD"]
    now[0] += 30
    assert catalogue.lists("COINBASE", None) is first and len(venue.calls) == 1
    now[0] += 31
    venue.down = True
    stale = catalogue.lists("COINBASE", None)  # refresh failed: the last good list, saying why
    assert len(venue.calls) == 2 and stale.listings == first.listings and "refused" in (stale.refresh_error or "")
    venue.down = False
    fresh = catalogue.lists("COINBASE", None)
    assert len(venue.calls) == 3 and fresh.refresh_error is None and fresh.at == now[0]
    # an override is another cache entry, fetched from there
    catalogue.lists("COINBASE", "http://127.0.0.1:9/")
    assert venue.calls[-1] == "http://127.0.0.1:9/products"
    venue.down = True
    with pytest.raises(ListUnavailable, match="no instrument list of GEMINI"):
        catalogue.lists("GEMINI", None)
