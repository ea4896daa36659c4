"""Translation schemes, one module per venue, each exporting `scheme`."""

from __future__ import annotations

import importlib
from typing import cast

from level4.compiled import check as _check_compiled

_check_compiled()  # before any compiled scheme can be imported

from translations.protocol import Scheme  # noqa: E402
from translations.venue_limits import VenueLimits  # noqa: E402

# Catalogue name -> module. Upper-case names, as stored in the catalogue.
VENUES: dict[str, str] = {
    "BINANCE": "translations.binance",
    "BITFINEX": "translations.bitfinex",
    "BITFLYER": "translations.bitflyer",
    "BITMEX": "translations.bitmex",
    "BITSTAMP": "translations.bitstamp",
    "BYBIT": "translations.bybit",
    "COINBASE": "translations.coinbase",
    "DERIBIT": "translations.deribit",
    "GEMINI": "translations.gemini",
    "HITBTC": "translations.hitbtc",
    "KRAKEN": "translations.kraken",
    "OKX": "translations.okx",
    "POLONIEX": "translations.poloniex",
}


class UnknownVenue(KeyError):
    def __str__(self) -> str:
        return f"no translation scheme for venue {self.args[0]!r}; known: {', '.join(sorted(VENUES))}"


def names() -> list[str]:
    return sorted(VENUES)


def scheme_for(name: str) -> Scheme:
    module = VENUES.get(name.upper())
    if module is None:
        raise UnknownVenue(name)
    return cast(Scheme, importlib.import_module(module).scheme)


def limits_for(name: str) -> VenueLimits:
    """The venue's published limits, as its scheme module states them (`limits`)."""
    module = VENUES.get(name.upper())
    if module is None:
        raise UnknownVenue(name)
    return cast(VenueLimits, importlib.import_module(module).limits)
