"""A /stream client's queue and filters, without sockets: the bound, the
snapshot hand-over, and nothing after an unsubscribe's reply."""

from __future__ import annotations

import asyncio
from typing import Any

from level4.stream.client import StreamClient


def event(channel: str, sequence: int, market_id: int = 1, **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "market_id": market_id, "sequence": sequence, **extra}


async def test_a_client_that_falls_behind_the_limit_is_given_up_and_its_queue_dropped() -> None:
    client = StreamClient(asyncio.get_running_loop(), limit=3)
    client.subscribe({1: "A"}, frozenset({"top"}), {"type": "subscribed"})
    for n in range(1, 3):
        client.offer(event("top", n))
    assert client.high_water == 3 and client.closing is None
    client.offer(event("top", 3))
    assert client.closing and "3 messages" in client.closing
    assert await client.next_batch() is None
    client.offer(event("top", 4))  # nothing is taken any more
    assert client.high_water == 3 and not client.subscribed()


async def test_the_snapshot_replaces_the_book_events_it_covers() -> None:
    client = StreamClient(asyncio.get_running_loop(), limit=100)
    [(market_id, token)] = client.subscribe({1: "A"}, frozenset({"book", "top"}), {"type": "subscribed"})
    client.offer(event("book", 5, snapshot=False))  # covered by the snapshot: held back
    client.offer(event("top", 6))  # other channels flow
    client.deliver_snapshot(market_id, token, event("book", 6, snapshot=True))
    client.offer(event("book", 7, snapshot=False))
    client.deliver_snapshot(market_id, token, event("book", 7, snapshot=True))  # answered already: ignored
    batch = await client.next_batch()
    assert batch is not None
    assert [(m.get("channel"), m.get("sequence")) for m in batch] == [
        (None, None),
        ("top", 6),
        ("book", 6),
        ("book", 7),
    ]


async def test_a_snapshot_in_the_stream_answers_for_the_one_asked() -> None:
    client = StreamClient(asyncio.get_running_loop(), limit=100)
    [(market_id, token)] = client.subscribe({1: "A"}, frozenset({"book"}), {"type": "subscribed"})
    client.offer(event("book", 3, snapshot=True))  # the market resynchronised meanwhile
    client.offer(event("book", 4, snapshot=False))
    client.deliver_snapshot(market_id, token, event("book", 2, snapshot=True))  # older: ignored
    batch = await client.next_batch()
    assert batch is not None and [m.get("sequence") for m in batch] == [None, 3, 4]


async def test_nothing_unsubscribed_follows_the_reply() -> None:
    client = StreamClient(asyncio.get_running_loop(), limit=100)
    client.subscribe({1: "A", 2: "B"}, frozenset({"top", "trade"}), {"type": "subscribed"})
    client.offer(event("trade", 1))
    client.unsubscribe([1], frozenset({"trade"}), {"type": "unsubscribed"})
    client.offer(event("trade", 2))
    client.offer(event("top", 3))
    client.offer(event("trade", 1, market_id=2))
    batch = await client.next_batch()
    assert batch is not None
    assert [(m.get("type"), m.get("channel"), m.get("market_id")) for m in batch] == [
        ("subscribed", None, None),
        (None, "trade", 1),
        ("unsubscribed", None, None),
        (None, "top", 1),
        (None, "trade", 2),
    ]


async def test_offers_from_another_thread_wake_the_sender() -> None:
    loop = asyncio.get_running_loop()
    client = StreamClient(loop, limit=100)
    client.subscribe({1: "A"}, frozenset({"top"}), {"type": "subscribed"})
    assert await client.next_batch() == [{"type": "subscribed"}]
    waiting = asyncio.create_task(client.next_batch())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await loop.run_in_executor(None, client.offer, event("top", 1))
    assert await asyncio.wait_for(waiting, 2) == [event("top", 1)]
