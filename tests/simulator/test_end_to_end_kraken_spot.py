"""Kraken spot end to end on WebSocket v2, its live default: the simulator's
v2 dialect over real sockets into the running service, with corrupted
checksums that each cost one market a resubscribe, never its connection;
once the faults stop, every book is served equal to the reference book as
the same strings (the venue's JSON numbers padded back to each pair's
precision, trailing zeros and all)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from level4.simulator.dialects.kraken_v2_dialect import KrakenV2Dialect
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow

PAIRS = (("BTC", "USD"), ("ETH", "USD"))


def same_book(book: dict[str, Any], reference: dict[str, Any]) -> bool:
    return bool(book["synchronised"]) and all(book[s] == reference[s] for s in ("bids", "asks"))


def test_kraken_spot_runs_on_v2_and_resyncs_one_market_at_a_time(tmp_path: Path) -> None:
    with ExitStack() as stack:
        sim = stack.enter_context(
            SimulatorThread("KRAKEN", [f"{b}-{q}" for b, q in PAIRS], rate=150, seed=5, faults={"checksum": 0.03})
        )
        assert isinstance(sim.sim.dialect, KrakenV2Dialect)
        service, url = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'k.sqlite3'}"))
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        for symbol in ("BTC", "ETH", "USD"):
            assert api.post("/symbols", json={"symbol": symbol}).status_code == 201
        assert api.post("/exchanges", json={"name": "KRAKEN", "ws_url": sim.url}).status_code == 201
        ids: dict[str, int] = {}
        for base, quote in PAIRS:
            r = api.post("/markets", json={"exchange": "KRAKEN", "base_symbol": base, "quote_symbol": quote})
            assert r.status_code == 201, r.text
            assert r.json()["tag"] == f"KRAKEN.SPOT:{base}-{quote}"
            ids[f"{base}-{quote}"] = r.json()["id"]
            assert api.patch(f"/markets/{r.json()['id']}", json={"level4_feed_enabled": True}).status_code == 200

        # every market meets corrupted checksums and is resubscribed, on the connection it has
        wait_for(
            lambda: all(service.board.get(i).checksum_failures >= 2 for i in ids.values()),
            timeout=40,
            what="checksum failures on every market",
        )
        for i in ids.values():
            state = service.board.get(i)
            assert state.resyncs >= state.checksum_failures - 1 and state.reconnects == 0, state
        # the v2 conversation: instruments first, then books and trades, on the one connection both share
        sessions = [c.session for c in list(sim.sim.clients)]
        assert len(sessions) == 1 and sessions[0].subscribed == {f"{b}/{q}" for b, q in PAIRS}
        assert sessions[0].extra.get("books")

        httpx.get(f"{sim.http}/control/faults", params={"clear": "1"}).raise_for_status()
        wait_for(
            lambda: {api.get(f"/markets/{i}").json()["status"] for i in ids.values()} == {"live"},
            timeout=30,
            what="every market live",
        )
        sim.pause()
        for pair, i in ids.items():
            reference = sim.reference(pair)
            wait_for(
                lambda i=i, ref=reference: same_book(api.get(f"/markets/{i}/book").json(), ref),
                timeout=15,
                what=f"{pair} book equals its reference, string for string",
            )
            assert service.board.get(i).malformed == 0
