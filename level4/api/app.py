"""The Starlette application: the declared routes, the guard in front of
them, and the error contract."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from level4 import dashboard
from level4.api import cluster_routes, control_routes, live_routes, operator_routes
from level4.api.allowed_hosts import LOOPBACK_NAMES
from level4.api.control_routes import Control
from level4.api.http_errors import ApiError, refusal
from level4.api.jsonresponse import json_response
from level4.api.openapi import document
from level4.api.request_guard import Guard
from level4.api.route_declaration import Endpoint, Resource, SocketRoute
from level4.catalogue.catalogue_errors import CatalogueError
from level4.cluster.cluster_view import ClusterView
from level4.metrics.service import ServiceMetrics
from level4.stream.downstream import Downstream

__all__ = ["Control", "create_app", "routes"]

log = structlog.get_logger(__name__)

ENDPOINTS: list[Endpoint] = [
    *control_routes.ENDPOINTS,
    *live_routes.ENDPOINTS,
    *operator_routes.ENDPOINTS,
    *cluster_routes.ENDPOINTS,
]


def routes(has: Iterable[str] = ()) -> list[BaseRoute]:
    """Starlette's route table from the declarations: one route per path, with
    the routes that need a part of the service (`needs`) only when it `has` it."""
    served = set(has)
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in ENDPOINTS:
        if endpoint.needs is None or endpoint.needs in served:
            by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    table: list[BaseRoute] = [Resource(path, endpoints) for path, endpoints in by_path.items()]
    table += [SocketRoute(s) for s in live_routes.SOCKETS if s.needs is None or s.needs in served]
    return table + dashboard.routes()


def create_app(
    control: Control,
    token: str | None = None,
    downstream: Downstream | None = None,
    metrics: ServiceMetrics | None = None,
    allowed_hosts: Iterable[str] = LOOPBACK_NAMES,
    cors_origins: Iterable[str] = (),
    cluster: ClusterView | None = None,
) -> Starlette:
    has = [name for name, part in (("downstream", downstream), ("metrics", metrics)) if part is not None]
    app = Starlette(
        routes=routes(has),
        middleware=[Middleware(Guard, allowed_hosts=list(allowed_hosts), cors_origins=list(cors_origins), token=token)],
        exception_handlers={
            ApiError: api_error,
            CatalogueError: catalogue_error,
            HTTPException: http_error,
            Exception: unexpected,
        },
    )
    app.state.control = control
    app.state.downstream = downstream
    app.state.metrics = metrics
    app.state.cluster = cluster  # None on a single node
    app.state.token = token.encode() if token else None
    app.state.openapi = document(app.routes, operator_routes.DASHBOARD)
    return app


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return refusal(request.scope, exc.status, exc.error, exc.detail, **exc.extra)


async def catalogue_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CatalogueError)
    body: dict[str, Any] = exc.to_dict()
    if exc.status >= 500:  # the database, not the client: said as it is, without a traceback to add
        log.warning("request_unavailable", method=request.method, path=request.url.path, detail=exc.detail)
        return json_response(body, exc.status)
    error, detail = body.pop("error"), body.pop("detail")
    return refusal(request.scope, exc.status, error, detail, **body)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    detail, headers = str(exc.detail), dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette's routes name the methods they serve; its static files (the dashboard's) serve GET and HEAD.
        headers.setdefault("Allow", "GET, HEAD")
        detail = f"{request.method} is not served here; allowed: {headers['Allow']}"
    return refusal(request.scope, exc.status_code, code, detail, headers)


async def unexpected(request: Request, exc: Exception) -> Response:
    log.error("request_failed", method=request.method, path=request.url.path, exc_info=exc)
    return json_response({"error": "internal", "detail": "unexpected error; see the service log"}, 500)
