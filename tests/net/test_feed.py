"""The feed connection over real loopback websockets: pure keep-alives
reported without a batch (never reordered against the frames around them),
and one watchdog for every connection of the loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from level4.net import venue_connection as feed_module
from level4.net.backoff import Backoff
from level4.net.venue_connection import Batch, FeedCallbacks, FeedConnection
from translations.protocol import KeepAlive

pytestmark = pytest.mark.slow

HEARTBEAT = KeepAlive('{"type":"heartbeat"')


class Recorder(FeedCallbacks):
    def __init__(self) -> None:
        self.reports: list[tuple[str, list[str]]] = []  # ("frames" | "keepalive", frames) in call order
        self.disconnects: list[str] = []

    def frames(self, generation: int, batch: Batch) -> None:
        self.reports.append(("frames", [str(raw) for _, raw in batch]))

    def keepalive(self, generation: int, received: float, raw: str | bytes) -> None:
        self.reports.append(("keepalive", [str(raw)]))

    def disconnected(self, generation: int, reason: str) -> None:
        self.disconnects.append(reason)

    def received(self) -> list[str]:
        return [raw for _, frames in self.reports for raw in frames]


@asynccontextmanager
async def venue(handler: Callable[[ServerConnection], Awaitable[None]]) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0) as server:
        yield f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}/"


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def heartbeat(n: int) -> str:
    return f'{{"type":"heartbeat","sequence":{n}}}'


def data(n: int) -> str:
    return f'{{"type":"l2update","n":{n}}}'


async def test_keepalives_skip_the_batch_but_never_overtake_frames() -> None:
    sent: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        for n in range(40):
            frames = [heartbeat(n)] if n % 4 == 0 else [data(n), heartbeat(n), data(n + 1000)]
            for frame in frames:
                sent.append(frame)
                await ws.send(frame)
            await asyncio.sleep(0.01)
        await ws.wait_closed()

    recorder = Recorder()
    async with venue(handler) as url:
        feed = FeedConnection(url, "", recorder, None, 30.0, keepalive=HEARTBEAT)
        task = asyncio.create_task(feed.run())
        await until(lambda: len(recorder.received()) == 100)
        await feed.stop()  # and waits for the task
        assert task.done()
    assert recorder.received() == sent  # every frame, in the order sent
    alone = [frames[0] for kind, frames in recorder.reports if kind == "keepalive"]
    assert len(alone) >= 10 and all(HEARTBEAT(raw) for raw in alone)  # a quiet heartbeat never makes a batch
    batched = [raw for kind, frames in recorder.reports if kind == "frames" for raw in frames]
    assert not any(HEARTBEAT(raw) for raw in batched[:1])  # a batch begins with what woke it


async def test_one_watchdog_reconnects_only_the_stalled_feed() -> None:
    async def silent(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async def chatty(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            for n in range(10_000):
                await ws.send(data(n))
                await asyncio.sleep(0.02)

    quiet, busy = Recorder(), Recorder()
    async with venue(silent) as quiet_url, venue(chatty) as busy_url:
        feeds = [
            FeedConnection(quiet_url, "", quiet, None, 0.3, Backoff(5.0, 5.0)),
            FeedConnection(busy_url, "", busy, None, 0.3, Backoff(5.0, 5.0)),
        ]
        tasks = [asyncio.create_task(f.run()) for f in feeds]
        await until(lambda: busy.reports != [])
        dog: Any = feed_module._watchdogs[asyncio.get_running_loop()]
        assert dog.feeds == set(feeds)  # both watched by the loop's one timer
        await until(lambda: quiet.disconnects != [], timeout=3.0)
        await asyncio.sleep(0.5)
        for f in feeds:
            await f.stop()  # and waits for its task
        assert all(t.done() for t in tasks)
    assert quiet.disconnects == ["stale feed: no frame for 0.3s"]
    assert busy.disconnects == []
    assert dog.feeds == set()
    await until(lambda: dog.task is None, 1.0)  # the timer ends once nothing is watched


async def test_an_unusable_url_is_refused_for_good() -> None:
    class Refusals(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.refusals: list[str] = []

        def refused(self, reason: str) -> None:
            self.refusals.append(reason)

    for url in ("ftp://127.0.0.1/", "not a url"):
        recorder = Refusals()
        await asyncio.wait_for(FeedConnection(url, "", recorder, None, 10.0).run(), 5.0)  # returns: no retry
        assert len(recorder.refusals) == 1 and recorder.refusals[0].startswith("unusable websocket URL"), url
        assert recorder.disconnects == []


class Flaky(Recorder):
    """Its first batch raises, as a callback with a bug would."""

    def frames(self, generation: int, batch: Batch) -> None:
        super().frames(generation, batch)
        if len(self.reports) == 1:
            raise RuntimeError("a bug in a callback")


async def test_a_batch_is_all_that_was_read_and_goes_on_at_once() -> None:
    burst = [data(n) for n in range(200)]

    async def handler(ws: ServerConnection) -> None:
        await ws.send(data(-1))
        await asyncio.sleep(0.2)
        for frame in burst:  # written without a pause: read off the socket together
            await ws.send(frame)
        await ws.wait_closed()

    recorder = Flaky()
    async with venue(handler) as url:
        feed = FeedConnection(url, "", recorder, None, 30.0)
        task = asyncio.create_task(feed.run())
        await until(lambda: feed._ws is not None)
        assert feed._ws is not None and feed_module._received_queue(feed._ws) is not None  # aiohttp's queue is seen
        await until(lambda: len(recorder.received()) == 201)
        await feed.stop()
        assert task.done()
    assert recorder.received() == [data(-1), *burst]  # the callback's fault cost nothing
    assert recorder.reports[0] == ("frames", [data(-1)])
    assert len(recorder.reports) < 100  # the burst came in batches, not a frame at a time
    assert recorder.disconnects == []
