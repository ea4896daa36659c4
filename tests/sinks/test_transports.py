"""Each transport against its real server: a batch resent after a lost
acknowledgement is stored once, streams and caps are what the docs say."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import nats
import orjson
import pytest
import redis.asyncio as aioredis

from level4.sinks.jetstream import JetStreamTransport
from level4.sinks.redis_streams import RedisStreamsTransport
from level4.sinks.runner import Record, encode
from level4.sinks.spec import parse_sink
from tests.sinks.servers import NATS_ENV, REDIS_ENV, NatsTarget, RedisTarget, server_url

pytestmark = pytest.mark.slow

TAG = "KRAKEN.SPOT:ETH-EUR"


def records(first: int, last: int) -> list[Record]:
    out = []
    for serial in range(first, last + 1):
        event = {"channel": "trade", "market": TAG, "sequence": serial, "price": f"{serial}.5"}
        out.append(Record(serial, "trade", TAG, encode(event)))
    return out


@pytest.fixture
def nats_target() -> Iterator[NatsTarget]:
    target = NatsTarget(server_url(NATS_ENV))
    yield target
    target.cleanup()


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    target = RedisTarget(server_url(REDIS_ENV))
    yield target
    target.cleanup()


def test_jetstream_stores_a_resent_batch_once(nats_target: NatsTarget) -> None:
    async def run() -> None:
        transport = JetStreamTransport(parse_sink(nats_target.sink_url()), origin="o1")
        await transport.connect()
        await transport.send(records(1, 10))
        await transport.close()
        # As after a reconnect whose previous acknowledgement never came: the same batch again, then more.
        transport = JetStreamTransport(parse_sink(nats_target.sink_url()), origin="o1")
        await transport.connect()
        await transport.send(records(6, 15))
        await transport.check()
        await transport.close()

    asyncio.run(run())
    stored = nats_target.read()[("trade", TAG)]
    assert [e["sequence"] for e in stored] == list(range(1, 16))
    assert nats_target.in_order[0][0] == f"{nats_target.prefix}.trade.KRAKEN.SPOT.ETH-EUR"


def test_jetstream_adds_its_subjects_to_an_existing_stream(nats_target: NatsTarget) -> None:
    other = f"{nats_target.prefix}_ops.>"

    async def run() -> list[str]:
        nc = await nats.connect(nats_target.url)
        js = nc.jetstream()
        await js.add_stream(name=nats_target.stream, subjects=[other], max_msgs=1000)
        transport = JetStreamTransport(parse_sink(nats_target.sink_url()), origin="o2")
        await transport.connect()
        await transport.send(records(1, 3))
        await transport.close()
        info = await js.stream_info(nats_target.stream)
        await nc.close()
        assert info.config.max_msgs == 1000  # the operator's settings stay
        return list(info.config.subjects or [])

    assert asyncio.run(run()) == [other, f"{nats_target.prefix}.>"]


def test_redis_stores_a_resent_batch_once_and_caps_the_stream(redis_target: RedisTarget) -> None:
    spec = parse_sink(redis_target.sink_url(maxlen=50))

    async def run() -> tuple[list[int], int]:
        transport = RedisStreamsTransport(spec, origin="o3")
        await transport.connect()
        await transport.send(records(1, 10))
        await transport.close()
        transport = RedisStreamsTransport(spec, origin="o3")
        await transport.connect()
        await transport.send(records(1, 12))  # the first 10 went through before the connection broke
        first = [e["sequence"] for e in await _entries(transport)]
        for start in range(13, 2000, 100):
            await transport.send(records(start, start + 99))
        length = await _length(transport)
        await transport.close()
        return first, length

    first, length = asyncio.run(run())
    assert first == list(range(1, 13))
    assert 50 <= length < 300  # MAXLEN ~ 50: trimmed in whole nodes, never below the cap


async def _entries(transport: RedisStreamsTransport) -> list[dict[str, Any]]:
    client: Any = transport.client
    entries = await client.xrange(transport.key("trade", TAG))
    return [orjson.loads(fields[b"event"]) for _id, fields in entries]


async def _length(transport: RedisStreamsTransport) -> int:
    client: Any = transport.client
    return int(await client.xlen(transport.key("trade", TAG)))


def test_redis_keys_are_prefix_channel_and_tag(redis_target: RedisTarget) -> None:
    async def run() -> list[bytes]:
        transport = RedisStreamsTransport(parse_sink(redis_target.sink_url()), origin="o4")
        await transport.connect()
        await transport.send(records(1, 2))
        await transport.close()
        client: Any = aioredis.from_url(redis_target.url)
        keys = sorted([k async for k in client.scan_iter(match=f"{redis_target.prefix}:*")])
        await client.aclose()
        return keys

    assert asyncio.run(run()) == [
        f"{redis_target.prefix}:sink:o4".encode(),
        f"{redis_target.prefix}:trade:{TAG}".encode(),
    ]
