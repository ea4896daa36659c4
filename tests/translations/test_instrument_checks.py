"""The checks every venue makes of a requested market are one shared behaviour."""

from __future__ import annotations

import pytest

import translations
from translations import scheme_for
from translations.protocol import MarketType

VENUES = sorted(translations.VENUES)


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize(("base", "quote"), [("", "USD"), ("BTC", ""), ("  ", "USD")])
def test_a_missing_name_is_refused_by_every_venue(venue: str, base: str, quote: str) -> None:
    scheme = scheme_for(venue)
    with pytest.raises(ValueError, match="base and quote are required"):
        scheme.instrument(base, quote, scheme.market_types[0])


@pytest.mark.parametrize("venue", VENUES)
def test_a_market_type_the_venue_does_not_list_is_refused_by_name(venue: str) -> None:
    scheme = scheme_for(venue)
    missing = [t for t in MarketType if t not in scheme.market_types]
    for market_type in missing:
        with pytest.raises(ValueError, match=f"{venue} has no {market_type} markets"):
            scheme.instrument("BTC", "USDT", market_type)


@pytest.mark.parametrize("venue", VENUES)
def test_names_are_taken_in_any_case_and_come_back_normalised(venue: str) -> None:
    scheme = scheme_for(venue)
    market_type = scheme.market_types[0] if MarketType.SPOT not in scheme.market_types else MarketType.SPOT
    if market_type in (MarketType.FUTURE, MarketType.OPTION):
        pytest.skip(f"{venue} names its first market type by expiry")
    lower = scheme.instrument("eth", "usdt", market_type)
    upper = scheme.instrument("ETH", "USDT", market_type)
    assert lower == upper
    assert (lower.base, lower.quote) == ("ETH", "USDT")
