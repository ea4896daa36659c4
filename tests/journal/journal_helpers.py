"""A Coinbase market context and frames written by hand, for journals written without a service."""

from __future__ import annotations

from typing import Any

import orjson

from level4.journal.meta import market_meta
from translations import scheme_for
from translations.protocol import MarketType

TAG = "COINBASE.SPOT:BTC-USD"


def coinbase_meta(market_id: int = 1) -> dict[str, Any]:
    scheme = scheme_for("COINBASE")
    instrument = scheme.instrument("BTC", "USD", MarketType.SPOT)
    market = {"id": market_id, "tag": TAG, "exchange": "COINBASE"}
    return market_meta(market, scheme, instrument, "ws://127.0.0.1:1/", "http://127.0.0.1:1")


def snapshot(bids: list[list[str]], asks: list[list[str]]) -> str:
    return orjson.dumps({"type": "snapshot", "product_id": "BTC-USD", "bids": bids, "asks": asks}).decode()


def update(side: str, price: str, size: str, pad: int = 0) -> str:
    frame: dict[str, Any] = {"type": "l2update", "product_id": "BTC-USD", "changes": [[side, price, size]]}
    if pad:
        frame["pad"] = "x" * pad  # bulk, ignored by the scheme
    return orjson.dumps(frame).decode()
