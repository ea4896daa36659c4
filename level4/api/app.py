"""The Starlette application: routes, auth, and the error contract."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from level4 import dashboard
from level4.api import body as b
from level4.api.auth import bearer, matches
from level4.api.http_errors import ApiError, invalid
from level4.api.jsonresponse import json_response
from level4.api.openapi import spec
from level4.catalogue.catalogue_errors import CatalogueError
from level4.consolidated.pair_groups import parse_group
from level4.metrics.service import ServiceMetrics
from level4.stream.candles import INTERVALS, KEPT
from level4.stream.downstream import Downstream
from level4.stream.endpoint import StreamSession, refuse

log = structlog.get_logger(__name__)

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class Control(Protocol):
    """What the API needs of the running service (sync, thread-safe)."""

    def add_symbol(self, symbol: str) -> dict[str, Any]: ...
    def list_symbols(self) -> list[dict[str, Any]]: ...
    def add_exchange(self, name: str, ws_url: str | None, rest_url: str | None) -> dict[str, Any]: ...
    def list_exchanges(self) -> list[dict[str, Any]]: ...
    def add_market(
        self, exchange: str | int, base: str | int, quote: str | int, market_type: str, instrument: str
    ) -> dict[str, Any]: ...
    def list_markets(self, enabled: bool | None) -> list[dict[str, Any]]: ...
    def get_market(self, market_id: int) -> dict[str, Any]: ...
    def set_feed(self, market_id: int, enabled: bool) -> dict[str, Any]: ...
    def delete_market(self, market_id: int) -> None: ...
    def book(self, market_id: int, depth: int | None) -> dict[str, Any]: ...
    def health(self) -> dict[str, Any]: ...


Handler = Callable[[Request], Awaitable[Response]]


def create_app(
    control: Control,
    token: str | None = None,
    downstream: Downstream | None = None,
    metrics: ServiceMetrics | None = None,
) -> Starlette:
    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(fn, *args)

    async def post_symbol(request: Request) -> Response:
        body = await b.json_object(request)
        b.no_unknown_fields(body, {"symbol"})
        symbol = b.string(body, "symbol", max_len=32)
        return json_response(await call(control.add_symbol, symbol), 201)

    async def get_symbols(request: Request) -> Response:
        return json_response(await call(control.list_symbols))

    async def post_exchange(request: Request) -> Response:
        body = await b.json_object(request)
        b.no_unknown_fields(body, {"name", "ws_url", "rest_url"})
        name = b.string(body, "name", max_len=32)
        ws_url = b.string(body, "ws_url", required=False, max_len=2000)
        rest_url = b.string(body, "rest_url", required=False, max_len=2000)
        return json_response(await call(control.add_exchange, name, ws_url, rest_url), 201)

    async def get_exchanges(request: Request) -> Response:
        return json_response(await call(control.list_exchanges))

    async def post_market(request: Request) -> Response:
        body = await b.json_object(request)
        b.no_unknown_fields(body, {"exchange", "base_symbol", "quote_symbol", "market_type", "instrument"})
        exchange = b.name_or_id(body, "exchange")
        base = b.name_or_id(body, "base_symbol")
        quote = b.name_or_id(body, "quote_symbol")
        market_type = b.string(body, "market_type", required=False, max_len=16) or "SPOT"
        instrument = b.string(body, "instrument", required=False, max_len=100) or ""
        market = await call(control.add_market, exchange, base, quote, market_type, instrument)
        return json_response(market, 201)

    async def get_markets(request: Request) -> Response:
        enabled = b.query_bool(request, "enabled")
        return json_response(await call(control.list_markets, enabled))

    async def get_market(request: Request) -> Response:
        market_id = b.path_id(request.path_params["id"])
        return json_response(await call(control.get_market, market_id))

    async def patch_market(request: Request) -> Response:
        market_id = b.path_id(request.path_params["id"])
        body = await b.json_object(request)
        b.no_unknown_fields(body, {"level4_feed_enabled"})
        enabled = b.boolean(body, "level4_feed_enabled")
        return json_response(await call(control.set_feed, market_id, enabled))

    async def delete_market(request: Request) -> Response:
        market_id = b.path_id(request.path_params["id"])
        await call(control.delete_market, market_id)
        return Response(status_code=204)

    async def get_book(request: Request) -> Response:
        market_id = b.path_id(request.path_params["id"])
        depth = b.query_int(request, "depth", None, 1, 100_000)
        return json_response(await call(control.book, market_id, depth))

    async def get_health(request: Request) -> Response:
        health = await call(control.health)
        return json_response(health, 200 if health.get("database") == "ok" else 503)

    async def get_openapi(request: Request) -> Response:
        return json_response(spec())

    routes: list[BaseRoute] = [
        Route("/symbols", post_symbol, methods=["POST"]),
        Route("/symbols", get_symbols, methods=["GET"]),
        Route("/exchanges", post_exchange, methods=["POST"]),
        Route("/exchanges", get_exchanges, methods=["GET"]),
        Route("/markets", post_market, methods=["POST"]),
        Route("/markets", get_markets, methods=["GET"]),
        Route("/markets/{id}", get_market, methods=["GET"]),
        Route("/markets/{id}", patch_market, methods=["PATCH"]),
        Route("/markets/{id}", delete_market, methods=["DELETE"]),
        Route("/markets/{id}/book", get_book, methods=["GET"]),
        Route("/health", get_health, methods=["GET"]),
        Route("/openapi.json", get_openapi, methods=["GET"]),
    ]
    if downstream is not None:
        routes += downstream_routes(downstream, token, call)
    if metrics is not None:

        async def get_metrics(request: Request) -> Response:
            body, content_type = await call(metrics.render, request.headers.get("accept"))
            return Response(body, headers={"Content-Type": content_type})

        routes.append(Route("/metrics", get_metrics, methods=["GET"]))
    routes += dashboard.routes()

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def catalogue_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CatalogueError)
        return json_response(exc.to_dict(), exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return json_response({"error": code, "detail": str(exc.detail)}, exc.status_code)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("request_failed", method=request.method, path=request.url.path, exc_info=exc)
        return json_response({"error": "internal", "detail": "unexpected error; see the service log"}, 500)

    return Starlette(
        routes=routes,
        middleware=[Middleware(TokenAuth, token=token)],
        exception_handlers={
            ApiError: api_error,
            CatalogueError: catalogue_error,
            HTTPException: http_error,
            Exception: unexpected,
        },
    )


def downstream_routes(
    downstream: Downstream, token: str | None, call: Callable[..., Awaitable[Any]]
) -> list[BaseRoute]:
    """The query routes over live data and the /stream websocket."""
    secret = token.encode() if token else None

    async def get_top(request: Request) -> Response:
        market_id = b.path_id(request.path_params["id"])
        return json_response(await call(downstream.top, market_id))

    async def get_trades(request: Request) -> Response:
        market_id = b.path_id(request.path_params["id"])
        limit = b.query_int(request, "limit", 100, 1, 1000)
        return json_response(await call(downstream.trades, market_id, limit))

    async def get_candles(request: Request) -> Response:
        market_id = b.path_id(request.path_params["id"])
        interval = request.query_params.get("interval", "1m")
        if interval not in INTERVALS:
            raise invalid("interval", f"must be one of {', '.join(INTERVALS)}")
        limit = b.query_int(request, "limit", None, 1, KEPT)
        return json_response(await call(downstream.candles, market_id, interval, limit))

    async def get_consolidated(request: Request) -> Response:
        depth = b.query_int(request, "depth", None, 1, 100_000)
        market_type = request.query_params.get("type", "SPOT").upper()
        equivalent = [q for q in request.query_params.get("equivalent", "").split(",") if q.strip()]
        try:
            group = parse_group(f"{market_type}:{request.path_params['pair']}", equivalent)
        except ValueError as exc:
            raise invalid("pair", str(exc)) from None
        body = await call(downstream.consolidated, group, depth)
        if not body["markets"] and not body["excluded"]:
            raise ApiError(404, "not_found", f"no market of {group.name} (quotes {', '.join(sorted(group.quotes))})")
        return json_response(body)

    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        if secret is not None:
            supplied = bearer(websocket.scope["headers"])
            if supplied is None and "token" in websocket.query_params:
                supplied = websocket.query_params["token"].encode()
            if not matches(supplied, secret):
                detail = "missing token" if supplied is None else "wrong token"
                await refuse(websocket, "unauthorized", f"{detail}: send Authorization: Bearer or ?token=")
                return
        try:
            await StreamSession(websocket, downstream).run()
        except Exception:
            log.exception("stream_failed")

    return [
        Route("/markets/{id}/top", get_top, methods=["GET"]),
        Route("/markets/{id}/trades", get_trades, methods=["GET"]),
        Route("/markets/{id}/candles", get_candles, methods=["GET"]),
        Route("/books/{pair}", get_consolidated, methods=["GET"]),
        WebSocketRoute("/stream", stream),
    ]


class TokenAuth:
    """Mutating requests need `Authorization: Bearer <token>` when a token is set."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is not None and scope["type"] == "http" and scope["method"] in MUTATING:
            supplied = bearer(scope["headers"])
            if not matches(supplied, self.token):
                detail = "missing bearer token" if supplied is None else "wrong bearer token"
                response = json_response(
                    {"error": "unauthorized", "detail": detail}, 401, {"WWW-Authenticate": "Bearer"}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
