"""/openapi.json describes every route the app serves, method and path, and
nothing else: read from Starlette's own route table, and checked against the
running service, where every method a path does not describe is a 405 that
names exactly the described ones."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import httpx
from starlette.routing import Mount, Route, WebSocketRoute

from level4.api.app import Control, create_app
from level4.metrics.service import ServiceMetrics
from level4.stream.downstream import Downstream
from tests.support import running_service

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
EXAMPLES = {"id": "1", "pair": "BTC-USD", "path": "js/main.js", "name": "BINANCE"}


def described(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document["paths"].items() for method in item}


def served(routes: list[Any]) -> set[tuple[str, str]]:
    """(path, method) of every route, as Starlette will match them."""
    out: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Route):
            out |= {(route.path, m) for m in route.methods or () if m != "HEAD"}
        elif isinstance(route, WebSocketRoute):
            out.add((route.path, "GET"))  # the upgrade
        elif isinstance(route, Mount):
            out.add((f"{route.path}/{{path}}", "GET"))  # static files
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return out


def test_the_document_is_the_route_table() -> None:
    for parts in ({}, {"downstream": Downstream, "metrics": ServiceMetrics}):
        app = create_app(cast(Control, object()), **{k: cast(Any, object()) for k in parts})
        assert described(app.state.openapi) == served(app.routes)
    bare = create_app(cast(Control, object())).state.openapi
    assert "/stream" not in bare["paths"] and "/metrics" not in bare["paths"]  # served only with their parts


def test_the_running_service_serves_what_it_describes_and_nothing_else(tmp_path: Path) -> None:
    with (
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}") as (_service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        document = api.get("/openapi.json").json()
        full = create_app(
            cast(Control, object()), downstream=cast(Downstream, object()), metrics=cast(ServiceMetrics, object())
        )
        assert document == full.state.openapi
        for path, item in document["paths"].items():
            if path == "/stream":
                continue  # a websocket: see tests/stream
            url = re.sub(r"\{(\w+)\}", lambda m: EXAMPLES[m.group(1)], path)
            allowed = {m.upper() for m in item}
            for method in METHODS:
                json_body = {} if method in ("POST", "PUT", "PATCH") else None
                r = api.request(method, url, json=json_body)
                if method in allowed:
                    assert r.status_code != 405, (method, path, r.text)
                    assert r.status_code != 404 or r.json()["detail"] != "Not Found", (method, path)  # no route
                else:
                    assert r.status_code == 405, (method, path, r.status_code)
                    head = {"HEAD"} if "GET" in allowed else set()  # HEAD is served wherever GET is
                    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed | head, (method, path)
