"""The control API is safe by default, proved from outside: `level4 serve`
with no token on loopback, spoken to over a real socket as a browser page of
another site, a DNS-rebinding page or a form would speak to it. Nothing such
a request asks for happens, every refusal is clear JSON, and each is one
info line in the service's log, with no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.service.test_end_to_end import free_port
from tests.support import wait_for

pytestmark = pytest.mark.slow

LISTED = "https://desk.example.com"  # LEVEL4_CORS_ORIGINS
NAMED = "level4.example.com"  # LEVEL4_ALLOWED_HOSTS
FOREIGN = "https://evil.example"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Served:
    base: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("guard")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    env |= {
        "LEVEL4_DATABASE_URL": f"sqlite:///{directory / 'c.sqlite3'}",
        "LEVEL4_PORT": str(port),
        "LEVEL4_CORS_ORIGINS": LISTED,
        "LEVEL4_ALLOWED_HOSTS": NAMED,
    }
    log = directory / "serve.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "level4", "serve"], env=env, stdout=out, stderr=out, cwd=directory
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None

        wait_for(up, timeout=30, what="the service up")
        assert proc.poll() is None, log.read_text()
        yield Served(base, port, log, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def api(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.base, timeout=10) as client:
        yield client


def symbols(api: httpx.Client) -> list[str]:
    return [s["symbol"] for s in api.get("/symbols").json()]


def refused(r: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["error"] == error and body["detail"], body
    assert "access-control-allow-origin" not in r.headers
    return dict(body)


def test_a_page_of_another_site_changes_nothing(api: httpx.Client) -> None:
    # what a page may send without a preflight (a form, text/plain), and JSON, which needs one
    attempts = [
        ("text/plain", b'{"symbol": "EVIL1"}'),
        (FORM, b"symbol=EVIL2"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="symbol"\r\n\r\nEVIL3\r\n--x--',
        ),
        ("application/json", b'{"symbol": "EVIL4"}'),
    ]
    for content_type, body in attempts:
        headers = {"Origin": FOREIGN, "Content-Type": content_type}
        body_ = refused(api.post("/symbols", content=body, headers=headers), 403, "origin_not_allowed")
        assert FOREIGN in body_["detail"]
    market = {"Origin": FOREIGN, "Content-Type": "application/json"}
    refused(
        api.patch("/markets/1", content=b'{"level4_feed_enabled": true}', headers=market), 403, "origin_not_allowed"
    )
    refused(api.delete("/markets/1", headers={"Origin": FOREIGN}), 403, "origin_not_allowed")
    refused(api.post("/symbols", json={"symbol": "EVIL5"}, headers={"Origin": "null"}), 403, "origin_not_allowed")
    assert not [s for s in symbols(api) if s.startswith("EVIL")]
    # reading is not changing: answered, but without CORS headers the page cannot read it
    r = api.get("/symbols", headers={"Origin": FOREIGN})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_mutations_take_json_only(api: httpx.Client) -> None:
    for content_type, body in (
        ("text/plain", b'{"symbol": "PLAIN"}'),
        (FORM, b"symbol=FORM"),
        (None, b'{"symbol": "NONE"}'),
        ("application/jsonx", b'{"symbol": "JSONX"}'),
    ):
        headers = {"Content-Type": content_type} if content_type else {}
        answer = refused(api.post("/symbols", content=body, headers=headers), 415, "unsupported_media_type")
        assert "application/json" in answer["detail"]
    refused(
        api.patch("/markets/1", content=b"level4_feed_enabled=true", headers={"Content-Type": FORM}),
        415,
        "unsupported_media_type",
    )
    refused(api.delete("/markets/1", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    assert not {"PLAIN", "FORM", "NONE", "JSONX"} & set(symbols(api))
    r = api.post("/symbols", content=b'{"symbol": "UTF"}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text
    assert api.delete("/markets/424242").status_code == 404  # no body, no type: a DELETE as clients send it


def test_only_our_host_names_are_served(served: Served, api: httpx.Client) -> None:
    for host in ("evil.example", f"evil.example:{served.port}", "127.0.0.2", "localhost.evil.example"):
        headers = {"Host": host}
        answer = refused(api.get("/health", headers=headers), 400, "host_not_allowed")
        assert "LEVEL4_ALLOWED_HOSTS" in answer["detail"]
        r = api.post("/symbols", json={"symbol": "REBOUND"}, headers=headers)
        refused(r, 400, "host_not_allowed")
    assert "REBOUND" not in symbols(api)
    ours = (f"localhost:{served.port}", f"127.0.0.1:{served.port}", f"[::1]:{served.port}", "LOCALHOST", NAMED)
    for host in (*ours, f"{NAMED}:{served.port}"):
        assert api.get("/health", headers={"Host": host}).status_code == 200, host
    with pytest.raises(InvalidStatus) as caught:
        connect(f"ws://127.0.0.1:{served.port}/stream", additional_headers={"Host": "evil.example"}, open_timeout=5)
    assert caught.value.response.status_code == 400


def test_same_origin_and_listed_origins_may_change_things(served: Served, api: httpx.Client) -> None:
    own = f"http://127.0.0.1:{served.port}"
    r = api.post("/symbols", json={"symbol": "SAME"}, headers={"Origin": own})
    assert r.status_code == 201, r.text
    assert "access-control-allow-origin" not in r.headers  # same origin needs no CORS
    r = api.post("/symbols", json={"symbol": "DESK"}, headers={"Origin": LISTED})
    assert r.status_code == 201 and r.headers["access-control-allow-origin"] == LISTED
    assert "Origin" in r.headers["vary"]
    r = api.get("/symbols", headers={"Origin": LISTED})
    assert r.headers["access-control-allow-origin"] == LISTED and {"SAME", "DESK"} <= set(symbols(api))


def test_preflight_answers_listed_origins_only(api: httpx.Client) -> None:
    asking = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    r = api.options("/symbols", headers={"Origin": LISTED, **asking})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == LISTED
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "content-type" in r.headers["access-control-allow-headers"].lower()
    refused(api.options("/symbols", headers={"Origin": FOREIGN, **asking}), 403, "origin_not_allowed")


def test_a_method_not_served_is_405_with_allow(api: httpx.Client) -> None:
    for method, path, allowed in (
        ("PUT", "/symbols", {"GET", "HEAD", "POST"}),
        ("DELETE", "/health", {"GET", "HEAD"}),
        ("POST", "/markets/1", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("OPTIONS", "/markets", {"GET", "HEAD", "POST"}),
    ):
        r = api.request(method, path, json={} if method != "OPTIONS" else None)
        answer = refused(r, 405, "method_not_allowed")
        assert {m.strip() for m in r.headers["allow"].split(",")} == allowed, (method, path, r.headers["allow"])
        assert method in answer["detail"]


def test_a_page_of_another_site_may_not_open_the_stream(served: Served) -> None:
    url = f"ws://127.0.0.1:{served.port}/stream"
    with pytest.raises(InvalidStatus) as caught:
        connect(url, origin=FOREIGN, open_timeout=5)  # type: ignore[arg-type]
    assert caught.value.response.status_code == 403
    assert json.loads(caught.value.response.body or b"{}")["error"] == "origin_not_allowed"
    for origin in (None, LISTED, f"http://127.0.0.1:{served.port}"):
        with connect(url, origin=origin, open_timeout=5) as ws:  # type: ignore[arg-type]
            ws.send(json.dumps({"op": "subscribe", "markets": ["BTC-USD"], "channels": ["consolidated"], "id": 1}))
            assert json.loads(ws.recv(5))["type"] == "subscribed"


def test_client_errors_are_one_info_line_each_without_traceback(served: Served, api: httpx.Client) -> None:
    before = len(served.lines())
    api.post("/symbols", json={"symbol": "ONCE"})
    expected = {
        404: api.get("/nowhere"),
        409: api.post("/symbols", json={"symbol": "ONCE"}),
        415: api.post("/symbols", content=b"symbol=X", headers={"Content-Type": FORM}),
        422: api.post("/symbols", json={"symbol": 7}),
        400: api.get("/symbols", headers={"Host": "evil.example"}),
        403: api.post("/symbols", json={"symbol": "X"}, headers={"Origin": FOREIGN}),
        405: api.put("/symbols", json={}),
    }
    for status, r in expected.items():
        assert r.status_code == status, (status, r.text)

    def refusals() -> list[dict[str, Any]]:
        return [line for line in served.lines()[before:] if line.get("event") == "request_refused"]

    wait_for(lambda: len(refusals()) >= len(expected), what="the refusals logged")
    found = refusals()
    assert sorted(line["status"] for line in found) == sorted(expected), found
    assert all(line["level"] == "info" for line in found), found
    new = served.lines()[before:]
    assert not [line for line in new if "exception" in line or line.get("level") in ("error", "critical")], new
    assert "Traceback" not in served.log.read_text()


def test_an_origin_list_that_is_not_origins_is_refused_at_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    env |= {"LEVEL4_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}", "LEVEL4_PORT": str(free_port())}
    values = ("*", "desk.example.com", "https://desk.example.com/app", f"{LISTED},null")
    # The four starts at once: each costs a process start, and none depends on another.
    procs = {
        value: subprocess.Popen(
            [sys.executable, "-m", "level4", "serve"],
            env={**env, "LEVEL4_CORS_ORIGINS": value},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        for value in values
    }
    try:
        for value, proc in procs.items():
            _out, err = proc.communicate(timeout=60)
            assert proc.returncode != 0, value
            assert b"LEVEL4_CORS_ORIGINS" in err and b"scheme://host" in err, err[-500:]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
