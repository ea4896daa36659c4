"""How many markets one shared venue connection carries, and how many join in
one subscribe request. How fast frames go out is not decided here: the venue
limiter paces every frame sent by the scheme's stated message limit.

The figures below are the usual ones, never above the streams a connection
the venue states (its scheme's limits, translations/venue_limits.py). An operator
may set a smaller cap (LEVEL4_SUBSCRIPTIONS_PER_CONNECTION, in level4.config).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import translations


@dataclass(frozen=True, slots=True)
class SharingCaps:
    markets_per_connection: int
    markets_per_request: int  # markets subscribed by one subscribe_msg call


# Markets a connection, markets a request.
_DEFAULTS: dict[str, SharingCaps] = {
    # 1024 streams a connection, two a market
    # (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams).
    "BINANCE": SharingCaps(500, 100),
    # No cap per connection is documented
    # (https://docs.cdp.coinbase.com/exchange/websocket-feed/rate-limits).
    "COINBASE": SharingCaps(100, 50),
    # No cap is documented for v1; kept modest so a resync's resubscribe stays cheap
    # (https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/subscribe.md).
    "KRAKEN": SharingCaps(100, 50),
    # 480 subscribe/unsubscribe requests an hour a connection, 64 KB of args a request
    # (https://www.okx.com/docs-v5/en/#overview-websocket-subscribe): big requests, few of them.
    "OKX": SharingCaps(100, 100),
    # Ten args a request on spot (the scheme splits its frames accordingly)
    # (https://bybit-exchange.github.io/docs/v5/ws/connect).
    "BYBIT": SharingCaps(100, 50),
    # No cap is documented; one request per channel, so requests stay small
    # (https://www.bitstamp.net/websocket/v2/).
    "BITSTAMP": SharingCaps(50, 25),
    # No cap per connection is documented
    # (https://docs.deribit.com/api-reference/subscription-management/public-subscribe.md).
    "DERIBIT": SharingCaps(100, 50),
    # No cap is documented for v2 market data
    # (https://docs.gemini.com/websocket-api/#market-data-version-2).
    "GEMINI": SharingCaps(50, 25),
    # No cap per connection is documented
    # (https://api-docs.poloniex.com/spot/websocket).
    "POLONIEX": SharingCaps(100, 50),
    # No cap is documented; one request per channel, three channels a market
    # (https://bf-lightning-api.readme.io/docs/realtime-api).
    "BITFLYER": SharingCaps(50, 25),
    # No cap per connection is documented; requests are limited per IP
    # (https://www.bitmex.com/app/wsAPI).
    "BITMEX": SharingCaps(100, 50),
    # 25 channels a connection, two a market (book, trades)
    # (https://docs.bitfinex.com/docs/ws-public).
    "BITFINEX": SharingCaps(12, 12),
    # No cap is published for api/3; one request carries a list of symbols
    # (https://api.hitbtc.com/#subscriptions): the assumed 100 streams a connection.
    "HITBTC": SharingCaps(100, 50),
}
_FALLBACK = SharingCaps(50, 25)


def caps_for(scheme: Any, configured: int | None = None) -> SharingCaps:
    """The caps of a scheme's shared connections: the venue's own, lowered to
    the configured cap when that is smaller."""
    base = _DEFAULTS.get(str(scheme.name), _FALLBACK)
    # Never above the venue's stated streams a connection (translations/venue_limits.py):
    # a market takes at least one.
    stated = _stated_streams(scheme)
    cap = base.markets_per_connection
    if isinstance(stated, int) and stated > 0:
        cap = min(cap, stated)
    if configured is not None and configured > 0:
        cap = min(cap, configured)
    return SharingCaps(cap, max(1, min(base.markets_per_request, cap)))


def _stated_streams(scheme: Any) -> int | None:
    own = getattr(scheme, "limits", None)  # a stand-in scheme may state its own
    if own is not None:
        return getattr(own, "streams_per_connection", None)
    try:
        return translations.limits_of(scheme).streams_per_connection
    except (ImportError, AttributeError):  # a scheme outside the registry states none
        return None
