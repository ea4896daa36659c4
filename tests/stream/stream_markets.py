"""Registering simulated venues' markets through the API, as a user would."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.support import SimulatorThread, wait_for


def add_market(
    api: httpx.Client,
    venue: str,
    sim: SimulatorThread,
    base: str,
    quote: str,
    start: bool = True,
    market_type: str = "SPOT",
) -> dict[str, Any]:
    for symbol in (base, quote):
        api.post("/symbols", json={"symbol": symbol})  # 409 when it exists already
    api.post("/exchanges", json={"name": venue, "ws_url": sim.url, "rest_url": sim.http})
    body = {"exchange": venue, "base_symbol": base, "quote_symbol": quote, "market_type": market_type}
    r = api.post("/markets", json=body)
    assert r.status_code == 201, r.text
    market: dict[str, Any] = r.json()
    if start:
        assert api.patch(f"/markets/{market['id']}", json={"level4_feed_enabled": True}).status_code == 200
        wait_for(lambda: api.get(f"/markets/{market['id']}").json()["status"] == "live", what=f"{venue} live")
    return market


def values(levels: list[list[Any]], depth: int | None = None) -> list[tuple[Decimal, Decimal]]:
    """Levels by value: venues that send JSON numbers drop trailing zeros."""
    return [(Decimal(lv[0]), Decimal(lv[1])) for lv in levels[:depth]]


def same_levels(book: dict[str, Any], reference: dict[str, Any], depth: int | None = None) -> bool:
    return all(values(book[side], depth) == values(reference[side], depth) for side in ("bids", "asks"))
