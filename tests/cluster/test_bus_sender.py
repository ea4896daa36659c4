"""The bus's sender against the real NATS JetStream: a node's events in batches on
its own subject, cut to the payload limit, in order, and stored once when resent."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import nats
import orjson

from level4.cluster.bus_sender import STREAM_LIMITS, BatchSender, BusTransport
from level4.cluster.event_bus import cluster_prefix, stream_name
from level4.sinks.outbox import Outbox
from level4.sinks.sink_status import SinkState
from level4.sinks.spec import SinkSpec
from tests.sinks.servers import NATS_ENV, server_url


def _events(n: int) -> list[dict[str, Any]]:
    return [
        {"channel": "trade", "market_id": 1 + i % 3, "market": "COINBASE.SPOT:BTC-USD", "sequence": 1 + i // 3,
         "epoch": 2, "price": f"{100 + i}.5", "size": "1"}
        for i in range(n)
    ]  # fmt: skip


async def _send_twice(url: str, cluster: str) -> tuple[list[str], list[dict[str, Any]], list[str], int]:
    spec = SinkSpec(
        "nats", "cluster-bus", url, queue=10_000, retry_max=1.0, flush=1.0,
        options={"stream": stream_name(cluster), "prefix": cluster_prefix(cluster)},
    )  # fmt: skip
    outbox = Outbox(10_000)
    transport = BusTransport(spec, outbox.origin, "n1")
    sender = BatchSender(transport, outbox, SinkState(spec, outbox), "n1")
    events = _events(600)
    events.insert(10, {**events[10], "market_id": 2, "price": Decimal("1.5")})  # written by default=str
    for event in events:
        outbox.put(event)
    await transport.connect()
    try:
        transport.max_payload = lambda: 8_000  # type: ignore[method-assign]  # several messages of one batch
        messages = sender.messages(outbox.take_nowait(10_000))
        await transport.send_messages(messages)
        await transport.send_messages(messages)  # a resend after a lost acknowledgement
    finally:
        await transport.close()
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = int((await js.stream_info(stream_name(cluster))).state.last_seq)
        stored: list[dict[str, Any]] = []
        subjects: list[str] = []
        for seq in range(1, last + 1):
            msg = await js.get_msg(stream_name(cluster), seq)
            subjects.append(str(msg.subject))
            stored.extend(orjson.loads(msg.data or b"[]"))
        await js.delete_stream(stream_name(cluster))
    finally:
        await nc.close()
    return [m.msg_id for m in messages], stored, subjects, max(len(m.payload) for m in messages)


def test_a_batch_is_cut_to_the_payload_limit_in_order_and_stored_once_when_resent() -> None:
    url = server_url(NATS_ENV)
    cluster = f"test-{uuid.uuid4().hex[:10]}"
    ids, stored, subjects, biggest = asyncio.run(_send_twice(url, cluster))
    expected = _events(600)
    expected.insert(10, {**expected[10], "market_id": 2, "price": "1.5"})
    assert len(ids) > 5 and biggest <= 8_000
    assert all(i.startswith("n1:") and i.endswith(f":{n}") for n, i in enumerate(ids, start=1))
    assert stored == expected  # every event once, in the order published
    assert set(subjects) == {f"{cluster_prefix(cluster)}.events.n1"}
    assert STREAM_LIMITS["duplicate_window"] >= 30.0
