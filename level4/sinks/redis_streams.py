"""Redis Streams sink: one stream per channel and market, capped in length.

Each event is one entry `{"event": <JSON>}` appended with XADD MAXLEN ~ N to
`<prefix>:<channel>:<market tag>`. A batch is one MULTI/EXEC transaction that
also records its last serial under `<prefix>:sink:<origin>`, so after a
broken connection the runner's resend of a batch that did reach Redis is
recognised and skipped: all of a batch is written once, or none of it.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from level4.sinks.runner import Record
from level4.sinks.spec import SinkSpec

MARKER_TTL = 24 * 3600  # seconds; a marker outlives any plausible outage, then goes


class RedisStreamsTransport:
    def __init__(self, spec: SinkSpec, origin: str) -> None:
        self.url = spec.url
        self.prefix = spec.options["prefix"]
        self.maxlen = int(spec.options["maxlen"])
        self.marker = f"{self.prefix}:sink:{origin}"
        self.client: aioredis.Redis | None = None
        self._verify = False
        self._keys: dict[tuple[str, str], str] = {}

    def key(self, channel: str, market: str) -> str:
        pair = (channel, market)
        key = self._keys.get(pair)
        if key is None:
            key = self._keys[pair] = f"{self.prefix}:{channel}:{market}"
        return key

    async def connect(self) -> None:
        # No retries in the client: the runner owns them, with backoff and status.
        client: Any = aioredis.from_url(
            self.url, socket_connect_timeout=3, socket_timeout=10, retry=Retry(NoBackoff(), 0)
        )
        self.client = client
        await client.ping()
        self._verify = True

    async def send(self, batch: list[Record]) -> None:
        assert self.client is not None
        if self._verify:  # the first batch after a reconnect may be the one whose EXEC reply was lost
            written = await self.client.get(self.marker)
            if written is not None:
                batch = [r for r in batch if r.serial > int(written)]
            self._verify = False
        if not batch:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            for record in batch:
                pipe.xadd(
                    self.key(record.channel, record.market),
                    {"event": record.payload},
                    maxlen=self.maxlen,
                    approximate=True,
                )
            pipe.set(self.marker, batch[-1].serial, ex=MARKER_TTL)
            await pipe.execute()

    async def check(self) -> None:
        assert self.client is not None
        await self.client.ping()

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.aclose()
