"""The control API over a real socket: every route, every refusal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from level4.api.app import create_app
from level4.catalogue import Unavailable
from tests.support import running_service


@pytest.fixture
def api(db_url: str) -> Iterator[httpx.Client]:
    with running_service(db_url) as (_service, base), httpx.Client(base_url=base, timeout=10) as client:
        yield client


def seed(api: httpx.Client) -> dict[str, Any]:
    api.post("/symbols", json={"symbol": "btc"})
    api.post("/symbols", json={"symbol": "USD"})
    api.post("/exchanges", json={"name": "Coinbase"})
    r = api.post("/markets", json={"exchange": "COINBASE", "base_symbol": "BTC", "quote_symbol": "USD"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_symbols_and_exchanges(api: httpx.Client) -> None:
    r = api.post("/symbols", json={"symbol": "btc"})
    assert r.status_code == 201 and r.json() == {"id": 1, "symbol": "BTC"}
    assert api.get("/symbols").json() == [{"id": 1, "symbol": "BTC"}]
    r = api.post("/exchanges", json={"name": "kraken", "ws_url": "ws://127.0.0.1:1/"})
    assert r.status_code == 201
    assert r.json() == {"id": 1, "name": "KRAKEN", "ws_url": "ws://127.0.0.1:1/", "rest_url": None}
    assert [e["name"] for e in api.get("/exchanges").json()] == ["KRAKEN"]


def test_market_shape_and_filters(api: httpx.Client) -> None:
    market = seed(api)
    for key in ("id", "tag", "exchange", "base_symbol", "quote_symbol", "market_type", "level4_feed_enabled", "status"):
        assert key in market
    assert market["tag"] == "COINBASE.SPOT:BTC-USD" and market["status"] == "stopped"
    assert api.get("/markets").json()[0]["id"] == market["id"]
    assert api.get("/markets", params={"enabled": "false"}).json()[0]["id"] == market["id"]
    assert api.get("/markets", params={"enabled": "true"}).json() == []
    assert api.get(f"/markets/{market['id']}").json()["tag"] == market["tag"]
    book = api.get(f"/markets/{market['id']}/book").json()
    assert book == {"market": market["tag"], "synchronised": False, "bids": [], "asks": [], "reason": "feed is stopped"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/symbols", {}, "symbol"),
        ("/symbols", {"symbol": 5}, "symbol"),
        ("/symbols", {"symbol": ""}, "symbol"),
        ("/symbols", {"symbol": "BTC", "extra": 1}, "extra"),
        ("/exchanges", {"name": "NOPE"}, "name"),
        ("/exchanges", {"name": "KRAKEN", "ws_url": "http://x"}, "ws_url"),
        ("/markets", {"exchange": "COINBASE"}, "base_symbol"),
        ("/markets", {"exchange": True, "base_symbol": "BTC", "quote_symbol": "USD"}, "exchange"),
        (
            "/markets",
            {"exchange": "COINBASE", "base_symbol": "BTC", "quote_symbol": "USD", "market_type": "SWAP"},
            "market_type",
        ),
        (
            "/markets",
            {"exchange": "COINBASE", "base_symbol": "BTC", "quote_symbol": "USD", "market_type": "PERP"},
            "market_type",
        ),
    ],
)
def test_bad_bodies_name_the_field(api: httpx.Client, path: str, body: dict[str, Any], field: str) -> None:
    seed(api)
    r = api.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid" and r.json()["field"] == field and r.json()["detail"]


def test_unknown_venue_lists_the_known_ones(api: httpx.Client) -> None:
    detail = api.post("/exchanges", json={"name": "FTX"}).json()["detail"]
    assert "FTX" in detail and "COINBASE" in detail and "KRAKEN" in detail


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b'"text"', b"null"])
def test_malformed_json_is_422(api: httpx.Client, raw: bytes) -> None:
    r = api.post("/symbols", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_json"


def test_large_body_is_refused(api: httpx.Client) -> None:
    body = b'{"symbol": "' + b"A" * 100_000 + b'"}'
    r = api.post("/symbols", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_duplicates_are_409(api: httpx.Client) -> None:
    seed(api)
    assert api.post("/symbols", json={"symbol": "BTC"}).status_code == 409
    assert api.post("/exchanges", json={"name": "COINBASE"}).status_code == 409
    r = api.post("/markets", json={"exchange": 1, "base_symbol": 1, "quote_symbol": 2})
    assert r.status_code == 409 and r.json()["error"] == "duplicate"


@pytest.mark.parametrize("ident", ["999", "0", "abc", "99999999999999999999999999", "-1"])
def test_unknown_ids_are_404(api: httpx.Client, ident: str) -> None:
    for method, path, body in (
        ("GET", f"/markets/{ident}", None),
        ("PATCH", f"/markets/{ident}", {"level4_feed_enabled": True}),
        ("GET", f"/markets/{ident}/book", None),
        ("DELETE", f"/markets/{ident}", None),
    ):
        r = api.request(method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"] == "not_found"


def test_patch_needs_a_boolean(api: httpx.Client) -> None:
    market = seed(api)
    for body in ({}, {"level4_feed_enabled": "yes"}, {"level4_feed_enabled": 1}):
        r = api.patch(f"/markets/{market['id']}", json=body)
        assert r.status_code == 422 and r.json()["field"] == "level4_feed_enabled"


def test_query_parameters_are_checked(api: httpx.Client) -> None:
    market = seed(api)
    assert api.get("/markets", params={"enabled": "maybe"}).status_code == 422
    for depth in ("0", "-3", "x", "100001"):
        assert api.get(f"/markets/{market['id']}/book", params={"depth": depth}).status_code == 422


def test_unknown_route_and_method_are_json(api: httpx.Client) -> None:
    r = api.get("/nowhere")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = api.put("/symbols", json={})
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_delete_stops_and_removes(api: httpx.Client) -> None:
    market = seed(api)
    assert api.delete(f"/markets/{market['id']}").status_code == 204
    assert api.get(f"/markets/{market['id']}").status_code == 404


def test_openapi_describes_every_route(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    expected = {
        ("/symbols", "get"),
        ("/symbols", "post"),
        ("/exchanges", "get"),
        ("/exchanges", "post"),
        ("/exchanges/{name}/instruments", "get"),
        ("/exchanges/{name}/markets", "post"),
        ("/markets", "get"),
        ("/markets", "post"),
        ("/markets/{id}", "get"),
        ("/markets/{id}", "patch"),
        ("/markets/{id}", "delete"),
        ("/markets/{id}/book", "get"),
        ("/health", "get"),
        ("/openapi.json", "get"),
        ("/markets/{id}/top", "get"),
        ("/markets/{id}/trades", "get"),
        ("/markets/{id}/candles", "get"),
        ("/books/{pair}", "get"),
        ("/stream", "get"),
        ("/", "get"),
        ("/dashboard/{path}", "get"),
        ("/metrics", "get"),
        ("/cluster", "get"),
        ("/venues", "get"),
        ("/cluster/statuses", "get"),
    }
    described = {(p, m) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    assert described == expected


def test_health(api: httpx.Client) -> None:
    r = api.get("/health")
    assert r.status_code == 200 and r.json()["database"] == "ok" and r.json()["markets_not_live"] == []


def test_token_guards_every_mutating_route(db_url: str) -> None:
    with running_service(db_url, api_token="s3cret") as (_s, base), httpx.Client(base_url=base) as api:
        assert api.get("/symbols").status_code == 200  # reads stay open
        for method, path, body in (
            ("POST", "/symbols", {"symbol": "BTC"}),
            ("POST", "/exchanges", {"name": "KRAKEN"}),
            ("POST", "/markets", {"exchange": 1, "base_symbol": 1, "quote_symbol": 2}),
            ("PATCH", "/markets/1", {"level4_feed_enabled": True}),
            ("DELETE", "/markets/1", None),
        ):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
                r = api.request(method, path, json=body, headers=headers)
                assert r.status_code == 401, (method, path, headers)
                assert r.json()["error"] == "unauthorized"
        ok = api.post("/symbols", json={"symbol": "BTC"}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 201


class _DownControl:
    """A control whose database is unreachable."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any) -> Any:
            raise Unavailable("the catalogue database is unavailable: connection refused")

        return fail

    def health(self) -> dict[str, Any]:
        return {"database": "unavailable", "detail": "connection refused", "markets_not_live": None}


def test_database_down_is_503_never_500() -> None:
    client = TestClient(create_app(_DownControl()), base_url="http://127.0.0.1")  # type: ignore[arg-type]
    for method, path, body in (
        ("GET", "/symbols", None),
        ("POST", "/symbols", {"symbol": "BTC"}),
        ("GET", "/markets", None),
        ("PATCH", "/markets/1", {"level4_feed_enabled": False}),
    ):
        r = client.request(method, path, json=body)
        assert r.status_code == 503 and r.json()["error"] == "unavailable", (method, path)
    assert client.get("/health").status_code == 503


def test_a_single_node_says_it_is_no_cluster_and_its_markets_name_no_node(api: httpx.Client) -> None:
    answer = api.get("/cluster")
    assert answer.status_code == 200 and answer.json() == {"node": None, "nodes": []}, answer.text
    for code in ("BTC", "USD"):
        api.post("/symbols", json={"symbol": code})
    api.post("/exchanges", json={"name": "COINBASE"})
    market = api.post("/markets", json={"exchange": "COINBASE", "base_symbol": "BTC", "quote_symbol": "USD"}).json()
    assert market["node"] is None and market["epoch"] == 0
