"""What operators look at: the Prometheus metrics, the venues' connections
and limits, and the dashboard (its routes are the dashboard's own; they are
described here)."""

from __future__ import annotations

from typing import cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from level4.api.jsonresponse import json_response
from level4.api.route_declaration import Answer, Described, Endpoint, PathText, ref
from level4.metrics.service import ServiceMetrics
from level4.net import venue_overview


async def get_metrics(request: Request) -> Response:
    metrics = cast(ServiceMetrics, request.app.state.metrics)
    body, content_type = await run_in_threadpool(metrics.render, request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type})


async def get_venues(request: Request) -> Response:
    # Off the server's loop: the connections are read on the IO loop, waited for here.
    return json_response(await run_in_threadpool(venue_overview.venues))


TEXT = {"type": "string"}
ENDPOINTS = [
    Endpoint(
        "GET",
        "/metrics",
        get_metrics,
        "Prometheus metrics: frames, events, resyncs, reconnects, checksum failures, "
        "market status, receipt-to-publish latency, /stream clients, sinks",
        (
            Answer(
                200,
                "Prometheus text format (OpenMetrics when asked for in Accept)",
                TEXT,
                ("text/plain", "application/openmetrics-text"),
            ),
        ),
        needs="metrics",
    ),
    Endpoint(
        "GET",
        "/venues",
        get_venues,
        "Each venue API's connections (markets on each against its cap) and its limiter: "
        "connects, sends and REST weight used of each limit, callers queued, backoff with its reason",
        (Answer(200, "Venues", {"type": "array", "items": ref("Venue")}),),
    ),
]
DASHBOARD = [
    Described(
        "/",
        "The dashboard: markets, books, trades and the consolidated book, live",
        (Answer(200, "The page", TEXT, ("text/html",)),),
    ),
    Described(
        "/dashboard/{path}",
        "The dashboard's scripts and style sheet",
        (Answer(200, "A file", TEXT, ("text/javascript", "text/css", "text/html", "image/svg+xml")),),
        params=(
            PathText(
                "path",
                example="js/main.js",
                pattern="^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*[.](js|css|svg|html)$",
            ),
        ),
        errors=(404,),
    ),
]
