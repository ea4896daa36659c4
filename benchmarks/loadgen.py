"""A venue at a chosen frame rate, for the live benchmark; run as its own process.

It speaks Coinbase's level-2 dialect (subscriptions, snapshot, l2update,
match with consecutive trade ids), which level4's scheme reads in full, but
unlike `level4 simulate` it is built to be cheap per frame so that one core
can out-send what is measured: frames are formatted from templates, a run of
them is framed by hand and written to the socket in one call per loop turn,
and the rate is paced from a clock rather than by sleeping once per frame.

    python -m benchmarks.loadgen [--port P] [--symbols BTC-USD,ETH-USD]

prints `port N` once listening. HTTP on the same port:
    GET /rate?fps=F   frames per second across all connected markets (0 stops)
    GET /stats        {"sent": frames sent so far, "fps": the current rate, "streams": markets,
                       "connections": websocket connections carrying them}

Every connection also gets a heartbeat a second, so quiet feeds stay alive.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import struct
import time
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

TICK = 0.001  # seconds between sends; each send carries every frame due by then
DEPTH = 50  # levels per side in the snapshot
TRADE_EVERY = 10  # one frame in ten is a trade


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented websocket text frame (server to client)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + struct.pack("!H", n) + payload
    return b"\x81\x7f" + struct.pack("!Q", n) + payload


def iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Market:
    """One product's synthetic flow: changes on a tick grid around a fixed mid."""

    def __init__(self, product: str, seed: int) -> None:
        self.product = product
        self.rng = random.Random(seed)
        self.mid = 5_000_000  # ticks of 0.01
        self.trade_id = 1000
        self.sizes = [f"{self.rng.randint(1, 50_000) / 10_000:.4f}" for _ in range(512)]
        self.update = '{"type":"l2update","product_id":"' + product + '","changes":[["%s","%d.%02d","%s"]],"time":"%s"}'
        self.match = (
            '{"type":"match","trade_id":%d,"side":"%s","size":"%s","price":"%d.%02d",'
            '"product_id":"' + product + '","sequence":%d,"time":"%s"}'
        )
        self.count = 0

    def heartbeat(self, stamp: str) -> bytes:
        return text_frame(
            b'{"type":"heartbeat","sequence":%d,"last_trade_id":%d,"product_id":"%s","time":"%s"}'
            % (self.count, self.trade_id, self.product.encode(), stamp.encode())
        )

    def snapshot(self, now: float) -> bytes:
        bids = [[f"{(self.mid - i) // 100}.{(self.mid - i) % 100:02d}", self.sizes[i]] for i in range(1, DEPTH + 1)]
        asks = [[f"{(self.mid + i) // 100}.{(self.mid + i) % 100:02d}", self.sizes[-i]] for i in range(1, DEPTH + 1)]
        snapshot = {"type": "snapshot", "product_id": self.product, "bids": bids, "asks": asks, "time": iso(now)}
        return orjson.dumps(snapshot)

    def frames(self, n: int, stamp: str) -> list[bytes]:
        rng = self.rng
        out = []
        for _ in range(n):
            self.count += 1
            buy = rng.random() < 0.5
            # Most changes land near the top, as on a real venue.
            offset = min(DEPTH, 1 + int(rng.expovariate(0.15)))
            ticks = self.mid - offset if buy else self.mid + offset
            if self.count % TRADE_EVERY == 0:
                self.trade_id += 1
                side = "buy" if buy else "sell"
                size = self.sizes[self.count & 511]
                text = self.match % (self.trade_id, side, size, ticks // 100, ticks % 100, self.count, stamp)
            else:
                size = "0" if rng.random() < 0.25 else self.sizes[self.count & 511]
                text = self.update % ("buy" if buy else "sell", ticks // 100, ticks % 100, size, stamp)
            out.append(text_frame(text.encode()))
        return out


class LoadGenerator:
    def __init__(self, port: int) -> None:
        self.port = port
        self.fps = 0.0
        self.sent = 0
        # (connection, product) -> its flow: one connection may carry many products
        self.streams: dict[tuple[ServerConnection, str], Market] = {}
        self._due = 0.0
        self._seed = 0

    async def handle(self, connection: ServerConnection) -> None:
        try:
            async for raw in connection:
                frame = orjson.loads(raw)
                kind = frame.get("type")
                products = frame.get("product_ids", [])
                if kind == "unsubscribe":
                    for product in products:
                        self.streams.pop((connection, product), None)
                    continue
                if kind != "subscribe":
                    continue
                channels = [c if isinstance(c, str) else c.get("name", "") for c in frame.get("channels", [])]
                ack = {"type": "subscriptions", "channels": [{"name": c, "product_ids": products} for c in channels]}
                await connection.send(orjson.dumps(ack).decode())
                self.sent += 1
                for product in products:
                    self._seed += 1
                    market = Market(product, self._seed)
                    await connection.send(market.snapshot(time.time()).decode())
                    self.sent += 1
                    self.streams[(connection, product)] = market
        except ConnectionClosed:
            pass
        finally:
            for key in [k for k in self.streams if k[0] is connection]:
                del self.streams[key]

    async def heartbeats(self) -> None:
        """Once a second on every connection, as the venue does: quiet feeds stay alive."""
        while True:
            await asyncio.sleep(1.0)
            stamp = iso(time.time())
            for (connection, _product), market in list(self.streams.items()):
                transport = connection.transport
                if transport is not None and not transport.is_closing():
                    transport.write(market.heartbeat(stamp))
                    self.sent += 1

    async def pace(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            self._due += self.fps * (now - last)
            last = now
            streams = list(self.streams.items())
            if not streams or self.fps <= 0:
                self._due = 0.0
                continue
            whole = int(self._due)
            if whole < len(streams):
                continue
            each, extra = divmod(whole, len(streams))
            stamp = iso(time.time())
            for i, ((connection, _product), market) in enumerate(streams):
                n = each + (1 if i < extra else 0)
                transport = connection.transport
                if transport is None or transport.is_closing():
                    continue
                # One write per loop turn: the frames go out back to back, as a busy venue's do.
                transport.write(b"".join(market.frames(n, stamp)))
                self.sent += n
            self._due -= whole

    def http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        parts = urlsplit(request.path)
        if parts.path == "/rate":
            self.fps = float(dict(parse_qsl(parts.query)).get("fps", "0"))
        connections = len({connection for connection, _product in self.streams})
        stats = {"sent": self.sent, "fps": self.fps, "streams": len(self.streams), "connections": connections}
        body = orjson.dumps(stats)
        # websockets closes the connection after any answer but an upgrade: say so, or the
        # client may send its next request down the closed connection.
        headers = Headers(
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")]
        )
        return Response(200, HTTPStatus.OK.phrase, headers, body)

    async def run(self) -> None:
        async with serve(
            self.handle, "127.0.0.1", self.port, process_request=self.http, compression=None, ping_interval=None
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            print(f"port {self.port}", flush=True)
            beats = asyncio.create_task(self.heartbeats())
            try:
                await self.pace()
            finally:
                beats.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(LoadGenerator(args.port).run())


if __name__ == "__main__":
    main()
