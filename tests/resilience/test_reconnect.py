"""Reconnecting: exponential backoff with jitter and a cap between attempts,
transient refusals retried for as long as they last, and a venue that
refuses for good taking only its own market down - `failed`, with the
reason, once the supervisors' restart intensity is spent."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from level4.net.backoff import Backoff
from level4.net.venue_connection import FeedCallbacks, FeedConnection
from level4.simulator.server import json_response
from tests.resilience.venues import FaultyVenue, fast_feeds
from tests.support import running_service, wait_for


def test_backoff_doubles_with_jitter_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(base=1.0, cap=16.0, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [1, 2, 4, 8, 16, 16, 16, 16]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    assert len({round(d, 6) for d in delays[4:]}) == 4  # jittered: markets do not reconnect in step
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1.0


class Refuser:
    """A websocket endpoint that answers every upgrade with `status`,
    noting when each attempt came."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.attempts: list[float] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def start() -> Any:
            return await serve(self._refuse, "127.0.0.1", 0, process_request=self._request)

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(5)
        self.url = f"ws://127.0.0.1:{next(iter(self.server.sockets)).getsockname()[1]}/"

    async def _refuse(self, connection: ServerConnection) -> None:
        raise AssertionError("never upgraded")

    def _request(self, connection: ServerConnection, request: Request) -> Response:
        self.attempts.append(time.monotonic())
        return json_response(self.status, {"error": "refused"})

    def close(self) -> None:
        self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def refuser(request: pytest.FixtureRequest) -> Iterator[Refuser]:
    r = Refuser(request.param)
    yield r
    r.close()


class Recorder(FeedCallbacks):
    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.refusals: list[str] = []

    def disconnected(self, generation: int, reason: str) -> None:
        self.reasons.append(reason)

    def refused(self, reason: str) -> None:
        self.refusals.append(reason)


@pytest.mark.slow
@pytest.mark.parametrize("refuser", [503], indirect=True)
def test_a_struggling_venue_is_retried_ever_more_slowly_up_to_the_cap(refuser: Refuser) -> None:
    async def attempts() -> Recorder:
        recorder = Recorder()
        feed = FeedConnection(refuser.url, "", recorder, None, 10.0, Backoff(0.04, 0.32, random.Random(1)))
        task = asyncio.create_task(feed.run())
        while len(refuser.attempts) < 8:
            await asyncio.sleep(0.01)
        await feed.stop()
        task.cancel()
        return recorder

    recorder = asyncio.run(attempts())
    gaps = [b - a for a, b in zip(refuser.attempts, refuser.attempts[1:], strict=False)][:7]
    ceilings = [0.04, 0.08, 0.16, 0.32, 0.32, 0.32, 0.32]
    assert all(c / 2 - 0.01 <= g <= c + 0.1 for g, c in zip(gaps, ceilings, strict=True)), gaps
    assert recorder.refusals == []  # overloaded is not refused for good
    assert recorder.reasons[0] == "websocket upgrade refused: HTTP 503"


@pytest.mark.slow
@pytest.mark.parametrize("refuser", [403], indirect=True)
def test_a_venue_that_refuses_for_good_fails_its_market_and_only_that(refuser: Refuser, tmp_path: Path) -> None:
    with fast_feeds(), running_service(f"sqlite:///{tmp_path / 'c.sqlite3'}") as (service, url):
        api = httpx.Client(base_url=url, timeout=15)
        with ExitStack() as stack:
            healthy = FaultyVenue("COINBASE", service, api, stack)
            healthy.enable()
            wait_for(lambda: healthy.status() == "live", what="the healthy market live")
            api.post("/exchanges", json={"name": "KRAKEN", "ws_url": refuser.url})
            r = api.post("/markets", json={"exchange": "KRAKEN", "base_symbol": "BTC", "quote_symbol": "USD"})
            refused_id = r.json()["id"]
            api.patch(f"/markets/{refused_id}", json={"level4_feed_enabled": True})

            def market() -> dict[str, Any]:
                body: dict[str, Any] = api.get(f"/markets/{refused_id}").json()
                return body

            wait_for(lambda: market()["status"] == "failed", timeout=30, what="the refused market failed")
            reason = market()["status_reason"]
            assert "websocket upgrade refused: HTTP 403" in reason and "restarts" in reason
            # each refusal was a crash of the websocket actor, restarted until the intensity was spent
            max_restarts = service.settings.market_max_restarts
            assert service.board.get(refused_id).restarts >= max_restarts
            attempts = len(refuser.attempts)
            time.sleep(0.5)
            assert len(refuser.attempts) == attempts  # a failed market stays down
            health = api.get("/health").json()
            assert [m["id"] for m in health["markets_not_live"]] == [refused_id]
            # the other market never noticed
            assert healthy.status() == "live" and healthy.state().restarts == 0
            healthy.recover()
