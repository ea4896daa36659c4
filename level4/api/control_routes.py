"""The catalogue and control routes: symbols, exchanges, markets, books, health."""

from __future__ import annotations

from typing import Any, Protocol, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from level4.api.forwarding import from_owner
from level4.api.jsonresponse import json_response
from level4.api.route_declaration import (
    Answer,
    Body,
    Endpoint,
    Field,
    Flag,
    MarketId,
    NameOrId,
    PathText,
    QueryBool,
    QueryInt,
    QueryText,
    Text,
    ref,
)
from level4.catalogue.models import MARKET_TYPES


class Control(Protocol):
    """What the API needs of the running service (sync, thread-safe)."""

    def add_symbol(self, symbol: str) -> dict[str, Any]: ...
    def list_symbols(self) -> list[dict[str, Any]]: ...
    def add_exchange(self, name: str, ws_url: str | None, rest_url: str | None) -> dict[str, Any]: ...
    def list_exchanges(self) -> list[dict[str, Any]]: ...
    def instruments(self, exchange: str, market_type: str, quote: str) -> dict[str, Any]: ...
    def add_market(
        self, exchange: str | int, base: str | int, quote: str | int, market_type: str, instrument: str
    ) -> dict[str, Any]: ...
    def add_listed_markets(self, exchange: str, market_type: str, quote: str, enable: bool) -> dict[str, Any]: ...
    def list_markets(self, enabled: bool | None) -> list[dict[str, Any]]: ...
    def get_market(self, market_id: int) -> dict[str, Any]: ...
    def set_feed(self, market_id: int, enabled: bool) -> dict[str, Any]: ...
    def delete_market(self, market_id: int) -> None: ...
    def book(self, market_id: int, depth: int | None) -> dict[str, Any]: ...
    def health(self) -> dict[str, Any]: ...


def control(request: Request) -> Control:
    return cast(Control, request.app.state.control)


SYMBOL = Body(Field("symbol", Text(32)))
EXCHANGE = Body(
    Field("name", Text(32)),
    Field("ws_url", Text(2000), required=False),
    Field("rest_url", Text(2000), required=False),
)
MARKET = Body(
    Field("exchange", NameOrId()),
    Field("base_symbol", NameOrId()),
    Field("quote_symbol", NameOrId()),
    Field("market_type", Text(16, MARKET_TYPES), required=False),
    Field("instrument", Text(100), required=False),
)
FEED = Body(Field("level4_feed_enabled", Flag()))
LISTED_MARKETS = Body(
    Field("market_type", Text(16, MARKET_TYPES)),
    Field("quote", Text(32), required=False),
    Field("enable", Flag(), required=False),
)
ID = MarketId()
ENABLED = QueryBool("enabled", "only markets whose feed is switched on (true) or off (false)")
DEPTH = QueryInt("depth", 1, 100_000, description="levels a side (all)")
EXCHANGE_NAME = PathText("name", "an exchange in the catalogue", "BINANCE")
LISTED_TYPE = QueryText("type", f"only instruments of this market type: {', '.join(MARKET_TYPES)}", "PERP")
LISTED_QUOTE = QueryText("quote", "only instruments quoted in this currency (normalised, e.g. USDT)", "USDT")


async def post_symbol(request: Request) -> Response:
    body = await SYMBOL.read(request)
    return json_response(await run_in_threadpool(control(request).add_symbol, body["symbol"]), 201)


async def get_symbols(request: Request) -> Response:
    return json_response(await run_in_threadpool(control(request).list_symbols))


async def post_exchange(request: Request) -> Response:
    body = await EXCHANGE.read(request)
    added = await run_in_threadpool(control(request).add_exchange, body["name"], body["ws_url"], body["rest_url"])
    return json_response(added, 201)


async def get_exchanges(request: Request) -> Response:
    return json_response(await run_in_threadpool(control(request).list_exchanges))


async def get_instruments(request: Request) -> Response:
    listed = await run_in_threadpool(
        control(request).instruments,
        EXCHANGE_NAME.read(request),
        LISTED_TYPE.read(request),
        LISTED_QUOTE.read(request),
    )
    return json_response(listed)


async def post_listed_markets(request: Request) -> Response:
    name = EXCHANGE_NAME.read(request)
    body = await LISTED_MARKETS.read(request)
    added = await run_in_threadpool(
        control(request).add_listed_markets, name, body["market_type"], body["quote"] or "", bool(body["enable"])
    )
    return json_response(added)


async def post_market(request: Request) -> Response:
    body = await MARKET.read(request)
    market = await run_in_threadpool(
        control(request).add_market,
        body["exchange"],
        body["base_symbol"],
        body["quote_symbol"],
        body["market_type"] or "SPOT",
        body["instrument"] or "",
    )
    return json_response(market, 201)


async def get_markets(request: Request) -> Response:
    return json_response(await run_in_threadpool(control(request).list_markets, ENABLED.read(request)))


async def get_market(request: Request) -> Response:
    return json_response(await run_in_threadpool(control(request).get_market, ID.read(request)))


async def patch_market(request: Request) -> Response:
    market_id = ID.read(request)
    body = await FEED.read(request)
    return json_response(await run_in_threadpool(control(request).set_feed, market_id, body["level4_feed_enabled"]))


async def delete_market(request: Request) -> Response:
    await run_in_threadpool(control(request).delete_market, ID.read(request))
    return Response(status_code=204)


async def get_book(request: Request) -> Response:
    market_id = ID.read(request)
    if (answer := await from_owner(request, market_id)) is not None:
        return answer
    return json_response(await run_in_threadpool(control(request).book, market_id, DEPTH.read(request)))


async def get_health(request: Request) -> Response:
    health = await run_in_threadpool(control(request).health)
    return json_response(health, 200 if health.get("database") == "ok" else 503)


async def get_openapi(request: Request) -> Response:
    return json_response(request.app.state.openapi)


def _list(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}


ENDPOINTS = [
    Endpoint("GET", "/symbols", get_symbols, "List symbols", (Answer(200, "Symbols", _list("Symbol")),), errors=(503,)),
    Endpoint(
        "POST",
        "/symbols",
        post_symbol,
        "Add a symbol",
        (Answer(201, "Created", ref("Symbol")),),
        body=SYMBOL,
        errors=(409, 503),
    ),
    Endpoint(
        "GET",
        "/exchanges",
        get_exchanges,
        "List exchanges",
        (Answer(200, "Exchanges", _list("Exchange")),),
        errors=(503,),
    ),
    Endpoint(
        "POST",
        "/exchanges",
        post_exchange,
        "Add an exchange (a venue level4 has a translation scheme for)",
        (Answer(201, "Created", ref("Exchange")),),
        body=EXCHANGE,
        errors=(409, 503),
    ),
    Endpoint(
        "GET",
        "/exchanges/{name}/instruments",
        get_instruments,
        "The exchange's instruments, from its venues' own lists (cached, refreshed every few minutes)",
        (Answer(200, "Instruments", ref("Instruments")),),
        params=(EXCHANGE_NAME, LISTED_TYPE, LISTED_QUOTE),
        errors=(404, 422, 502, 503),
    ),
    Endpoint(
        "POST",
        "/exchanges/{name}/markets",
        post_listed_markets,
        "Add (and with enable, start) every market the venue lists of a market type, optionally of one quote",
        (Answer(200, "What was added, found and enabled", ref("ListedMarkets")),),
        params=(EXCHANGE_NAME,),
        body=LISTED_MARKETS,
        errors=(404, 415, 422, 502, 503),
    ),
    Endpoint(
        "GET",
        "/markets",
        get_markets,
        "List markets, optionally by desired feed state",
        (Answer(200, "Markets", _list("Market")),),
        params=(ENABLED,),
        errors=(422, 503),
    ),
    Endpoint(
        "POST",
        "/markets",
        post_market,
        "Add a market",
        (Answer(201, "Created", ref("Market")),),
        body=MARKET,
        errors=(404, 409, 503),
    ),
    Endpoint(
        "GET",
        "/markets/{id}",
        get_market,
        "One market with its desired and actual state",
        (Answer(200, "Market", ref("Market")),),
        params=(ID,),
        errors=(404, 503),
    ),
    Endpoint(
        "PATCH",
        "/markets/{id}",
        patch_market,
        "Switch the market's feed on or off",
        (Answer(200, "Market", ref("Market")),),
        body=FEED,
        params=(ID,),
        errors=(404, 503),
    ),
    Endpoint(
        "DELETE",
        "/markets/{id}",
        delete_market,
        "Stop and remove a market",
        (Answer(204, "Deleted"),),
        params=(ID,),
        errors=(404, 503),
    ),
    Endpoint(
        "GET",
        "/markets/{id}/book",
        get_book,
        "The market's current order book, best first",
        (Answer(200, "Book", ref("Book")),),
        params=(ID, DEPTH),
        errors=(404, 422, 503),
    ),
    Endpoint(
        "GET",
        "/health",
        get_health,
        "Database reachability and markets that are not live",
        (Answer(200, "Healthy", {"type": "object"}), Answer(503, "Database unavailable", {"type": "object"})),
    ),
    Endpoint(
        "GET",
        "/openapi.json",
        get_openapi,
        "This document, generated from the routes the service serves",
        (Answer(200, "OpenAPI 3", {"type": "object"}),),
    ),
]
