"""The catalogue database goes away mid-run and comes back: the connection to
PostgreSQL runs through a TCP proxy in this test, which cuts it (the shared
server itself is never touched). Control calls answer 503 with a clear
error, running feeds are untouched and their books still served, and everything works
again once the connection returns."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.resilience.pg import private_schema
from tests.resilience.venues import FaultyVenue, fast_feeds, same_book
from tests.support import running_service, wait_for
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def proxied_postgres() -> Iterator[tuple[str, TcpProxy]]:
    """A schema of this test's own, reached only through a proxy."""
    with private_schema() as url:
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        try:
            yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
        finally:
            proxy.close()


def test_database_outage_answers_503_leaves_feeds_running_and_recovers(
    proxied_postgres: tuple[str, TcpProxy],
) -> None:
    url, proxy = proxied_postgres
    with fast_feeds(), ExitStack() as stack:
        service, base = stack.enter_context(running_service(url))
        api = stack.enter_context(httpx.Client(base_url=base, timeout=30))
        venue = FaultyVenue("COINBASE", service, api, stack)
        venue.enable()
        wait_for(lambda: venue.status() == "live", what="live")

        proxy.cut()
        frames = venue.state().frames
        started = time.monotonic()
        for method, path, body in [
            ("GET", "/markets", None),
            ("GET", f"/markets/{venue.market_id}", None),
            ("GET", "/symbols", None),
            ("POST", "/symbols", {"symbol": "ETH"}),
            ("PATCH", f"/markets/{venue.market_id}", {"level4_feed_enabled": False}),
            ("DELETE", f"/markets/{venue.market_id}", None),
            ("GET", "/health", None),
        ]:
            r = api.request(method, path, json=body)
            assert r.status_code == 503, (method, path, r.status_code, r.text)
            answer = r.json()
            if path == "/health":
                assert answer["database"] == "unavailable" and "unavailable" in answer["detail"]
            else:
                assert answer["error"] == "unavailable", answer
                assert "database is unavailable" in answer["detail"], answer
        assert time.monotonic() - started < 30, "each refusal is prompt"
        # the feed never noticed: frames still flow, the market is live, its book is good
        wait_for(lambda: venue.state().frames > frames + 20, what="frames flowing during the outage")
        assert venue.status() == "live" and venue.state().restarts == 0
        # books live in memory: a running market's book is still served, and exact
        venue.sim.pause()
        reference = venue.sim.reference(venue.pair)
        wait_for(lambda: same_book(venue.book(), reference, None), what="the book served during the outage")
        venue.sim.resume()
        assert api.get("/markets/99999/book").status_code == 503  # no running market: the catalogue must say

        proxy.restore()
        wait_for(lambda: api.get("/markets").status_code == 200, timeout=30, what="the catalogue back")
        assert api.get("/health").json()["database"] == "ok"
        assert api.post("/symbols", json={"symbol": "ETH"}).status_code == 201
        venue.recover()
        # the desired state was never changed by the refused PATCH and DELETE
        market = api.get(f"/markets/{venue.market_id}").json()
        assert market["level4_feed_enabled"] is True and market["status"] == "live"
        r = api.patch(f"/markets/{venue.market_id}", json={"level4_feed_enabled": False})
        assert r.status_code == 200 and r.json()["status"] == "stopped"
