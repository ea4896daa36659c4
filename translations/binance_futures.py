"""Binance futures websocket streams: USD-M (`fstream`) and COIN-M (`dstream`).

The same dialect as Binance spot (translations/binance.py: combined streams,
`SUBSCRIBE` frames, a REST depth snapshot joined to buffered diffs), with
these differences, from the venues' "How to manage a local order book
correctly" pages
(https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/How-to-manage-a-local-order-book-correctly,
https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams/How-to-manage-a-local-order-book-correctly):

- diffs chain on `pu`: each event's `pu` equals the previous event's `u`
  (update ids are not consecutive across events, so `U == u + 1` does not
  hold); the first event applied after the snapshot has
  `U <= lastUpdateId <= u`, and events with `u < lastUpdateId` are dropped;
- the snapshot is `/fapi/v1/depth` (USD-M) or `/dapi/v1/depth` (COIN-M),
  asked for as on spot as soon as the subscription has gone out (the pages'
  steps 1-3: open the stream, buffer its events, get the snapshot), and one
  older than the first event's predecessor (`pu`) is fetched again;
- trades come from `@aggTrade`; `bookTicker` events carry an `e` here.

Symbols: USD-M perpetuals are `BTCUSDT`, COIN-M perpetuals `BTCUSD_PERP`;
dated contracts of either end in their delivery date (`BTCUSD_211231`),
which is also their name in level4's tags.
"""

from __future__ import annotations

from typing import Any

import orjson

from translations import symbols
from translations.binance import BinanceScheme, Market, State
from translations.protocol import Instrument, MarketType
from translations.symbol_pairs import longest_first, split_quote
from translations.venue_limits import VenueLimits

SNAPSHOT_DEPTH = 1000


class BinanceFuturesScheme(BinanceScheme):
    """One of Binance's two futures APIs; `coin_margined` picks which."""

    market_types: tuple[MarketType, ...] = (MarketType.PERP, MarketType.FUTURE)
    ignored: frozenset[str] = frozenset(
        {"kline", "24hrTicker", "24hrMiniTicker", "bookTicker", "markPriceUpdate", "forceOrder", "continuous_kline"}
    )

    limits: VenueLimits  # each futures API has its own (two APIs share this module)

    def __init__(
        self,
        api: str,
        ws_url: str,
        rest_url: str,
        depth: str,
        quotes: tuple[str, ...],
        coin: bool,
        limits: VenueLimits,
    ) -> None:
        self.api = api
        self.limits = limits
        self.ws_url = ws_url
        self.rest_url = rest_url
        self._depth = depth
        self._quotes = longest_first(list(quotes))
        self._coin = coin

    def venue_symbol(self, base: str, quote: str, market_type: MarketType) -> str:
        if market_type is MarketType.PERP:
            if (quote == "USD") != self._coin:
                wanted = "quoted in USD" if self._coin else "quoted in a stablecoin"
                raise ValueError(f"{self.name} {self.api} perpetuals are {wanted}, not {quote}")
            return f"{base}{quote}_PERP" if self._coin else f"{base}{quote}"
        return super().venue_symbol(base, quote, market_type)

    def from_symbol(self, symbol: str) -> Instrument:
        sym = symbol.upper()
        pair, _, suffix = sym.partition("_")
        split = split_quote(pair, self._quotes)
        if split is None:
            raise ValueError(f"no {self.api} quote asset ends the Binance symbol {symbol!r}")
        base, quote = symbols.normalise(split[0]), symbols.normalise(split[1])
        if (suffix == "" and not self._coin) or suffix == "PERP":
            return Instrument(base, quote, MarketType.PERP, sym)
        if len(suffix) == 6 and suffix.isdigit():
            return Instrument(base, quote, MarketType.FUTURE, sym)
        raise ValueError(f"{symbol!r} is no {self.api} perpetual or dated contract")

    def subscribe_msg(self, state: State) -> list[str]:
        params: list[str] = []
        for sym in state.markets:
            low = sym.lower()
            params += [f"{low}@depth@100ms", f"{low}@aggTrade"]
        return [orjson.dumps({"method": "SUBSCRIBE", "params": params, "id": 1}).decode()]

    def depth_path(self, symbol: str) -> str:
        return f"{self._depth}?symbol={symbol}&limit={SNAPSHOT_DEPTH}"

    def _joins(self, market: Market, data: dict[str, Any], first: int, last: int) -> bool:
        prev = data.get("pu")
        if type(prev) is not int:
            raise ValueError("pu must be an integer")
        return prev == last or (market.straddle and first <= last + 1)

    def _predates(self, last_id: int, first: dict[str, Any]) -> bool:
        # The first diff seen follows an unseen one whose `u` is its `pu`.
        return last_id < int(first["pu"])

    def _jump(self, data: dict[str, Any], last: int) -> str:
        return f"update ids broke: previous u {last}, event pu {data.get('pu')} ({data['U']}..{data['u']})"

    # --- instrument list (translations/instrument_listing.py) ------------------------

    # Exchange information of the futures APIs: contractType PERPETUAL or a quarter,
    # deliveryDate, status (USD-M) or contractStatus (COIN-M), and the same filters as spot
    # (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information,
    # https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api/Exchange-Information).
    # list_paths is set per API below.

    def _listed_instrument(self, item: dict[str, Any]) -> Instrument:
        base, quote = symbols.normalise(item["baseAsset"]), symbols.normalise(item["quoteAsset"])
        # Dated contracts are CURRENT_QUARTER, NEXT_QUARTER (and months); a perpetual not yet
        # trading may have no contract type at all.
        contract = str(item.get("contractType", ""))
        kind = MarketType.FUTURE if contract.endswith(("QUARTER", "MONTH")) else MarketType.PERP
        return Instrument(base, quote, kind, item["symbol"].upper())


# Binance USD-M futures: 1,024 streams and 10 incoming messages a second per connection, cut at
# 24 hours. https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
# REST: 2,400 request weight a minute per IP; /fapi/v1/depth weighs 2 for limit 5-50, 5 for 100
# (the default is 500: 10), 10 for 500, 20 for 1000.
# https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Order-Book
# No connection-attempt number is published for futures: spot's 300 every 5 minutes is kept.
usdm_limits = VenueLimits(
    connects=300,
    connect_window=300.0,
    streams_per_connection=1024,
    sends_per_second=10,
    rest_budget=2400,
    rest_window=60.0,
    rest_weights=((50, 2), (100, 5), (500, 10), (1000, 20)),
    rest_weight_default=20,
    rest_limit_default=500,
    max_lifetime=24 * 3600.0,
)
# Binance COIN-M futures: the same numbers as USD-M (1,024 streams, 10 messages a second, 24 hours,
# 2,400 weight a minute, the same depth weights).
# https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams
coinm_limits = usdm_limits

usdm = BinanceFuturesScheme(
    "usdm",
    "wss://fstream.binance.com/stream",
    "https://fapi.binance.com",
    "/fapi/v1/depth",
    ("USDT", "USDC", "BUSD", "FDUSD"),
    coin=False,
    limits=usdm_limits,
)
coinm = BinanceFuturesScheme(
    "coinm",
    "wss://dstream.binance.com/stream",
    "https://dapi.binance.com",
    "/dapi/v1/depth",
    ("USD",),
    coin=True,
    limits=coinm_limits,
)
usdm.list_paths = ("/fapi/v1/exchangeInfo",)
coinm.list_paths = ("/dapi/v1/exchangeInfo",)
