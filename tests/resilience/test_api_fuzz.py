"""Property-based fuzzing of every control API route described in
/openapi.json, against the running service over a real socket: valid and
invalid bodies, wrong types, huge ids and strings, malformed JSON. No input
may earn a 5xx, and every answer must match what the description promises
(status code, content type, body schema)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from level4.api.app import Control, create_app
from level4.metrics.service import ServiceMetrics
from level4.stream.downstream import Downstream
from tests.support import running_service

pytestmark = pytest.mark.slow

# Routes that stream for as long as the client stays are not request/answer routes to fuzz;
# the description itself is not an operation of the API it describes.
NOT_FUZZED = ("/stream", "/openapi.json")
TOKEN = "fuzz-token-9f2c"
EXAMPLES = 40  # per route and mode


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("fuzz") / "catalogue.sqlite3"
    with running_service(f"sqlite:///{db}", api_token=TOKEN) as (_service, url):
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"})
        # some rows, so that ids and names the fuzzer tries sometimes exist
        for symbol in ("BTC", "USD"):
            api.post("/symbols", json={"symbol": symbol}).raise_for_status()
        api.post("/exchanges", json={"name": "COINBASE", "ws_url": "ws://127.0.0.1:9/"}).raise_for_status()
        api.post("/markets", json={"exchange": "COINBASE", "base_symbol": "BTC", "quote_symbol": "USD"})
        yield url


@pytest.fixture(scope="module")
def api_schema(service_url: str) -> Any:
    """The description the running service serves."""
    return schemathesis.openapi.from_url(f"{service_url}/openapi.json")


# Known before the service runs (the app of a service with every part generates the same document), so
# each route is a test of its own. Negative cases need something to get wrong: a parameter or a body.
DOCUMENT = create_app(
    cast(Control, object()), downstream=cast(Downstream, object()), metrics=cast(ServiceMetrics, object())
).state.openapi
CASES = [
    pytest.param(f"{method.upper()} {path}", mode, id=f"{method.upper()} {path} {mode.value}")
    for path, item in DOCUMENT["paths"].items()
    if path not in NOT_FUZZED
    for method, operation in item.items()
    if method in ("get", "post", "put", "patch", "delete")
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE
    or item.get("parameters")
    or operation.get("parameters")
    or operation.get("requestBody")
]


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_no_input_breaks_the_api(api_schema: Any, service_url: str, label: str, mode: GenerationMode) -> None:
    operation = next(r.ok() for r in api_schema.get_all_operations() if r.ok().label == label)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=service_url,
            headers={"Authorization": f"Bearer {TOKEN}"},
            checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
            timeout=10,
        )

    check()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", "/symbols", b'{"symbol": "BTC"', 422, "invalid_json"),
        ("POST", "/symbols", b"\xff\xfe\x00", 422, "invalid_json"),
        ("POST", "/symbols", b"[1, 2]", 422, "invalid_json"),
        ("POST", "/symbols", b'{"symbol": 7}', 422, "invalid"),
        ("POST", "/symbols", b'{"symbol": "' + b"A" * 70_000 + b'"}', 413, "too_large"),
        ("POST", "/markets", b'{"exchange": 99999999999999999999999, "base_symbol": 1, "quote_symbol": 2}', 422, None),
        ("PATCH", "/markets/1", b'{"level4_feed_enabled": "yes"}', 422, "invalid"),
        ("GET", "/markets/99999999999999999999999999", b"", 404, "not_found"),
        ("GET", "/markets/9223372036854775807", b"", 404, "not_found"),
        ("DELETE", "/markets/-1", b"", 404, "not_found"),
        ("GET", "/markets/1/book?depth=99999999999999999999", b"", 422, "invalid"),
        ("GET", "/markets?enabled=maybe", b"", 422, "invalid"),
    ],
)
def test_malformed_requests_get_a_clear_4xx(
    service_url: str, method: str, path: str, body: bytes, status: int, error: str | None
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    r = httpx.request(method, f"{service_url}{path}", content=body or None, headers=headers)
    assert r.status_code == status, r.text
    answer = r.json()
    assert set(answer) >= {"error", "detail"} and answer["detail"]
    if error is not None:
        assert answer["error"] == error, answer


def test_a_body_larger_than_declared_or_streamed_without_length_is_cut_off(service_url: str) -> None:
    json = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        yield b'{"symbol": "'
        for _ in range(100):
            yield b"B" * 1024
        yield b'"}'

    r = httpx.post(f"{service_url}/symbols", content=chunks(), headers=json)  # chunked, no length
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    # a length that is no number: only a raw socket will send it
    host, port = service_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /symbols HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: not-a-number\r\n\r\n{}"
        )
        status_line = sock.recv(200).split(b"\r\n", 1)[0]
    assert status_line.split()[1] in (b"400", b"413", b"422"), status_line  # refused, never a 5xx


def test_the_description_covers_every_route(service_url: str, api_schema: Any) -> None:
    described = {op.path for op in (r.ok() for r in api_schema.get_all_operations())}
    spec_paths = set(httpx.get(f"{service_url}/openapi.json").json()["paths"])
    assert described | {"/openapi.json"} == spec_paths  # all but the description itself
    assert {"/symbols", "/exchanges", "/markets", "/markets/{id}", "/markets/{id}/book", "/health"} <= described
