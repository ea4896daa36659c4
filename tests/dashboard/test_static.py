"""The dashboard is served whole by the service: the page, every module it
imports (followed from the page), the style sheet and icon, with the right
types, and nothing fetched from anywhere else. The installed package ships
every file (package data covers them)."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, cast

import pytest
from starlette.testclient import TestClient

from level4.api.app import Control, create_app
from level4.dashboard import STATIC

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r'(?:src|href)="([^"]+)"')
IMPORT = re.compile(r'^import\s[^;]*?from\s+"([^"]+)";', re.MULTILINE)
TYPES = {".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    # the dashboard's routes touch nothing of the service
    return TestClient(create_app(cast(Control, object())), base_url="http://127.0.0.1")


def served_files(client: TestClient) -> dict[str, str]:
    """Every URL reachable from the page, by following its references and the modules' imports."""
    page = client.get("/")
    found: dict[str, str] = {"/": page.text}
    queue = [f"/{ref}" for ref in REFERENCE.findall(page.text)]
    while queue:
        url = queue.pop()
        if url in found:
            continue
        r = client.get(url)
        assert r.status_code == 200, url
        suffix = Path(url).suffix
        assert TYPES[suffix] in r.headers["content-type"], (url, r.headers["content-type"])
        found[url] = r.text
        if suffix == ".js":
            base = url.rsplit("/", 1)[0]
            queue += [f"{base}/{ref.removeprefix('./')}" for ref in IMPORT.findall(r.text)]
    return found


def test_the_page_and_everything_it_loads_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    files = served_files(client)
    on_disk = {f"/dashboard/{p.relative_to(STATIC).as_posix()}" for p in STATIC.rglob("*") if p.is_file()}
    assert set(files) - {"/"} == on_disk - {"/dashboard/index.html"}, "every file is used, every use is a file"
    assert {"/dashboard/js/main.js", "/dashboard/style.css", "/dashboard/js/stream.js"} <= set(files)


def test_nothing_comes_from_elsewhere(client: TestClient) -> None:
    for url, text in served_files(client).items():
        # the SVG namespace is a name, not a fetch
        outside = [u for u in re.findall(r"(?:https?|wss?)://[^\s\"'`)]+", text) if "www.w3.org/2000/svg" not in u]
        assert outside == [], url
        assert "<script>" not in text and "style=" not in text, f"{url}: inline code or style (CSP forbids it)"


def test_a_missing_file_is_a_json_404(client: TestClient) -> None:
    r = client.get("/dashboard/js/nope.js")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.get("/dashboard/../pyproject.toml").status_code == 404


def test_the_package_ships_every_dashboard_file() -> None:
    config: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["level4"]
    package = ROOT / "level4"
    for path in STATIC.rglob("*"):
        if path.is_file() and path.suffix != ".py":
            relative = path.relative_to(package).as_posix()
            assert any(fnmatch(relative, p) for p in patterns), f"{relative} is not package data"
