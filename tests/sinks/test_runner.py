"""The sink loop against a transport that fails on command: retries, order, status, flush."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from level4.sinks.outbox import Outbox
from level4.sinks.runner import Record, SinkRunner
from level4.sinks.sink_status import SinkState, SinkStatus
from level4.sinks.spec import parse_sink


class FlakyTransport:
    """Stores what it is sent; refuses to connect while `up` is False and
    loses the acknowledgement of a batch when told to (stored, then raises)."""

    def __init__(self) -> None:
        self.up = True
        self.lose_ack = 0  # how many coming sends store their batch and then fail
        self.fail_send = 0  # how many coming sends fail before storing anything
        self.stored: list[Record] = []
        self.sends: list[list[int]] = []
        self.connects = 0
        self.closes = 0
        self.checks = 0

    async def connect(self) -> None:
        if not self.up:
            raise ConnectionRefusedError(111, "Connect call failed")
        self.connects += 1

    async def send(self, batch: list[Record]) -> None:
        self.sends.append([r.serial for r in batch])
        if self.fail_send:
            self.fail_send -= 1
            raise ConnectionResetError("reset by peer")
        self.stored.extend(batch)
        if self.lose_ack:
            self.lose_ack -= 1
            raise TimeoutError

    async def check(self) -> None:
        self.checks += 1
        if not self.up:
            raise ConnectionResetError("gone")

    async def close(self) -> None:
        self.closes += 1


def make(url: str = "redis://x?retry_max=0.05", capacity: int = 1000) -> tuple[SinkRunner, FlakyTransport, Outbox]:
    spec = parse_sink(url)
    outbox = Outbox(capacity)
    transport = FlakyTransport()
    runner = SinkRunner(transport, outbox, SinkState(spec, outbox), batch=7, idle_check=0.05, backoff_base=0.01)
    return runner, transport, outbox


def events(n: int, start: int = 1) -> list[dict[str, Any]]:
    return [{"channel": "top", "market": "X.SPOT:A-B", "sequence": i} for i in range(start, start + n)]


async def until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def sequences(records: list[Record]) -> list[int]:
    return [orjson.loads(r.payload)["sequence"] for r in records]


async def test_delivers_everything_in_order_in_batches() -> None:
    runner, transport, outbox = make()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    for ev in events(50):
        outbox.put(ev)
    await until(lambda: len(transport.stored) == 50)
    assert runner.state.status is SinkStatus.UP and runner.state.delivered == 50
    assert sequences(transport.stored) == list(range(1, 51))
    assert max(len(s) for s in transport.sends) <= 7
    assert {(r.channel, r.market) for r in transport.stored} == {("top", "X.SPOT:A-B")}
    stop.set()
    outbox.wake()
    await asyncio.wait_for(task, 2)
    assert runner.state.status is SinkStatus.STOPPED and transport.closes >= 1


async def test_a_sink_down_from_the_start_is_reported_retried_and_catches_up() -> None:
    runner, transport, outbox = make()
    transport.up = False
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    for ev in events(30):
        outbox.put(ev)
    await until(lambda: runner.state.attempts >= 3)
    status = runner.state.as_dict()
    assert status["status"] == "down" and "ConnectionRefusedError" in status["reason"]
    assert status["queued"] == 30 and status["delivered"] == 0 and status["retry_at"] is not None
    # the cap (retry_max=0.05) bounds the wait between attempts
    assert status["retry_at"] - time.time() <= 0.06

    transport.up = True
    await until(lambda: len(transport.stored) == 30)
    assert sequences(transport.stored) == list(range(1, 31))
    assert runner.state.status is SinkStatus.UP and runner.state.attempts == 0
    stop.set()
    outbox.wake()
    await asyncio.wait_for(task, 2)


async def test_a_failed_batch_is_resent_whole_before_anything_newer() -> None:
    runner, transport, outbox = make()
    transport.fail_send = 1
    transport.lose_ack = 1
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    for ev in events(20):
        outbox.put(ev)
    await until(lambda: runner.state.delivered == 20)
    first, second, third = transport.sends[:3]
    assert first == second == third  # refused, then stored without an ack, then acknowledged
    assert [s for send in transport.sends for s in send] == first * 2 + list(range(1, 21))
    # the transport sees the same serials again, which is what lets it drop the duplicate
    unique = list(dict.fromkeys(r.serial for r in transport.stored))
    assert unique == list(range(1, 21))
    assert transport.connects == 3
    stop.set()
    outbox.wake()
    await asyncio.wait_for(task, 2)


async def test_an_idle_sink_notices_a_dead_connection() -> None:
    runner, transport, _outbox = make()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await until(lambda: runner.state.status is SinkStatus.UP and transport.checks > 0)
    transport.up = False
    await until(lambda: runner.state.status is SinkStatus.DOWN)
    assert "gone" in (runner.state.reason or "")
    transport.up = True
    await until(lambda: runner.state.status is SinkStatus.UP)
    stop.set()
    await asyncio.wait_for(task, 2)


async def test_stop_flushes_what_is_queued_first() -> None:
    runner, transport, outbox = make()
    for ev in events(40):
        outbox.put(ev)
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(runner.run(stop), 2)
    assert sequences(transport.stored) == list(range(1, 41)) and runner.left() == 0


async def test_an_event_no_serialiser_can_write_is_skipped_and_counted() -> None:
    runner, transport, outbox = make()
    outbox.put({"channel": "trade", "market": "M", "sequence": 1})
    outbox.put({"channel": "trade", "market": "M", "sequence": 2, "huge": 2**70})
    outbox.put({"channel": "trade", "market": "M", "sequence": 3, "odd": {1: object()}})
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(runner.run(stop), 2)
    assert sequences(transport.stored) == [1, 3]  # unknown types are written as strings, not lost
    assert runner.state.unencodable == 1
