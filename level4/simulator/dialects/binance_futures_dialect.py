"""Binance USD-M and COIN-M futures stream dialects: spot's requests and
combined streams (binance_dialect.py), with the futures' own numbering and
paths.

Futures update ids are not consecutive across events: each diff carries
`pu`, the `u` of the diff before it. The simulator spaces its ids three
apart (a change is `U = 3n - 1`, `u = 3n`, `pu = 3(n - 1)`), so a client
that joined on `U == u + 1` as spot does would break at once; the REST
snapshot's `lastUpdateId` is the `u` of the last change it holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from level4.simulator.dialects.binance_dialect import BinanceDialect
from level4.simulator.dialects.dialect_base import Markets, SimMarket
from translations.protocol import Level

SPACING = 3
# The depth limits the futures APIs accept (the venue rounds anything else up to one of them).
LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def update_id(market: SimMarket) -> int:
    return market.update_id * SPACING


class BinanceFuturesDialect(BinanceDialect):
    def __init__(self, depth_path: str) -> None:
        self.depth_path = depth_path

    def depth_event(self, market: SimMarket, bids: Sequence[Level], asks: Sequence[Level], now: float) -> dict:
        last = update_id(market)
        millis = int(now * 1000)
        data = {"e": "depthUpdate", "E": millis, "T": millis, "s": market.instrument.symbol, "U": last - 1, "u": last}
        data |= {"pu": last - SPACING, "b": [[lv[0], lv[1]] for lv in bids], "a": [[lv[0], lv[1]] for lv in asks]}
        return data

    def rest(self, path: str, query: Mapping[str, str], markets: Markets, now: float) -> tuple[int, Any] | None:
        if path != self.depth_path:
            return None
        market = markets.get(query.get("symbol", ""))
        if market is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        try:
            asked = int(query.get("limit", "500"))
        except ValueError:
            return 400, {"code": -1100, "msg": "Illegal characters found in parameter 'limit'."}
        limit = next((n for n in LIMITS if n >= asked), LIMITS[-1])
        book, millis = market.book, int(now * 1000)
        return 200, {
            "lastUpdateId": update_id(market),
            "E": millis,
            "T": millis,
            "bids": [[lv[0], lv[1]] for lv in book.bids_levels(limit)],
            "asks": [[lv[0], lv[1]] for lv in book.asks_levels(limit)],
        }


usdm = BinanceFuturesDialect("/fapi/v1/depth")
coinm = BinanceFuturesDialect("/dapi/v1/depth")
