"""Headless Chromium from Debian, driven by Playwright's Python package
(its own browser download is never used). Skips with the reason when the
browser or the package is missing, unless LEVEL4_REQUIRE_BROWSER is set
(.ci/run sets it, having installed both)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# No network here: without these Chromium stalls on lookups and update checks.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def unavailable(reason: str) -> None:
    if os.environ.get("LEVEL4_REQUIRE_BROWSER"):
        pytest.fail(f"LEVEL4_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


@dataclass
class Session:
    page: Any
    errors: list[str] = field(default_factory=list)  # uncaught exceptions and console errors
    requests: list[str] = field(default_factory=list)  # every URL the page asked for


@contextmanager
def chromium(profile: Path, width: int = 1440, height: int = 1000) -> Iterator[Session]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (Debian packages chromium and chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),  # a fresh profile directory: --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": width, "height": height},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            session = Session(page)
            page.on("pageerror", lambda exc: session.errors.append(f"pageerror: {exc}"))
            page.on("console", lambda m: session.errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("request", lambda r: session.requests.append(r.url))
            page.on("websocket", lambda ws: session.requests.append(ws.url))
            yield session
        finally:
            context.close()
