"""The query endpoints answer from live data over a real socket: top of
book, recent trades and candles of a simulated venue's market; their
refusals are JSON."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.stream.stream_markets import add_market
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow


def test_top_trades_and_candles_from_live_data(tmp_path: Path) -> None:
    with (
        SimulatorThread("coinbase", ["BTC-USD"], rate=400) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}") as (_service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        market = add_market(api, "COINBASE", sim, "BTC", "USD")
        path = f"/markets/{market['id']}"
        wait_for(lambda: len(api.get(f"{path}/trades").json()["trades"]) >= 20, what="trades")
        sim.pause()
        reference = sim.reference("BTC-USD")
        wait_for(
            lambda: (
                (top := api.get(f"{path}/top").json())["bid"] == reference["bids"][0]
                and top["ask"] == reference["asks"][0]
            ),
            what="top == the venue's best levels",
        )
        top = api.get(f"{path}/top").json()
        bid, ask = Decimal(top["bid"][0]), Decimal(top["ask"][0])
        assert top["market"] == market["tag"] and top["synchronised"] is True
        assert Decimal(top["spread"]) == ask - bid and Decimal(top["mid"]) == (ask + bid) / 2
        assert top["sequence"] > 0 and top["received_at"] > 0

        trades = api.get(f"{path}/trades", params={"limit": 1000}).json()["trades"]
        assert 20 <= len(trades) < 1000
        sequences = [t["sequence"] for t in trades]
        assert sequences == sorted(sequences, reverse=True)  # the newest first
        assert api.get(f"{path}/trades", params={"limit": 5}).json()["trades"] == trades[:5]
        for trade in trades:
            assert trade["side"] in ("buy", "sell") and Decimal(trade["size"]) > 0

        volume = sum((Decimal(t["size"]) for t in trades), Decimal(0))
        for interval in ("1m", "5m", "15m", "1h"):
            body = api.get(f"{path}/candles", params={"interval": interval}).json()
            assert body["market"] == market["tag"] and body["interval"] == interval
            candles = body["candles"]
            assert candles and sum(c["trades"] for c in candles) == len(trades)
            assert sum((Decimal(c["volume"]) for c in candles), Decimal(0)) == volume
            for c in candles:
                assert Decimal(c["low"]) <= Decimal(c["open"]) <= Decimal(c["high"])
                assert Decimal(c["low"]) <= Decimal(c["close"]) <= Decimal(c["high"])
        last = api.get(f"{path}/candles", params={"interval": "1m", "limit": 1}).json()["candles"]
        assert len(last) == 1 and last[0]["start"] <= time.time() < last[0]["end"] + 5
        newest = trades[0]
        assert last[0]["close"] == newest["price"]


def test_refusals_are_json(tmp_path: Path) -> None:
    with (
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}") as (_service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        for symbol in ("BTC", "USD"):
            api.post("/symbols", json={"symbol": symbol})
        api.post("/exchanges", json={"name": "COINBASE"})
        market = api.post("/markets", json={"exchange": "COINBASE", "base_symbol": "BTC", "quote_symbol": "USD"})
        path = f"/markets/{market.json()['id']}"
        # a market that never ran: nothing yet, said plainly
        assert api.get(f"{path}/top").json()["bid"] is None
        assert api.get(f"{path}/trades").json()["trades"] == []
        assert api.get(f"{path}/candles").json()["candles"] == []
        for url, params, status, field in (
            ("/markets/99/top", {}, 404, None),
            ("/markets/99/trades", {}, 404, None),
            ("/markets/99/candles", {}, 404, None),
            (f"{path}/trades", {"limit": "0"}, 422, "limit"),
            (f"{path}/trades", {"limit": "1001"}, 422, "limit"),
            (f"{path}/candles", {"interval": "2m"}, 422, "interval"),
            (f"{path}/candles", {"limit": "x"}, 422, "limit"),
            ("/books/BTC", {}, 422, "pair"),
            ("/books/BTC-USD", {"type": "OPTION"}, 422, "pair"),
            ("/books/BTC-USD", {"depth": "0"}, 422, "depth"),
            ("/books/ETH-EUR", {}, 404, None),
        ):
            r = api.get(url, params=params)
            assert r.status_code == status, (url, params, r.text)
            body = r.json()
            assert body["error"] and body["detail"], body
            if field:
                assert body["field"] == field
