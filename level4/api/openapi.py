"""/openapi.json, generated from the routes the app serves and their
declarations: a route that is served is described, and only those are.
A route nobody declared stops the app from being built."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from level4 import __version__
from level4.api.answer_schemas import SCHEMAS
from level4.api.request_guard import MUTATING
from level4.api.route_declaration import JSON, Answer, Body, Described, Param, Resource, SocketRoute, ref

WORDS = {
    401: "Missing or wrong bearer token",
    403: "A page of another origin, not listed in LEVEL4_CORS_ORIGINS",
    404: "Unknown id",
    409: "Duplicate",
    413: "Body too large",
    415: "The body is not sent as Content-Type: application/json",
    422: "Invalid body or query",
    502: "The venue's instrument list could not be fetched",
    503: "Database unavailable",
}


def document(routes: Iterable[BaseRoute], described: Sequence[Described] = ()) -> dict[str, Any]:
    """The OpenAPI 3 document of `routes`; `described` covers routes served by
    other modules, found by path."""
    others = {d.path: d for d in described}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if isinstance(route, Resource):
            for method, e in route.endpoints.items():
                operation = _operation(e.summary, e.description, e.params, e.answers, e.errors, e.body, method)
                paths.setdefault(route.path, {})[method.lower()] = operation
        elif isinstance(route, SocketRoute):
            s = route.socket
            answers = (Answer(101, "Switching to the websocket protocol"),)
            paths.setdefault(s.path, {})["get"] = _operation(s.summary, s.description, s.params, answers, (403,))
        elif isinstance(route, Route | Mount | WebSocketRoute):
            path = f"{route.path}/{{path}}" if isinstance(route, Mount) else route.path
            d = others.get(path)
            if d is None:
                raise LookupError(f"the route {path} is served but not described")
            paths.setdefault(path, {})[d.method.lower()] = _operation(d.summary, "", d.params, d.answers, d.errors)
        else:
            raise LookupError(f"the route {route!r} is served but not described")
    return {
        "openapi": "3.0.3",
        "info": {"title": "level4", "version": __version__},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
    }


def _operation(
    summary: str,
    description: str,
    params: Sequence[Param],
    answers: Sequence[Answer],
    errors: Sequence[int],
    body: Body | None = None,
    method: str = "GET",
) -> dict[str, Any]:
    refusals = set(errors)
    if method in MUTATING:
        refusals |= {401, 403, 415}  # the guard's: token, origin, content type
    if body is not None:
        refusals |= {413, 422}
    responses = {str(a.status): _answer(a) for a in answers}
    for status in sorted(refusals):
        responses.setdefault(str(status), {"description": WORDS[status], "content": {JSON: {"schema": ref("Error")}}})
    operation: dict[str, Any] = {"summary": summary}
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = [p.parameter() for p in params]
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body.schema()}}}
    operation["responses"] = responses
    return operation


def _answer(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    if answer.schema is not None:
        out["content"] = {media: {"schema": answer.schema} for media in answer.media}
    return out
