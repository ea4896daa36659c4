"""The routes over live data: top of book, trades, candles, the consolidated
book, and the /stream websocket."""

from __future__ import annotations

from typing import cast

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from level4.api.auth import bearer, matches
from level4.api.forwarding import from_owner
from level4.api.http_errors import ApiError, invalid
from level4.api.jsonresponse import json_response
from level4.api.route_declaration import (
    Answer,
    Endpoint,
    MarketId,
    PathText,
    QueryChoice,
    QueryInt,
    QueryText,
    Socket,
    ref,
)
from level4.consolidated.pair_groups import parse_group
from level4.stream.candles import INTERVALS, KEPT
from level4.stream.downstream import Downstream
from level4.stream.endpoint import StreamSession, refuse

log = structlog.get_logger(__name__)


def downstream(request: Request | WebSocket) -> Downstream:
    return cast(Downstream, request.app.state.downstream)


ID = MarketId()
LIMIT = QueryInt("limit", 1, 1000, 100)
CANDLE_LIMIT = QueryInt("limit", 1, KEPT)
INTERVAL = QueryChoice("interval", tuple(INTERVALS), "1m")
PAIR = PathText("pair", "BASE-QUOTE", "BTC-USD")
DEPTH = QueryInt("depth", 1, 100_000, description="levels a side (all)")
# parse_group checks the type with the pair: it says why dated futures and options are not merged
TYPE = QueryChoice("type", ("SPOT", "PERP"), "SPOT", upper=True, checked=False)
EQUIVALENT = QueryText("equivalent", "quotes to treat as one", "USD,USDT,USDC")
TOKEN = QueryText("token", "the API token, when not sent as a header")


async def get_top(request: Request) -> Response:
    market_id = ID.read(request)
    if (answer := await from_owner(request, market_id)) is not None:
        return answer
    return json_response(await run_in_threadpool(downstream(request).top, market_id))


async def get_trades(request: Request) -> Response:
    market_id = ID.read(request)
    if (answer := await from_owner(request, market_id)) is not None:
        return answer
    limit = LIMIT.read(request) or 100  # LIMIT has a default: never None
    return json_response(await run_in_threadpool(downstream(request).trades, market_id, limit))


async def get_candles(request: Request) -> Response:
    market_id, interval, limit = ID.read(request), INTERVAL.read(request), CANDLE_LIMIT.read(request)
    if (answer := await from_owner(request, market_id)) is not None:
        return answer
    return json_response(await run_in_threadpool(downstream(request).candles, market_id, interval, limit))


async def get_consolidated(request: Request) -> Response:
    depth, market_type = DEPTH.read(request), TYPE.read(request)
    equivalent = [q for q in EQUIVALENT.read(request).split(",") if q.strip()]
    try:
        group = parse_group(f"{market_type}:{PAIR.read(request)}", equivalent)
    except ValueError as exc:
        raise invalid("pair", str(exc)) from None
    body = await run_in_threadpool(downstream(request).consolidated, group, depth)
    if not body["markets"] and not body["excluded"]:
        raise ApiError(404, "not_found", f"no market of {group.name} (quotes {', '.join(sorted(group.quotes))})")
    return json_response(body)


async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    secret: bytes | None = websocket.app.state.token
    if secret is not None:
        supplied = bearer(websocket.scope["headers"])
        if supplied is None and TOKEN.name in websocket.query_params:
            supplied = websocket.query_params[TOKEN.name].encode()
        if not matches(supplied, secret):
            detail = "missing token" if supplied is None else "wrong token"
            await refuse(websocket, "unauthorized", f"{detail}: send Authorization: Bearer or ?token=")
            return
    try:
        await StreamSession(websocket, downstream(websocket)).run()
    except Exception:
        log.exception("stream_failed")


STREAM = """Websocket (JSON text messages). Send
`{"op": "subscribe"|"unsubscribe", "markets": [id, tag, "BASE-QUOTE", ...],
"channels": ["top", "trade", "book", "status", "consolidated"], "equivalent"?: [quotes], "id"?: any}`.
Replies: `{"type": "subscribed"|"unsubscribed", ...}`, `{"type": "error", "error", "detail"}`; events carry
`channel`. A book subscription starts with a snapshot whose `sequence` is the last event it covers.
With LEVEL4_API_TOKEN set, send `Authorization: Bearer <token>` or `?token=`. A page of another origin
is refused (403) unless listed in LEVEL4_CORS_ORIGINS. A client with more than LEVEL4_STREAM_QUEUE
messages unsent is closed with code 1008 and the reason. See README.org."""

NEEDS = "downstream"
ENDPOINTS = [
    Endpoint(
        "GET",
        "/markets/{id}/top",
        get_top,
        "The market's best bid and ask, spread and mid, from its last top event",
        (Answer(200, "Top of book", ref("Top")),),
        params=(ID,),
        errors=(404, 503),
        needs=NEEDS,
    ),
    Endpoint(
        "GET",
        "/markets/{id}/trades",
        get_trades,
        "Recent trades, the newest first (up to 1000 kept per market)",
        (Answer(200, "Trades", ref("Trades")),),
        params=(ID, LIMIT),
        errors=(404, 422, 503),
        needs=NEEDS,
    ),
    Endpoint(
        "GET",
        "/markets/{id}/candles",
        get_candles,
        "OHLCV candles from the market's trades, oldest first; the last may be open",
        (Answer(200, "Candles", ref("Candles")),),
        params=(ID, INTERVAL, CANDLE_LIMIT),
        errors=(404, 422, 503),
        needs=NEEDS,
    ),
    Endpoint(
        "GET",
        "/books/{pair}",
        get_consolidated,
        "The consolidated book: every synchronised market of the pair merged into one ladder",
        (Answer(200, "Consolidated book", ref("ConsolidatedBook")),),
        params=(PAIR, DEPTH, TYPE, EQUIVALENT),
        errors=(404, 422, 503),
        needs=NEEDS,
    ),
]
SOCKETS = [
    Socket("/stream", stream, "Event stream (websocket upgrade)", STREAM, params=(TOKEN,), needs=NEEDS),
]
