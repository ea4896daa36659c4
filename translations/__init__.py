"""Translation schemes, one module per venue, each exporting `scheme`."""

from __future__ import annotations

import importlib
from typing import cast

from level4.compiled import check as _check_compiled

_check_compiled()  # before any compiled scheme can be imported

from urllib.parse import urlsplit  # noqa: E402

from translations.protocol import Instrument, MarketType, Scheme  # noqa: E402
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
    "KRAKEN": "translations.kraken_v2",
    "OKX": "translations.okx",
    "POLONIEX": "translations.poloniex",
}


class UnknownVenue(KeyError):
    def __str__(self) -> str:
        return f"no translation scheme for venue {self.args[0]!r}; known: {', '.join(sorted(VENUES))}"


# A venue's other APIs, beside its first (VENUES): "module:object" of each scheme, in the
# order they are asked whether they list a market. The exchange stays the venue; the
# market type (and, for Binance's two futures APIs, the quote) selects the API. An older
# API kept for replaying sessions recorded with it (Kraken spot v1) lists the same
# markets as the first and is never chosen for one: only a recording's URL or a
# journal's `api` names it.
APIS: dict[str, tuple[str, ...]] = {
    "BINANCE": ("translations.binance_futures:usdm", "translations.binance_futures:coinm"),
    "KRAKEN": ("translations.kraken:scheme", "translations.kraken_futures:scheme"),
}


def names() -> list[str]:
    return sorted(VENUES)


def _load(spec: str) -> Scheme:
    module, _, attr = spec.partition(":")
    return cast(Scheme, getattr(importlib.import_module(module), attr or "scheme"))


def schemes_of(name: str) -> list[Scheme]:
    """Every API of a venue, its first one first."""
    key = name.upper()
    module = VENUES.get(key)
    if module is None:
        raise UnknownVenue(name)
    return [_load(module)] + [_load(spec) for spec in APIS.get(key, ())]


def scheme_for(name: str, api: str = "") -> Scheme:
    """A venue's scheme: its first API, or the one named."""
    if not api:
        module = VENUES.get(name.upper())
        if module is None:
            raise UnknownVenue(name)
        return _load(module)
    for scheme in schemes_of(name):
        if scheme.api == api:
            return scheme
    raise UnknownVenue(f"{name} {api}")


def market_types_of(name: str) -> list[MarketType]:
    """The market types a venue offers over all its APIs, in the order they are first met."""
    out: list[MarketType] = []
    for scheme in schemes_of(name):
        out.extend(t for t in scheme.market_types if t not in out)
    return out


def scheme_for_market(name: str, base: str, quote: str, market_type: MarketType) -> tuple[Scheme, Instrument]:
    """The API that lists a market, and its instrument there (ValueError, with every API's
    reason, when none does)."""
    reasons: list[str] = []
    for scheme in schemes_of(name):
        if market_type not in scheme.market_types:
            continue
        try:
            return scheme, scheme.instrument(base, quote, market_type)
        except ValueError as exc:
            reasons.append(str(exc))
    if not reasons:
        offered = ", ".join(str(t) for t in market_types_of(name))
        raise ValueError(f"{name.upper()} has no {market_type} markets; it offers {offered}")
    raise ValueError("; ".join(reasons))


def scheme_for_instrument(name: str, market_type: MarketType, quote: str, symbol: str) -> Scheme:
    """The API that serves a market named by the venue's own instrument (dated futures,
    options): the first listing the type whose symbol reader, where it has one, reads it
    with that quote."""
    listing = [s for s in schemes_of(name) if market_type in s.market_types]
    if not listing:
        offered = ", ".join(str(t) for t in market_types_of(name))
        raise ValueError(f"{name.upper()} has no {market_type} markets; it offers {offered}")
    for scheme in listing:
        reader = getattr(scheme, "from_symbol", None)
        if reader is None:
            return scheme
        try:
            if reader(symbol).quote == quote.upper():
                return scheme
        except ValueError:
            continue
    return listing[0]


def scheme_for_url(name: str, url: str) -> Scheme:
    """The API of a venue a recorded session spoke to at `url`: the one whose default
    websocket endpoint has that host and path (Kraken spot's v1 and v2 share a host,
    v2 is on `/v2`), else the first whose endpoints have that host; the venue's first
    API when none has."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    host, path = (parts.hostname or "").lower(), parts.path.rstrip("/")
    schemes = schemes_of(name)
    on_host: list[Scheme] = []
    for scheme in schemes:
        for endpoint in (scheme.ws_url, scheme.rest_url):
            if endpoint and urlsplit(endpoint).hostname == host:
                on_host.append(scheme)
                break
    for scheme in on_host:
        if urlsplit(scheme.ws_url).path.rstrip("/") == path:
            return scheme
    return on_host[0] if on_host else schemes[0]


def scheme_for_journal(name: str, api: str, ws_url: str) -> Scheme:
    """The API a journal's market ran on: the one its meta names; a journal whose
    meta names none (the venue's first API, or written before the venue had more
    than one) by the URL it connected to, as a recorded session is chosen."""
    return scheme_for(name, api) if api else scheme_for_url(name, ws_url)


def limits_of(scheme: Scheme) -> VenueLimits:
    """An API's published limits: the scheme's own `limits` where one module serves
    several APIs (Binance's two futures APIs), else its module's `limits`."""
    own = getattr(scheme, "limits", None)
    if isinstance(own, VenueLimits):
        return own
    return cast(VenueLimits, importlib.import_module(type(scheme).__module__).limits)


def limits_for(name: str, api: str = "") -> VenueLimits:
    """A venue's published limits: its first API's, or the named one's."""
    return limits_of(scheme_for(name, api))
