"""How many markets one shared venue connection carries, how many join in
one subscribe request, and how fast requests go out on it.

A venue's documented figures come from its scheme's `limits` when the scheme
has them; until then the conservative figures below stand in. An operator
may set a smaller cap (LEVEL4_SUBSCRIPTIONS_PER_CONNECTION, in level4.config).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SharingCaps:
    markets_per_connection: int
    markets_per_request: int  # markets subscribed by one subscribe_msg call
    send_interval: float  # seconds between frames sent on one connection


# Markets a connection, markets a request, seconds between sent frames.
_DEFAULTS: dict[str, SharingCaps] = {
    # 1024 streams a connection, two a market; 5 messages a second, kept at 1/0.3 s
    # (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams).
    "BINANCE": SharingCaps(500, 100, 0.3),
    # No cap per connection is documented; 100 messages a second per IP
    # (https://docs.cdp.coinbase.com/exchange/websocket-feed/rate-limits).
    "COINBASE": SharingCaps(100, 50, 0.05),
    # No cap is documented for v1; kept modest so a resync's resubscribe stays cheap
    # (https://docs.kraken.com/exchange/api-reference/spot-websocket-v1/subscribe.md).
    "KRAKEN": SharingCaps(100, 50, 0.2),
    # 480 subscribe/unsubscribe requests an hour a connection, 64 KB of args a request
    # (https://www.okx.com/docs-v5/en/#overview-websocket-subscribe): big requests, few of them.
    "OKX": SharingCaps(200, 100, 0.35),
    # Ten args a request on spot (the scheme splits its frames accordingly)
    # (https://bybit-exchange.github.io/docs/v5/ws/connect).
    "BYBIT": SharingCaps(100, 50, 0.1),
    # No cap is documented; one request per channel, so requests stay small
    # (https://www.bitstamp.net/websocket/v2/).
    "BITSTAMP": SharingCaps(50, 25, 0.1),
    # Subscribe requests: about 3.3 a second sustained
    # (https://docs.deribit.com/api-reference/subscription-management/public-subscribe.md).
    "DERIBIT": SharingCaps(100, 50, 0.3),
    # No cap is documented for v2 market data
    # (https://docs.gemini.com/websocket-api/#market-data-version-2).
    "GEMINI": SharingCaps(50, 25, 0.2),
    # 500 requests a second a connection, 2000 connections an IP
    # (https://api-docs.poloniex.com/spot/websocket).
    "POLONIEX": SharingCaps(100, 50, 0.05),
    # No cap is documented; one request per channel, three channels a market
    # (https://bf-lightning-api.readme.io/docs/realtime-api).
    "BITFLYER": SharingCaps(50, 25, 0.1),
    # No cap per connection is documented; requests are limited per IP
    # (https://www.bitmex.com/app/wsAPI).
    "BITMEX": SharingCaps(100, 50, 0.2),
    # 25 channels a connection, two a market (book, trades); no send rate is published,
    # 5 a second assumed (https://docs.bitfinex.com/docs/ws-public).
    "BITFINEX": SharingCaps(12, 12, 0.25),
    # No cap is published for api/3; one request carries a list of symbols
    # (https://api.hitbtc.com/#subscriptions): the assumed 100 streams a connection.
    "HITBTC": SharingCaps(100, 50, 0.25),
}
_FALLBACK = SharingCaps(50, 25, 0.25)


def caps_for(scheme: Any, configured: int | None = None) -> SharingCaps:
    """The caps of a scheme's shared connections: the venue's own, lowered to
    the configured cap when that is smaller."""
    base = _DEFAULTS.get(str(scheme.name), _FALLBACK)
    limits = getattr(scheme, "limits", None)
    per_connection = getattr(limits, "subscriptions_per_connection", None)
    cap = int(per_connection) if isinstance(per_connection, int) and per_connection > 0 else base.markets_per_connection
    per_second = getattr(limits, "messages_per_second", None)
    interval = base.send_interval
    if isinstance(per_second, (int, float)) and per_second > 0:
        interval = max(interval, 1.0 / float(per_second))
    if configured is not None and configured > 0:
        cap = min(cap, configured)
    return SharingCaps(cap, max(1, min(base.markets_per_request, cap)), interval)
