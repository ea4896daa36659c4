"""Every simulated venue answers its instrument list with its markets, in the venue's
shape: fetched over a real socket by the service's instrument catalogue and read by
the venue's own list reader, each market comes back as itself, with its tick."""

from __future__ import annotations

from decimal import Decimal

import pytest

from level4.service.instrument_catalogue import InstrumentCatalogue
from tests.support import SimulatorThread
from translations.protocol import MarketType

SPOT, PERP = MarketType.SPOT, MarketType.PERP
NAMES_ONLY = {"GEMINI", "BITFINEX", "BITFLYER"}  # lists that give no tick

CASES = [
    ("BINANCE", ["BTC-USDT", "ETH-BTC"], SPOT),
    ("BINANCE", ["BTC-USDT"], PERP),
    ("BINANCE", ["BTC-USD"], PERP),
    ("COINBASE", ["BTC-USD", "ETH-EUR"], SPOT),
    ("KRAKEN", ["BTC-USD", "ETH-EUR"], SPOT),
    ("KRAKEN", ["BTC-USD"], PERP),
    ("BITSTAMP", ["BTC-USD"], SPOT),
    ("OKX", ["BTC-USDT"], SPOT),
    ("OKX", ["BTC-USD"], PERP),
    ("POLONIEX", ["BTC-USDT"], SPOT),
    ("GEMINI", ["BTC-USD"], SPOT),
    ("BYBIT", ["BTC-USDT"], SPOT),
    ("BYBIT", ["BTC-USDT"], PERP),
    ("DERIBIT", ["BTC-USD"], PERP),
    ("HITBTC", ["BTC-USDT"], SPOT),
    ("BITMEX", ["BTC-USD"], PERP),
    ("BITFINEX", ["BTC-USD"], SPOT),
    ("BITFLYER", ["BTC-JPY"], SPOT),
]


@pytest.mark.parametrize(("venue", "pairs", "market_type"), CASES, ids=[f"{v}-{t}" for v, _, t in CASES])
def test_the_simulated_venue_lists_its_markets(venue: str, pairs: list[str], market_type: MarketType) -> None:
    with SimulatorThread(venue, pairs, market_type=market_type) as sim:
        fetched = InstrumentCatalogue().lists(venue, sim.http)
        listed = {listing.symbol: listing for _, listing in fetched.listings}
        assert len(sim.sim.markets) == len(pairs)
        for symbol, market in sim.sim.markets.items():
            listing = listed.get(symbol)
            assert listing is not None, (symbol, sorted(listed), fetched.unavailable)
            assert listing.instrument == market.instrument
            assert listing.trading
            if venue in NAMES_ONLY:
                assert listing.tick_size is None
            else:
                assert listing.tick_size is not None and Decimal(listing.tick_size) == Decimal(market.tick_size)
