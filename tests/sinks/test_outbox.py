"""The outbox: a bounded FIFO that producers never wait on."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from level4.sinks.outbox import Outbox


def test_full_outbox_drops_the_oldest_and_counts() -> None:
    box = Outbox(3)
    for i in range(1, 6):
        box.put({"sequence": i})
    assert box.dropped == 2 and box.accepted == 5 and len(box) == 3
    taken = box.take_nowait(10)
    assert [q[1]["sequence"] for q in taken] == [3, 4, 5]
    assert [q[0] for q in taken] == [3, 4, 5]  # serials keep counting across drops
    assert box.take_nowait(10) == []


def test_take_returns_at_most_the_limit_in_order() -> None:
    box = Outbox(100)
    for i in range(10):
        box.put({"i": i})
    assert [q[1]["i"] for q in box.take_nowait(4)] == [0, 1, 2, 3]
    assert [q[1]["i"] for q in box.take_nowait(100)] == [4, 5, 6, 7, 8, 9]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Outbox(0)


async def test_a_put_from_another_thread_wakes_the_waiting_loop() -> None:
    box = Outbox(10)
    threading.Timer(0.05, box.put, args=({"x": 1},)).start()
    started = time.monotonic()
    taken = await box.take(10, timeout=5.0)
    assert [q[1] for q in taken] == [{"x": 1}]
    assert time.monotonic() - started < 2.0


async def test_take_times_out_empty_and_wake_ends_a_wait() -> None:
    box = Outbox(10)
    assert await box.take(10, timeout=0.05) == []
    threading.Timer(0.05, box.wake).start()
    started = time.monotonic()
    assert await box.take(10, timeout=5.0) == []
    assert time.monotonic() - started < 2.0


async def test_put_after_the_waiting_loop_is_gone_does_not_raise() -> None:
    box = Outbox(10)
    loop = asyncio.new_event_loop()
    box._waiter = (loop, asyncio.Event())  # a consumer whose loop has ended
    loop.close()
    box.put({"x": 1})
    assert len(box) == 1


def test_many_producers_lose_nothing_below_the_bound() -> None:
    box = Outbox(100_000)

    def produce(k: int) -> None:
        for i in range(5_000):
            box.put({"p": k, "i": i})

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = box.take_nowait(100_000)
    assert len(items) == 20_000 and box.dropped == 0
    for k in range(4):
        assert [q[1]["i"] for q in items if q[1]["p"] == k] == list(range(5_000))  # each producer in order
    assert [q[0] for q in items] == list(range(1, 20_001))
