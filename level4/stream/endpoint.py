"""The /stream websocket: subscriptions in, events out, as JSON text.

Each connection runs two tasks on the HTTP server's loop: one reads the
client's requests, one drains its StreamClient queue into the socket.
Whichever ends first ends the connection, and the client is detached from
the hub and the consolidated tracker at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Any

import orjson
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from level4.catalogue.catalogue_errors import CatalogueError
from level4.consolidated.pair_groups import Group
from level4.stream.client import StreamClient
from level4.stream.downstream import Downstream
from level4.stream.stream_requests import MARKET_CHANNELS, Request, StreamError, parse, request_id

log = structlog.get_logger(__name__)

POLICY_VIOLATION = 1008
CLOSE_TIMEOUT = 5.0


def error(code: str, detail: str, rid: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "error", "error": code, "detail": detail}
    if rid is not None:
        message["id"] = rid
    return message


async def refuse(websocket: WebSocket, code: str, detail: str) -> None:
    """Say why in a message, then close: never a dropped connection without a reason."""
    await websocket.send_text(orjson.dumps(error(code, detail)).decode())
    await websocket.close(code=POLICY_VIOLATION, reason=detail[:120])


class StreamSession:
    def __init__(self, websocket: WebSocket, downstream: Downstream) -> None:
        self.ws = websocket
        self.down = downstream
        self.client = StreamClient(asyncio.get_running_loop(), downstream.queue_limit)
        self.groups: set[Group] = set()

    async def run(self) -> None:
        client = self.client
        detach = self.down.hub.subscribe(client.offer)
        self.down.clients.add(client)
        # The sender may be stuck in a write to a client that stopped reading: giving up must not wait for it.
        tasks = [
            asyncio.create_task(self._send()),
            asyncio.create_task(self._receive()),
            asyncio.create_task(client.given_up()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            detach()
            for group in self.groups:
                self.down.tops.unsubscribe(group, client.offer_consolidated)
            self.down.clients.discard(client)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if client.closing is not None:
            log.warning("stream_client_dropped", reason=client.closing, high_water=client.high_water)
            # The close frame goes out behind what the socket holds, even to a client not reading
            # (level4.stream.close_protocol): it reads the reason when it reads again.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(code=POLICY_VIOLATION, reason=client.closing), CLOSE_TIMEOUT)

    async def _send(self) -> None:
        client, ws = self.client, self.ws
        while True:
            batch = await client.next_batch()
            if batch is None:
                return
            for message in batch:
                await ws.send_text(orjson.dumps(message).decode())

    async def _receive(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes")
            if raw is None:
                continue
            try:
                await self._handle(parse(raw))
            except StreamError as exc:
                self.client.reply(error(exc.error, exc.detail, request_id(raw)))
            except Exception:  # a bug must cost this request, not the connection
                log.exception("stream_request_failed")
                self.client.reply(error("internal", "unexpected error; see the service log", request_id(raw)))

    async def _handle(self, request: Request) -> None:
        market_channels = request.channels & set(MARKET_CHANNELS)
        try:
            markets, groups = await run_in_threadpool(self.down.resolve, request.markets, request.equivalent)
        except CatalogueError as exc:
            raise StreamError("unavailable", exc.detail) from None
        if markets and not market_channels:
            raise StreamError("invalid", f"channels: markets take {', '.join(MARKET_CHANNELS)}")
        if groups and "consolidated" not in request.channels:
            raise StreamError("invalid", "channels: pairs (BASE-QUOTE) take the consolidated channel")
        if market_channels and not markets:
            raise StreamError("invalid", "markets: the channels asked for need market ids or tags")
        if "consolidated" in request.channels and not groups:
            raise StreamError("invalid", "markets: the consolidated channel needs pairs such as BTC-USD")
        reply: dict[str, Any] = {
            "type": f"{request.op}d",
            "markets": [{"id": market_id, "market": tag} for market_id, tag in markets.items()],
            "pairs": [g.name for g in groups],
            "channels": sorted(request.channels),
        }
        if request.id is not None:
            reply["id"] = request.id
        if request.op == "subscribe":
            self._subscribe(markets, groups, frozenset(market_channels), reply)
        else:
            self._unsubscribe(markets, groups, frozenset(market_channels), reply)

    def _subscribe(
        self, markets: dict[int, str], groups: list[Group], channels: frozenset[str], reply: dict[str, Any]
    ) -> None:
        client = self.client
        for market_id, token in client.subscribe(markets, channels, reply):
            self.down.request_book(market_id, markets[market_id], partial(client.deliver_snapshot, market_id, token))
        for group in groups:
            if group not in self.groups:
                self.groups.add(group)
                self.down.tops.subscribe(group, client.offer_consolidated)

    def _unsubscribe(
        self, markets: dict[int, str], groups: list[Group], channels: frozenset[str], reply: dict[str, Any]
    ) -> None:
        for group in groups:
            if group in self.groups:
                self.groups.discard(group)
                self.down.tops.unsubscribe(group, self.client.offer_consolidated)
        self.client.unsubscribe(list(markets), channels, reply)
