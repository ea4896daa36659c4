"""The derivative feeds end to end: Binance USD-M and COIN-M perpetuals and
Kraken Futures, each from its simulator dialect over a real socket into the
running service, served equal to the venue's reference book; the exchange is
the venue and the market type (and quote) picks the API."""

from __future__ import annotations

from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import SimulatorThread, running_service, wait_for
from translations.protocol import MarketType

pytestmark = pytest.mark.slow

# One service per case: an exchange has one endpoint override, so each case gives each venue one API.
CASES = {
    "usdm+kraken-futures": {"BINANCE": ("BTC", "USDT", "PERP"), "KRAKEN": ("BTC", "USD", "PERP")},
    "coinm": {"BINANCE": ("ETH", "USD", "PERP")},
}


def values(levels: list[list[Any]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(lv[0]), Decimal(lv[1])) for lv in levels]


def same_book(book: dict[str, Any], reference: dict[str, Any]) -> bool:
    return book["synchronised"] and all(values(book[s]) == values(reference[s]) for s in ("bids", "asks"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_derivative_feeds_end_to_end(case: str, tmp_path: Path) -> None:
    venues = CASES[case]
    with ExitStack() as stack:
        sims = {
            venue: stack.enter_context(
                SimulatorThread(venue, [f"{base}-{quote}"], rate=100, seed=11, market_type=MarketType(kind))
            )
            for venue, (base, quote, kind) in venues.items()
        }
        service, url = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'd.sqlite3'}"))
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        for symbol in ("BTC", "ETH", "USD", "USDT"):
            assert api.post("/symbols", json={"symbol": symbol}).status_code == 201
        ids: dict[str, int] = {}
        for venue, (base, quote, kind) in venues.items():
            sim = sims[venue]
            assert (
                api.post("/exchanges", json={"name": venue, "ws_url": sim.url, "rest_url": sim.http}).status_code == 201
            )
            body = {"exchange": venue, "base_symbol": base, "quote_symbol": quote, "market_type": kind}
            r = api.post("/markets", json=body)
            assert r.status_code == 201, r.text
            assert r.json()["tag"] == f"{venue}.{kind}:{base}-{quote}"
            ids[venue] = r.json()["id"]
            assert api.patch(f"/markets/{ids[venue]}", json={"level4_feed_enabled": True}).status_code == 200

        wait_for(
            lambda: {api.get(f"/markets/{i}").json()["status"] for i in ids.values()} == {"live"},
            timeout=30,
            what="every market live",
        )
        for sim in sims.values():
            sim.pause()
        for venue, (base, quote, _kind) in venues.items():
            reference = sims[venue].reference(f"{base}-{quote}")
            wait_for(
                lambda v=venue, ref=reference: same_book(api.get(f"/markets/{ids[v]}/book").json(), ref),
                timeout=10,
                what=f"{venue} book equals its reference",
            )
        for venue, i in ids.items():
            state = service.board.get(i)
            assert state.malformed == 0 and state.frames > 0, venue
