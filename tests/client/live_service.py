"""What the client tests share: a simulated venue feeding the service, and
comparisons of a mirror with the service's book and the venue's reference
(tests.support.until waits leaving the event loop free for the client)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from level4.client import BookMirror, BookView, Level, SyncBook
from level4.service.root import Service
from tests.stream.stream_markets import add_market, values
from tests.support import SimulatorThread, running_service, wait_for

SYMBOL = "BTC-USD"


@dataclass
class Live:
    service: Service | None  # None: the service runs as a process of its own
    base: str
    api: httpx.Client
    sim: SimulatorThread
    market: dict[str, Any]

    @property
    def tag(self) -> str:
        return str(self.market["tag"])

    def served(self) -> dict[str, Any]:
        body: dict[str, Any] = self.api.get(f"/markets/{self.market['id']}/book").json()
        return body


@contextmanager
def live_venue(
    tmp_path: Path,
    venue: str = "coinbase",
    name: str = "COINBASE",
    rate: float = 400,
    tls: ssl.SSLContext | None = None,
    **overrides: Any,
) -> Iterator[Live]:
    """A simulated venue, the service in-process (settings `overrides`; served
    over HTTPS, trusted by `tls`, when given), and the venue's BTC-USD market live."""
    headers = {"Authorization": f"Bearer {overrides['api_token']}"} if overrides.get("api_token") else {}
    with (
        SimulatorThread(venue, [SYMBOL], rate=rate) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}", **overrides) as (service, base),
    ):
        if tls is not None:
            base = base.replace("http://", "https://")
        with httpx.Client(base_url=base, timeout=10, headers=headers, verify=tls or True) as api:
            market = add_market(api, name, sim, "BTC", "USD")
            yield Live(service, base, api, sim, market)


def levels(view: BookView) -> dict[str, list[tuple[Decimal, Decimal]]]:
    return {"bids": [tuple(lv) for lv in view.bids], "asks": [tuple(lv) for lv in view.asks]}  # type: ignore[misc]


def same_book(view: BookView, book: dict[str, Any]) -> bool:
    """The mirror holds exactly the levels of a served or reference book (by value:
    venues that send JSON numbers drop trailing zeros)."""
    return view.synchronised and levels(view) == {side: values(book[side]) for side in ("bids", "asks")}


def exact_now(live: Live, mirror: BookMirror | SyncBook) -> bool:
    """Mirror == the service's book == the venue's reference (the venue paused)."""
    reference = live.sim.reference(SYMBOL)
    served = live.served()
    view = mirror.view()
    return served["synchronised"] and same_book(view, served) and same_book(view, reference)


def as_strings(levels: list[Level]) -> list[list[str]]:
    return [[str(lv.price), str(lv.size)] for lv in levels]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(db_url: str, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    """`level4 serve` as its own process on a given port (the catalogue in `db_url`)."""
    log = open(tmp_path / "serve.log", "ab")  # noqa: SIM115 - the process owns it until it exits
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    env.update(LEVEL4_DATABASE_URL=db_url, LEVEL4_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "-m", "level4", "serve"], env=env, stdout=log, stderr=log, cwd=tmp_path)
    wait_for(lambda: _healthy(port) or proc.poll() is not None, timeout=30, what="service up")
    assert proc.poll() is None, (tmp_path / "serve.log").read_text()
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def set_faults(sim: SimulatorThread, **rates: float) -> dict[str, Any]:
    response = httpx.get(f"{sim.http}/control/faults", params={"clear": 1, **rates})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body
