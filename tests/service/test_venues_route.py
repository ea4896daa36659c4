"""GET /venues over the real service, fed by simulated venues over real sockets:
the markets of a venue that shares connections ride one connection (within its
cap), a venue that cannot share gives each market one of its own, and the
limiter tells what it used of each limit and, when the venue refuses (its
HTTP 429 with Retry-After), the backoff with the venue's reason."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

import translations
from tests.metrics.samples import parse
from tests.stream.stream_markets import add_market
from tests.support import SimulatorThread, running_service, wait_for
from translations.protocol import MarketType

PERP = MarketType.PERP


def by_venue(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """Each venue API of the default egress, by its venue's name (and `/api` but for the first API)."""
    r = api.get("/venues")
    assert r.status_code == 200, r.text
    return {v["venue"] + (f"/{v['api']}" if v["api"] else ""): v for v in r.json() if v["egress"] == ""}


def test_venues_tell_connections_caps_limits_and_backoff(tmp_path: Path) -> None:
    with ExitStack() as stack:
        binance = stack.enter_context(SimulatorThread("binance", ["BTC-USDT", "ETH-USDT"], rate=50, seed=7))
        # Kraken Futures cannot share a connection (one book feed per connection): each market has its own.
        futures = stack.enter_context(SimulatorThread("kraken", ["BTC-USD"], rate=50, seed=8, market_type=PERP))
        _service, base = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}"))
        api = stack.enter_context(httpx.Client(base_url=base, timeout=10))

        own = add_market(api, "KRAKEN", futures, "BTC", "USD", market_type="PERP")
        # Binance refuses every snapshot (any weight is over a budget of 1) with a Retry-After of 3 s.
        httpx.get(f"{binance.http}/control/limits", params={"rest_budget": 1, "rest_window": 3}).raise_for_status()
        # One market at first: a second snapshot in flight when the 429 comes would earn a ban (418).
        first = add_market(api, "BINANCE", binance, "BTC", "USDT", start=False)
        assert api.patch(f"/markets/{first['id']}", json={"level4_feed_enabled": True}).status_code == 200

        def backing_off() -> dict[str, Any] | None:
            limiter = by_venue(api).get("BINANCE", {}).get("limiter")
            return limiter["backoff"] if limiter else None

        seen: list[dict[str, Any]] = []

        def backoff_seen() -> bool:
            backoff = backing_off()
            if backoff is not None:
                seen.append(backoff)
            return bool(seen)

        wait_for(backoff_seen, timeout=20, what="Binance backed off")
        backoff = seen[0]
        assert "HTTP 429" in backoff["reason"], backoff
        assert 0 < backoff["seconds"] <= 3.5 and backoff["until"] > 0
        refused = by_venue(api)["BINANCE"]["limiter"]
        assert refused["totals"]["refusals"] >= 1

        published = translations.limits_for("BINANCE")
        restored = {"rest_budget": published.rest_budget, "rest_window": published.rest_window, "clear": 1}
        httpx.get(f"{binance.http}/control/limits", params=restored).raise_for_status()
        wait_for(lambda: api.get(f"/markets/{first['id']}").json()["status"] == "live", timeout=30, what="live")
        shared = [first, add_market(api, "BINANCE", binance, "ETH", "USDT")]
        wait_for(lambda: backing_off() is None, timeout=10, what="the backoff over")

        venues = by_venue(api)
        conns = venues["BINANCE"]["connections"]
        assert len(conns) == 1, conns  # both markets on one shared connection
        (conn,) = conns
        assert conn["shared"] is True and conn["state"] == "open"
        assert conn["subscriptions"] == 2 and conn["subscribed"] == 2
        assert conn["cap"] >= 2 and conn["name"].startswith("BINANCE#") and conn["url"] == binance.url
        assert api.get(f"/markets/{shared[0]['id']}").json()["connection"] == conn["name"]
        limiter = venues["BINANCE"]["limiter"]
        assert limiter["connect"]["used"] >= 1 and limiter["connect"]["limit"] > limiter["connect"]["used"]
        assert limiter["rest"]["used"] >= 2  # the two snapshots at least, by their weight
        assert limiter["rest"]["left"] == limiter["rest"]["limit"] - limiter["rest"]["used"]
        assert limiter["rest"]["window_seconds"] == 60 and limiter["send"]["window_seconds"] == 1
        assert limiter["send"]["used"] >= 1 and limiter["send"]["connections"] == 1  # its subscribe frame
        assert {k: limiter[k]["queued"] for k in ("connect", "send", "rest")} == {"connect": 0, "send": 0, "rest": 0}

        (mine,) = venues["KRAKEN/futures"]["connections"]  # a venue that cannot share: the market's own
        assert mine == {
            "name": own["tag"],
            "url": futures.url,
            "shared": False,
            "state": "open",
            "subscriptions": 1,
            "subscribed": 1,
            "cap": 1,
            "resubscribes": 0,
        }
        assert venues["KRAKEN/futures"]["limiter"]["connect"]["used"] >= 1

        # /metrics tells the same
        samples = parse(api.get("/metrics").text)

        def sample(name: str, **labels: str) -> float:
            return samples[(name, frozenset(labels.items()))]

        assert sample("level4_venue_connections", exchange="BINANCE") == 1
        assert sample("level4_venue_connections", exchange="KRAKEN") == 1
        assert sample("level4_connection_subscriptions", exchange="BINANCE", connection=conn["name"]) == 2
        assert sample("level4_connection_capacity", exchange="BINANCE", connection=conn["name"]) == conn["cap"]
        assert sample("level4_connection_capacity", exchange="KRAKEN", connection=own["tag"]) == 1
        assert sample("level4_connection_open", exchange="KRAKEN", connection=own["tag"]) == 1
        lv = {"venue": "BINANCE", "api": "", "egress": ""}
        assert sample("level4_venue_limit_used", **lv, kind="rest") == limiter["rest"]["used"]

        # a market stopped: its own connection is gone, and the shared one carries one market less
        assert api.patch(f"/markets/{own['id']}", json={"level4_feed_enabled": False}).status_code == 200
        assert api.patch(f"/markets/{shared[1]['id']}", json={"level4_feed_enabled": False}).status_code == 200
        wait_for(lambda: by_venue(api)["KRAKEN/futures"]["connections"] == [], what="Kraken Futures' connection closed")
        wait_for(
            lambda: [c["subscriptions"] for c in by_venue(api)["BINANCE"]["connections"]] == [1],
            what="one market left on Binance's connection",
        )
