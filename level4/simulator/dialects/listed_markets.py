"""The simulator's markets as its venue's instrument list, in the venue's own shape
(the shapes the schemes' `instruments_from_list` read), so the service's
instrument catalogue works offline against a simulated venue. Each market's tick
is its order flow's price step; sizes move in steps of 0.00000001 (8 decimals)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from level4.simulator.dialects.dialect_base import Markets, SimMarket
from translations.protocol import MarketType

LOT = "0.00000001"
LOT_DECIMALS = 8

Answer = tuple[int, Any]
Renderer = Callable[[Mapping[str, str], Markets], Any]


def _decimals(step: str) -> int:
    return len(step.partition(".")[2])


def _of(markets: Markets, *types: MarketType) -> list[SimMarket]:
    return [m for m in markets.values() if m.instrument.market_type in types]


def _binance(markets: Markets) -> dict[str, Any]:
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


def _coinbase(query: Mapping[str, str], markets: Markets) -> Any:
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


def _kraken(query: Mapping[str, str], markets: Markets) -> Any:
    pairs = {}
    for m in markets.values():
        base, _, quote = m.instrument.symbol.partition("/")
        pairs[base + quote] = {
            "altname": base + quote,
            "wsname": m.instrument.symbol,
            "base": base,
            "quote": quote,
            "pair_decimals": _decimals(m.tick_size),
            "lot_decimals": LOT_DECIMALS,
            "tick_size": m.tick_size,
            "status": "online",
        }
    return {"error": [], "result": pairs}


def _kraken_futures(query: Mapping[str, str], markets: Markets) -> Any:
    instruments = [
        {
            "symbol": m.instrument.symbol.lower(),
            "type": "flexible_futures",
            "base": m.instrument.base,
            "quote": m.instrument.quote,
            "tickSize": float(m.tick_size),
            "contractValueTradePrecision": LOT_DECIMALS,
            "tradeable": True,
        }
        for m in markets.values()
    ]
    return {"result": "success", "instruments": instruments}


def _bitstamp(query: Mapping[str, str], markets: Markets) -> Any:
    return [
        {
            "name": f"{m.instrument.base}/{m.instrument.quote}",
            "url_symbol": m.instrument.symbol,
            "counter_decimals": _decimals(m.tick_size),
            "base_decimals": LOT_DECIMALS,
            "trading": "Enabled",
        }
        for m in markets.values()
    ]


OKX_TYPES = {
    "SPOT": MarketType.SPOT,
    "SWAP": MarketType.PERP,
    "FUTURES": MarketType.FUTURE,
    "OPTION": MarketType.OPTION,
}


def _okx(query: Mapping[str, str], markets: Markets) -> Any:
    kind = OKX_TYPES.get(query.get("instType", ""))
    if kind is None:
        return {"code": "51000", "msg": "Parameter instType error", "data": []}
    data = []
    for m in _of(markets, kind):
        ins = m.instrument
        pair = {"baseCcy": ins.base, "quoteCcy": ins.quote} if kind is MarketType.SPOT else {"uly": ins.pair}
        if query.get("uly") and query["uly"] != ins.pair:
            continue
        kind_name = next(k for k, v in OKX_TYPES.items() if v is kind)
        data.append({"instId": ins.symbol, "instType": kind_name, **pair, "tickSz": m.tick_size, "lotSz": LOT})
        data[-1]["state"] = "live"
    return {"code": "0", "msg": "", "data": data}


def _poloniex(query: Mapping[str, str], markets: Markets) -> Any:
    return [
        {
            "symbol": m.instrument.symbol,
            "baseCurrencyName": m.instrument.symbol.partition("_")[0],
            "quoteCurrencyName": m.instrument.symbol.partition("_")[2],
            "state": "NORMAL",
            "symbolTradeLimit": {"priceScale": _decimals(m.tick_size), "quantityScale": LOT_DECIMALS},
        }
        for m in markets.values()
    ]


def _gemini(query: Mapping[str, str], markets: Markets) -> Any:
    return [m.instrument.symbol.lower() for m in markets.values()]  # names only, as the venue lists them


def _bybit(query: Mapping[str, str], markets: Markets) -> Any:
    category = query.get("category", "")
    listed = []
    for m in markets.values():
        ins = m.instrument
        if ins.market_type is MarketType.SPOT:
            here, contract = "spot", ""
        else:
            here = "inverse" if ins.quote == "USD" else "linear"
            dated = "Futures" if ins.market_type is MarketType.FUTURE else "Perpetual"
            contract = ("Inverse" if here == "inverse" else "Linear") + dated
        if here == category:
            listed.append(
                {
                    "symbol": ins.symbol,
                    "contractType": contract,
                    "status": "Trading",
                    "baseCoin": ins.base,
                    "quoteCoin": ins.quote,
                    "priceFilter": {"tickSize": m.tick_size},
                    "lotSizeFilter": {"qtyStep": LOT, "basePrecision": LOT},
                }
            )
    return {"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": listed}}


def _deribit(query: Mapping[str, str], markets: Markets) -> Any:
    currency = query.get("currency", "")
    kinds = {MarketType.OPTION: "option", MarketType.SPOT: "spot"}
    result = []
    for m in markets.values():
        ins = m.instrument
        if currency not in (ins.base, ins.quote):
            continue
        item: dict[str, Any] = {
            "instrument_name": ins.symbol,
            "kind": kinds.get(ins.market_type, "future"),
            "base_currency": ins.base,
            "quote_currency": ins.quote,
            "tick_size": float(m.tick_size),
            "min_trade_amount": float(LOT),
            "is_active": True,
        }
        if ins.market_type is MarketType.PERP:
            item["settlement_period"] = "perpetual"
        result.append(item)
    return {"jsonrpc": "2.0", "result": result}


def _hitbtc(query: Mapping[str, str], markets: Markets) -> Any:
    listed = {}
    for m in markets.values():
        ins = m.instrument
        perp = ins.market_type is MarketType.PERP
        listed[ins.symbol] = {
            "type": "futures" if perp else "spot",
            "base_currency": None if perp else ins.base,
            "underlying": ins.base if perp else None,
            "quote_currency": ins.quote,
            "tick_size": m.tick_size,
            "quantity_increment": LOT,
            "status": "working",
        }
    return listed


def _bitmex(query: Mapping[str, str], markets: Markets) -> Any:
    typ = {MarketType.PERP: "FFWCSX", MarketType.FUTURE: "FFCCSX", MarketType.SPOT: "IFXXXP"}
    return [
        {
            "symbol": m.instrument.symbol,
            "typ": typ[m.instrument.market_type],
            "underlying": m.instrument.base,
            "quoteCurrency": m.instrument.quote,
            "tickSize": float(m.tick_size),
            "lotSize": 1,
            "state": "Open",
        }
        for m in markets.values()
    ]


def _bitfinex(kind: MarketType) -> Renderer:
    def render(query: Mapping[str, str], markets: Markets) -> Any:
        return [[m.instrument.symbol[1:] for m in _of(markets, kind)]]

    return render


def _bitflyer(query: Mapping[str, str], markets: Markets) -> Any:
    kinds = {MarketType.SPOT: "Spot", MarketType.PERP: "FX", MarketType.FUTURE: "Futures"}
    return [
        {"product_code": m.instrument.symbol, "market_type": kinds[m.instrument.market_type]} for m in markets.values()
    ]


def _none(query: Mapping[str, str], markets: Markets) -> Any:
    return []


def _binance_list(query: Mapping[str, str], markets: Markets) -> Any:
    return _binance(markets)


# (venue, api) -> {path: renderer}; paths as the schemes' list_paths name them, less the query.
LISTS: dict[tuple[str, str], dict[str, Renderer]] = {
    ("BINANCE", ""): {"/api/v3/exchangeInfo": _binance_list},
    ("BINANCE", "usdm"): {"/fapi/v1/exchangeInfo": _binance_list},
    ("BINANCE", "coinm"): {"/dapi/v1/exchangeInfo": _binance_list},
    ("COINBASE", ""): {"/products": _coinbase},
    ("KRAKEN", ""): {"/0/public/AssetPairs": _kraken},
    ("KRAKEN", "futures"): {"/derivatives/api/v3/instruments": _kraken_futures},
    ("BITSTAMP", ""): {"/api/v2/trading-pairs-info": _bitstamp},
    ("OKX", ""): {"/api/v5/public/instruments": _okx},
    ("POLONIEX", ""): {"/markets": _poloniex},
    ("GEMINI", ""): {"/v1/symbols": _gemini},
    ("BYBIT", ""): {"/v5/market/instruments-info": _bybit},
    ("DERIBIT", ""): {"/api/v2/public/get_instruments": _deribit},
    ("HITBTC", ""): {"/public/symbol": _hitbtc},
    ("BITMEX", ""): {"/api/v1/instrument/active": _bitmex},
    ("BITFINEX", ""): {
        "/v2/conf/pub:list:pair:exchange": _bitfinex(MarketType.SPOT),
        "/v2/conf/pub:list:pair:future": _bitfinex(MarketType.PERP),
    },
    ("BITFLYER", ""): {"/v1/markets": _bitflyer, "/v1/markets/usa": _none, "/v1/markets/eu": _none},
}


def answer(venue: str, api: str, path: str, query: Mapping[str, str], markets: Markets) -> Answer | None:
    """The venue's list answer for a list path it serves, or None for any other path."""
    render = LISTS.get((venue, api), {}).get(path.rstrip("/") or "/")
    return None if render is None else (200, render(query, markets))
