"""The simulator's markets as its venue's instrument list, in the venue's own shape,
so the service's instrument catalogue works offline against it. Each market's tick
is the order flow's price step; sizes move in steps of 0.00000001."""

from __future__ import annotations

from typing import Any

from level4.simulator.dialects.dialect_base import Markets
from translations.protocol import MarketType

LOT = "0.00000001"


def binance_exchange_info(markets: Markets) -> dict[str, Any]:
    """`exchangeInfo` of Binance spot and of its futures APIs (which add contractType)."""
    symbols = []
    for market in markets.values():
        ins = market.instrument
        entry: dict[str, Any] = {
            "symbol": ins.symbol,
            "status": "TRADING",
            "baseAsset": ins.base,
            "quoteAsset": ins.quote,
            "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": market.tick_size},
                {"filterType": "LOT_SIZE", "stepSize": LOT},
            ],
        }
        if ins.market_type is not MarketType.SPOT:
            entry["contractType"] = "PERPETUAL" if ins.market_type is MarketType.PERP else "CURRENT_QUARTER"
        symbols.append(entry)
    return {"timezone": "UTC", "symbols": symbols}


def coinbase_products(markets: Markets) -> list[dict[str, Any]]:
    return [
        {
            "id": m.instrument.symbol,
            "base_currency": m.instrument.base,
            "quote_currency": m.instrument.quote,
            "quote_increment": m.tick_size,
            "base_increment": LOT,
            "status": "online",
            "trading_disabled": False,
        }
        for m in markets.values()
    ]
