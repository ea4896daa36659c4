"""Every venue end to end: its simulator dialect over a real socket into the
running service, the book served equal to the venue's reference book."""

from __future__ import annotations

from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

import translations
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow

# venue -> (base, quote, market type, levels the venue shows per side or None for all)
VENUES: dict[str, tuple[str, str, str, int | None]] = {
    "BINANCE": ("BTC", "USDT", "SPOT", None),
    "BITFINEX": ("BTC", "USD", "SPOT", 25),
    "BITFLYER": ("BTC", "JPY", "SPOT", None),
    "BITMEX": ("BTC", "USD", "PERP", None),
    "BITSTAMP": ("BTC", "USD", "SPOT", None),
    "BYBIT": ("BTC", "USDT", "PERP", 50),
    "COINBASE": ("BTC", "USD", "SPOT", None),
    "DERIBIT": ("BTC", "USD", "PERP", None),
    "GEMINI": ("BTC", "USD", "SPOT", None),
    "HITBTC": ("BTC", "USDT", "SPOT", None),
    "KRAKEN": ("BTC", "USD", "SPOT", 25),
    "OKX": ("BTC", "USDT", "SPOT", None),
    "POLONIEX": ("BTC", "USDT", "SPOT", 20),
}


def test_the_table_covers_every_venue() -> None:
    assert sorted(VENUES) == translations.names()


def values(levels: list[list[Any]], depth: int | None) -> list[tuple[Decimal, Decimal]]:
    """By value: venues that send JSON numbers drop trailing zeros ("50000.10" -> 50000.1);
    a level may carry its order count after price and size."""
    return [(Decimal(lv[0]), Decimal(lv[1])) for lv in levels[:depth]]


def same_book(book: dict[str, Any], reference: dict[str, Any], depth: int | None) -> bool:
    if not book["synchronised"]:
        return False
    return all(values(book[side], depth) == values(reference[side], depth) for side in ("bids", "asks"))


def test_every_venue_end_to_end(tmp_path: Path) -> None:
    with ExitStack() as stack:
        sims = {
            venue: stack.enter_context(
                SimulatorThread(
                    venue, [f"{base}-{quote}"], rate=100, seed=7, market_type=translations.protocol.MarketType(kind)
                )
            )
            for venue, (base, quote, kind, _depth) in VENUES.items()
        }
        service, url = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'all.sqlite3'}"))
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        for symbol in ("BTC", "USD", "USDT", "JPY"):
            assert api.post("/symbols", json={"symbol": symbol}).status_code == 201
        ids: dict[str, int] = {}
        for venue, (base, quote, kind, _depth) in VENUES.items():
            sim = sims[venue]
            r = api.post("/exchanges", json={"name": venue, "ws_url": sim.url, "rest_url": sim.http})
            assert r.status_code == 201, r.text
            r = api.post(
                "/markets", json={"exchange": venue, "base_symbol": base, "quote_symbol": quote, "market_type": kind}
            )
            assert r.status_code == 201, r.text
            ids[venue] = r.json()["id"]
            assert api.patch(f"/markets/{ids[venue]}", json={"level4_feed_enabled": True}).status_code == 200

        def statuses() -> dict[str, str]:
            return {venue: api.get(f"/markets/{i}").json()["status"] for venue, i in ids.items()}

        wait_for(lambda: set(statuses().values()) == {"live"}, timeout=30, what="every venue live")

        for sim in sims.values():
            sim.pause()
        failures: dict[str, str] = {}
        for venue, (base, quote, _kind, depth) in VENUES.items():
            reference = sims[venue].reference(f"{base}-{quote}")
            try:
                wait_for(
                    lambda v=venue, ref=reference, d=depth: same_book(
                        api.get(f"/markets/{ids[v]}/book").json(), ref, d
                    ),
                    timeout=10,
                    what=f"{venue} book equals its reference",
                )
            except AssertionError as exc:
                failures[venue] = str(exc)
        assert failures == {}
        for venue, i in ids.items():
            state = service.board.get(i)
            assert state.malformed == 0, venue
            assert state.frames > 0, venue
