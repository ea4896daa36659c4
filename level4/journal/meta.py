"""What a journal says about its market, and the market context rebuilt from it."""

from __future__ import annotations

from typing import Any

from level4.market.context import MarketContext
from level4.market.hub import EventHub
from level4.market.publisher import MarketPublisher
from level4.market.registry import Registry
from level4.market.status_board import StatusBoard
from translations import scheme_for_journal
from translations.protocol import Instrument, MarketType, Scheme


def meta_for(ctx: MarketContext) -> dict[str, Any]:
    """Everything a replay needs to build the market's actors as the service did."""
    return market_meta(ctx.market, ctx.scheme, ctx.instrument, ctx.ws_url, ctx.rest_url)


def market_meta(
    market: dict[str, Any], scheme: Scheme, instrument: Instrument, ws_url: str, rest_url: str
) -> dict[str, Any]:
    """The same from its parts; `market` is the catalogue's dict (at least `id` and `tag`)."""
    i = instrument
    return {
        "id": int(market["id"]),
        "tag": str(market["tag"]),
        "scheme": scheme.name,
        "api": scheme.api,
        "market": dict(market),
        "instrument": {"base": i.base, "quote": i.quote, "market_type": str(i.market_type), "symbol": i.symbol},
        "ws_url": ws_url,
        "rest_url": rest_url,
    }


def context_from(
    meta: dict[str, Any], registry: Registry, board: StatusBoard, hub: EventHub, publisher: MarketPublisher, log: Any
) -> MarketContext:
    i = meta["instrument"]
    return MarketContext(
        market=meta["market"],
        scheme=scheme_for_journal(meta["scheme"], meta.get("api", ""), meta["ws_url"]),
        instrument=Instrument(i["base"], i["quote"], MarketType(i["market_type"]), i["symbol"]),
        registry=registry,
        board=board,
        hub=hub,
        ws_url=meta["ws_url"],
        rest_url=meta["rest_url"],
        log=log,
        publisher=publisher,
    )
