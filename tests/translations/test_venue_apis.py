"""A venue's APIs: the market type (and quote) picks the one a market is served by."""

from __future__ import annotations

import pytest

import translations
from level4.service.markets import scheme_and_instrument
from translations import market_types_of, scheme_for, schemes_of


def market(exchange: str, base: str, quote: str, kind: str, instrument: str = "") -> dict[str, object]:
    names = {"exchange": exchange, "base_symbol": base, "quote_symbol": quote}
    return {**names, "market_type": kind, "instrument": instrument}


def test_binance_spot_perp_and_dated_markets_each_get_their_api() -> None:
    spot, ins = scheme_and_instrument(market("BINANCE", "BTC", "USDT", "SPOT"))
    assert spot is scheme_for("BINANCE") and ins.symbol == "BTCUSDT"
    usdm, ins = scheme_and_instrument(market("BINANCE", "BTC", "USDT", "PERP"))
    assert usdm.api == "usdm" and ins.symbol == "BTCUSDT" and usdm.ws_url.startswith("wss://fstream.")
    coinm, ins = scheme_and_instrument(market("BINANCE", "BTC", "USD", "PERP"))
    assert coinm.api == "coinm" and ins.symbol == "BTCUSD_PERP"
    dated, ins = scheme_and_instrument(market("BINANCE", "BTC", "USD", "FUTURE", "BTCUSD_211231"))
    assert dated is coinm and ins.tag("BINANCE") == "BINANCE.FUTURE:BTCUSD_211231"
    dated, _ = scheme_and_instrument(market("BINANCE", "BTC", "USDT", "FUTURE", "BTCUSDT_250926"))
    assert dated is usdm


def test_a_market_no_api_lists_fails_with_every_reason() -> None:
    with pytest.raises(ValueError, match="has no OPTION markets; it offers SPOT, PERP, FUTURE"):
        scheme_and_instrument(market("BINANCE", "BTC", "USDT", "OPTION"))


@pytest.mark.parametrize("venue", sorted(translations.VENUES))
def test_every_api_of_a_venue_carries_the_venues_name_and_its_own(venue: str) -> None:
    schemes = schemes_of(venue)
    assert all(s.name == venue for s in schemes)
    assert len({s.api for s in schemes}) == len(schemes)  # each API named apart
    assert set(market_types_of(venue)) == {t for s in schemes for t in s.market_types}
    assert schemes[0] is scheme_for(venue)
    assert all(scheme_for(venue, s.api) is s for s in schemes[1:])
