"""The feed connection with its venue's limiter, against a simulated venue
that enforces the limits over real loopback sockets: paced frames are all
answered where unpaced ones get the connection closed, and the venue's
refusals (a 1008 close, a 429 upgrade) back the venue off."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest

import translations
from level4.net.shared_connection import SharedConnection, SubscriberCallbacks, Subscription
from level4.net.subscription_caps import caps_for
from level4.net.venue_connection import Batch, FeedCallbacks, FeedConnection
from level4.net.venue_limiter import MARGIN, VenueLimiter, limiter_for
from level4.simulator.server import VenueSimulator
from tests.support import until
from translations.protocol import MarketType
from translations.venue_limits import VenueLimits

pytestmark = pytest.mark.slow

BINANCE = translations.limits_for("BINANCE")


class Recorder(FeedCallbacks):
    def __init__(self) -> None:
        self.generations: list[int] = []
        self.frames_seen: list[Any] = []
        self.disconnects: list[str] = []

    def connected(self, generation: int) -> None:
        self.generations.append(generation)

    def frames(self, generation: int, batch: Batch) -> None:
        self.frames_seen.extend(orjson.loads(raw) for _, raw in batch)

    def disconnected(self, generation: int, reason: str) -> None:
        self.disconnects.append(reason)


@asynccontextmanager
async def binance(limits: VenueLimits) -> AsyncIterator[VenueSimulator]:
    sim = VenueSimulator("BINANCE", ["BTC-USDT"], rate=0, limits=limits)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@asynccontextmanager
async def feed(sim: VenueSimulator, limiter: VenueLimiter | None) -> AsyncIterator[tuple[FeedConnection, Recorder]]:
    recorder = Recorder()
    conn = FeedConnection(
        f"ws://127.0.0.1:{sim.port}/", f"http://127.0.0.1:{sim.port}", recorder, None, 60.0, limiter=limiter
    )
    task = asyncio.create_task(conn.run())
    try:
        yield conn, recorder
    finally:
        await conn.stop()
        task.cancel()


def requests(n: int) -> list[str | bytes]:
    return [orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i + 1}).decode() for i in range(n)]


async def test_paced_frames_are_all_answered_where_unpaced_ones_are_cut() -> None:
    async with binance(BINANCE) as sim:
        limiter = VenueLimiter("BINANCE", BINANCE)
        async with feed(sim, limiter) as (conn, recorder):
            await until(lambda: recorder.generations)
            started = time.monotonic()
            await conn.send(recorder.generations[-1], requests(12))
            await until(lambda: len(recorder.frames_seen) == 12)
            assert time.monotonic() - started >= 2 * (1 + MARGIN) * 0.95
            assert [f["id"] for f in recorder.frames_seen] == list(range(1, 13))
            assert recorder.disconnects == []
        async with feed(sim, None) as (conn, recorder):
            await until(lambda: recorder.generations)
            await conn.send(recorder.generations[-1], requests(12))
            await until(lambda: recorder.disconnects)
            assert recorder.disconnects[0] == "closed by venue: 1008 Too many requests"
        assert sim.enforcer.refused["sends"] == 1


async def test_a_shared_connection_sends_at_the_venues_pace_and_no_slower(monkeypatch: pytest.MonkeyPatch) -> None:
    # The limiter's window is the one pacer of a shared connection's frames: 41 frames at
    # 20 a second go in three windows' bursts, where a pause after every frame on top of
    # the limiter (0.3 s for Binance) took over 12 s.
    limits = BINANCE.scaled(sends_per_second=20)
    monkeypatch.setattr(importlib.import_module(translations.VENUES["BINANCE"]), "limits", limits)
    scheme = translations.scheme_for("BINANCE")
    assert limiter_for("BINANCE").limits == limits
    async with binance(limits) as sim:
        conn = SharedConnection(scheme, f"ws://127.0.0.1:{sim.port}/", f"http://127.0.0.1:{sim.port}", caps_for(scheme))
        sent: list[float] = []
        send_frames = conn.feed._send

        async def recording(ws: Any, frames: list[str | bytes]) -> None:
            sent.extend(time.monotonic() for _ in frames)
            await send_frames(ws, frames)

        monkeypatch.setattr(conn.feed, "_send", recording)
        instrument = translations.scheme_for_market("BINANCE", "BTC", "USDT", MarketType.SPOT)[1]
        sub = Subscription(instrument, SubscriberCallbacks(), "t")
        conn.start()
        try:
            conn.add(sub)
            await until(lambda: sub.generation and sent)  # subscribed: one frame
            conn.send(sub, sub.generation, requests(40))
            await until(lambda: len(sent) == 41)
            took = sent[-1] - sent[0]
            assert 2 * (1 + MARGIN) * 0.95 <= took < 6.0
            assert sim.enforcer.refused["sends"] == 0
            assert sim.enforcer.peaks["sends"] <= limits.sends_per_second
        finally:
            await conn.close()


async def test_a_throttling_close_backs_the_venue_off() -> None:
    async with binance(BINANCE) as sim:
        # The service believes in 50 messages a second; the venue allows 5.
        limiter = VenueLimiter("BINANCE", BINANCE.scaled(sends_per_second=50, close_backoff=0.5))
        async with feed(sim, limiter) as (conn, recorder):
            await until(lambda: recorder.generations)
            await conn.send(recorder.generations[-1], requests(12))
            await until(lambda: recorder.disconnects)
            assert limiter.totals["refusals"] == 1
            assert 0 < limiter.backoff_remaining() <= 0.5
            await until(lambda: len(recorder.generations) == 2)  # reconnected once the backoff passed


async def test_a_refused_upgrade_backs_the_venue_off_by_its_retry_after() -> None:
    async with binance(BINANCE.scaled(connects=1, connect_window=3.0)) as sim:
        limiter = VenueLimiter("BINANCE", BINANCE)  # believes in 300 attempts; the venue allows 1 in 3 s
        async with feed(sim, limiter) as (_conn, first):
            await until(lambda: first.generations)
            async with feed(sim, limiter) as (_conn2, second):
                await until(lambda: second.disconnects)
                assert second.disconnects[0] == "websocket upgrade refused: HTTP 429"
                assert 2.0 < limiter.backoff_remaining() <= 3.0
                await until(lambda: second.generations, timeout=10)  # let in once the window moved on
        assert sim.enforcer.refused["connects"] == 1


async def test_a_session_ended_with_too_many_requests_backs_the_venue_off() -> None:
    deribit = translations.limits_for("DERIBIT")
    sim = VenueSimulator("DERIBIT", ["BTC-USD"], rate=0, limits=deribit.scaled(sends_per_second=1))
    await sim.start()
    try:
        limiter = VenueLimiter("DERIBIT", deribit.scaled(sends_per_second=50, close_backoff=0.5))
        async with feed(sim, limiter) as (conn, recorder):
            await until(lambda: recorder.generations)
            test = [orjson.dumps({"jsonrpc": "2.0", "id": n, "method": "public/test"}).decode() for n in range(3)]
            await conn.send(recorder.generations[-1], list(test))
            await until(lambda: recorder.disconnects)
            assert "too_many_requests" in recorder.disconnects[0]  # Deribit closes 1000, says why in the reason
            assert limiter.totals["refusals"] == 1 and 0 < limiter.backoff_remaining() <= 0.5
    finally:
        await sim.stop()
