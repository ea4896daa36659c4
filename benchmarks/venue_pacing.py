"""Pacing by the venues' published limits: how long starting N markets of
one venue takes when every connect and snapshot keeps to the limits (one
connection per market, as today), and what the limiter costs per turn.

The start-up is laid out on the limiter's own windows with a simulated
clock (each market connects, then fetches its snapshot where the venue needs
one), so the figures are the limits' arithmetic, not this machine's speed.
"""

from __future__ import annotations

import asyncio
import time

import translations
from benchmarks.report import Table
from level4.net.venue_limiter import MARGIN, VenueLimiter, Window

REST_VENUES = {"BINANCE", "BITSTAMP"}  # venues whose books start from a REST snapshot


def startup(venue: str, markets: int, api: str = "") -> tuple[float, float | None, float]:
    """(seconds until every market has connected, until every snapshot is
    fetched or None, the heaviest REST window seen against the budget)."""
    limits = translations.limits_for(venue, api)
    connects = Window(limits.connects, limits.connect_window * (1 + MARGIN))
    weight = Window(limits.rest_budget, limits.rest_window * (1 + MARGIN))
    scheme = translations.scheme_for(venue, api)
    path = scheme.depth_path("BTCUSDT") if venue == "BINANCE" else "/api/v2/order_book/btcusd/"  # type: ignore[attr-defined]
    cost = limits.rest_weight(path)
    connected = [connects.reserve(1, 0.0, 0.0)[0] for _ in range(markets)]
    if venue not in REST_VENUES:
        return max(connected), None, 0.0
    fetched = [weight.reserve(cost, t, t)[0] for t in connected]
    window = limits.rest_window
    heaviest = max(cost * sum(1 for t in fetched if end - window < t <= end) for end in fetched)
    return max(connected), max(fetched), heaviest / limits.rest_budget


def turn_cost(turns: int) -> tuple[float, float]:
    """Microseconds a paced frame and a paced REST call (with its settling) cost when nothing waits."""
    limits = translations.limits_for("BINANCE").scaled(sends_per_second=10**9, rest_budget=10**9)
    limiter = VenueLimiter("BINANCE", limits)

    async def measure() -> tuple[float, float]:
        started = time.perf_counter()
        for _ in range(turns):
            await limiter.send("connection")
        send = (time.perf_counter() - started) / turns * 1e6
        started = time.perf_counter()
        for _ in range(turns):
            limiter.settled(await limiter.rest(50))
        return send, (time.perf_counter() - started) / turns * 1e6

    return asyncio.run(measure())


def run(markets: int = 500, turns: int = 100_000) -> tuple[Table, tuple[float, float]]:
    table = Table(["venue", "markets", "all connected after", "all snapshots after", "heaviest REST window"])
    for venue, api in [(name, s.api) for name in translations.names() for s in translations.schemes_of(name)]:
        connected, fetched, heaviest = startup(venue, markets, api)
        table.add(
            f"{venue} {api}".strip(),
            markets,
            f"{connected:,.1f} s",
            "-" if fetched is None else f"{fetched:,.1f} s",
            "-" if fetched is None else f"{heaviest:.0%} of the budget",
        )
    return table, turn_cost(turns)
