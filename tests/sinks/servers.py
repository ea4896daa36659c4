"""The real NATS and Redis servers of the sink tests: unique names per test,
reading back with the official clients, a TCP proxy to cut and restore a link."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections import defaultdict
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import nats
import nats.js.errors
import orjson
import pytest
import redis.asyncio as aioredis

from tests.support import SimulatorThread

NATS_ENV = "LEVEL4_TEST_NATS_URL"
REDIS_ENV = "LEVEL4_TEST_REDIS_URL"

Key = tuple[str, str]  # (channel, market tag)


def server_url(env: str) -> str:
    url = os.environ.get(env, "").strip()
    if not url:
        pytest.skip(f"{env} is not set; this test needs that server")
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"127.0.0.1:{port}", parts.path, parts.query, parts.fragment))


def by_key(events: list[dict[str, Any]]) -> dict[Key, list[dict[str, Any]]]:
    """Events as a sink stores them (through JSON), grouped per channel and market, in order."""
    out: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        out[(event["channel"], event["market"])].append(orjson.loads(orjson.dumps(event)))
    return dict(out)


class Target(Protocol):
    kind: str

    def sink_url(self, port: int | None = None, **params: Any) -> str: ...

    def read(self) -> dict[Key, list[dict[str, Any]]]: ...

    def cleanup(self) -> None: ...


class NatsTarget:
    kind = "nats"

    def __init__(self, url: str) -> None:
        self.url = url
        tag = uuid.uuid4().hex[:12]
        self.stream = f"L4TEST_{tag}"
        self.prefix = f"l4test_{tag}"
        self.in_order: list[tuple[str, dict[str, Any]]] = []  # (subject, event), whole stream in order

    def sink_url(self, port: int | None = None, **params: Any) -> str:
        url = self.url if port is None else with_port(self.url, port)
        return f"{url}?{urlencode({'stream': self.stream, 'prefix': self.prefix, **params})}"

    def read(self) -> dict[Key, list[dict[str, Any]]]:
        self.in_order = asyncio.run(self._read())
        out: dict[Key, list[dict[str, Any]]] = defaultdict(list)
        for subject, event in self.in_order:
            out[(event["channel"], event["market"])].append(event)
            assert subject.startswith(f"{self.prefix}.{event['channel']}."), subject
        return dict(out)

    async def _read(self) -> list[tuple[str, dict[str, Any]]]:
        nc = await nats.connect(self.url)
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                return []
            out = []
            sub = await js.subscribe(f"{self.prefix}.>", ordered_consumer=True)
            for _ in range(info.state.messages):
                msg = await sub.next_msg(timeout=5)
                out.append((msg.subject, orjson.loads(msg.data)))
            await sub.unsubscribe()
            return out
        finally:
            await nc.close()

    def cleanup(self) -> None:
        async def drop() -> None:
            nc = await nats.connect(self.url)
            try:
                await nc.jetstream().delete_stream(self.stream)
            except nats.js.errors.NotFoundError:
                pass
            finally:
                await nc.close()

        asyncio.run(drop())


class RedisTarget:
    kind = "redis"

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"l4test-{uuid.uuid4().hex[:12]}"

    def sink_url(self, port: int | None = None, **params: Any) -> str:
        url = self.url if port is None else with_port(self.url, port)
        return f"{url}?{urlencode({'prefix': self.prefix, **params})}"

    def read(self) -> dict[Key, list[dict[str, Any]]]:
        return asyncio.run(self._read())

    async def _read(self) -> dict[Key, list[dict[str, Any]]]:
        client: Any = aioredis.from_url(self.url)
        try:
            out: dict[Key, list[dict[str, Any]]] = {}
            async for raw in client.scan_iter(match=f"{self.prefix}:*"):
                key = raw.decode()
                if key.startswith(f"{self.prefix}:sink:"):
                    continue
                entries = await client.xrange(key)
                events = [orjson.loads(fields[b"event"]) for _id, fields in entries]
                channel, market = key[len(self.prefix) + 1 :].split(":", 1)
                assert all((e["channel"], e["market"]) == (channel, market) for e in events), key
                out[(channel, market)] = events
            return out
        finally:
            await client.aclose()

    def cleanup(self) -> None:
        async def drop() -> None:
            client: Any = aioredis.from_url(self.url)
            try:
                keys = [k async for k in client.scan_iter(match=f"{self.prefix}:*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()

        asyncio.run(drop())


class TcpProxy:
    """127.0.0.1:port -> target, on a loop thread of its own; stop() cuts every
    open connection and stops listening, start() listens again."""

    def __init__(self, target_url: str, port: int) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 0)
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        async def listen() -> None:
            self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

        asyncio.run_coroutine_threadsafe(listen(), self.loop).result(5)

    def stop(self) -> None:
        async def cut() -> None:
            if self.server is not None:
                self.server.close()
                self.server = None
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()

        asyncio.run_coroutine_threadsafe(cut(), self.loop).result(5)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self.writers -= {writer, up_writer}


def start_market(base: str, sim: SimulatorThread) -> dict[str, Any]:
    """Register the simulated Coinbase BTC-USD market and switch its feed on."""
    api = httpx.Client(base_url=base, timeout=10)
    api.post("/symbols", json={"symbol": "BTC"})
    api.post("/symbols", json={"symbol": "USD"})
    api.post("/exchanges", json={"name": "COINBASE", "ws_url": sim.url})
    r = api.post("/markets", json={"exchange": "COINBASE", "base_symbol": "BTC", "quote_symbol": "USD"})
    assert r.status_code == 201, r.text
    market: dict[str, Any] = r.json()
    assert api.patch(f"/markets/{market['id']}", json={"level4_feed_enabled": True}).status_code == 200
    return market


def sink_health(base: str, name: str) -> dict[str, Any]:
    sinks = httpx.get(f"{base}/health", timeout=10).json()["sinks"]
    found: dict[str, Any] = next(s for s in sinks if s["name"] == name)
    return found
