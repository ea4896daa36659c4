"""Coinbase journals written by hand (the journal's own writer), for exports
whose every value the test chooses."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from level4.journal.meta import market_meta
from level4.journal.options import JournalOptions
from level4.journal.writer import Journal
from translations import scheme_for
from translations.protocol import MarketType

ACTORS = {"exchange": "urn:e", "mediator": "urn:m", "orderbook": "urn:o"}


def tag(base: str = "BTC") -> str:
    return f"COINBASE.SPOT:{base}-USD"


def meta(base: str = "BTC", market_id: int = 1) -> dict[str, Any]:
    scheme = scheme_for("COINBASE")
    instrument = scheme.instrument(base, "USD", MarketType.SPOT)
    market = {"id": market_id, "tag": tag(base), "exchange": "COINBASE"}
    return market_meta(market, scheme, instrument, "ws://127.0.0.1:1/", "http://127.0.0.1:1")


def snapshot(bids: list[list[str]], asks: list[list[str]], base: str = "BTC") -> str:
    return orjson.dumps({"type": "snapshot", "product_id": f"{base}-USD", "bids": bids, "asks": asks}).decode()


def update(side: str, price: str, size: str, base: str = "BTC") -> str:
    return orjson.dumps({"type": "l2update", "product_id": f"{base}-USD", "changes": [[side, price, size]]}).decode()


def match(trade_id: int, maker_side: str, price: str, size: str, base: str = "BTC") -> str:
    frame = {
        "type": "match",
        "product_id": f"{base}-USD",
        "trade_id": trade_id,
        "side": maker_side,
        "price": price,
        "size": size,
        "time": "2026-12-01T10:00:00.123456Z",
    }
    return orjson.dumps(frame).decode()


def record(
    directory: Path,
    batches: list[list[str]],
    base: str = "BTC",
    step: float = 0.05,
    start: float | None = None,
    rotate_bytes: int = 64 << 20,
) -> list[float]:
    """One run of one market: started, connected, then the batches, one every
    `step` seconds of receipt time from `start` (now) on, then stopped. Returns each batch's receipt time."""
    journal = Journal(JournalOptions(directory=directory, rotate_bytes=rotate_bytes))
    rec = journal.market(meta(base))
    rec.begin(ACTORS)
    rec.opened(1)
    start = time.time() if start is None else start
    times = []
    for n, batch in enumerate(batches):
        at = start + (n + 1) * step
        rec.frames(1, [(at, frame) for frame in batch])
        times.append(at)
    rec.end()
    journal.close()
    return times
