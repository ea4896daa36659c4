"""The venue simulator: one port serving a venue's websocket dialect, its
REST snapshots where it has them, and the reference books.

    GET /reference?symbol=BTC-USD[&depth=N]   the reference book, shaped like level4's book endpoint
    GET /control/pause | /control/resume   freeze or restart the order flow (for exact comparisons)
    GET /control/faults[?drop=0.01&stall=0&clear=1]   fault rates and counts; set some, or clear all first
    anything else                   the dialect's REST answer, or 404
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from level4.book.orderbook import OrderBook
from level4.simulator.dialects import dialect_for, listed_markets
from level4.simulator.dialects.dialect_base import ClientSession, Dialect, SimMarket
from level4.simulator.faults import Faults, Link, Signal, parse
from level4.simulator.orderflow import OrderFlow
from translations import scheme_for, scheme_for_market
from translations.protocol import Instrument, MarketType

log = structlog.get_logger(__name__)


def json_response(status: int, body: Any) -> Response:
    payload = orjson.dumps(body)
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return Response(status, HTTPStatus(status).phrase, headers, payload)


@dataclass(eq=False)
class Client:
    connection: ServerConnection
    session: ClientSession = field(default_factory=ClientSession)
    outbox: asyncio.Queue[str | Signal | None] = field(default_factory=asyncio.Queue)
    link: Link = field(default_factory=Link)


class VenueSimulator:
    def __init__(
        self,
        venue: str,
        symbols: list[str],
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float = 50.0,
        seed: int = 1,
        market_type: MarketType | None = None,
        faults: dict[str, float] | None = None,
    ) -> None:
        self.venue = venue.upper()
        self.dialect: Dialect = dialect_for(self.venue)  # refuses a venue the simulator does not speak
        mtype = market_type or scheme_for(self.venue).market_types[0]
        # The venue's API that lists these markets (Binance's futures, Kraken's) speaks its own dialect.
        first = symbols[0].partition("-") if symbols else ("", "", "")
        scheme = scheme_for_market(self.venue, first[0], first[2], mtype)[0] if first[2] else scheme_for(self.venue)
        if scheme.api:
            self.dialect = dialect_for(self.venue, scheme.api)
        self.api = scheme.api
        key = f"{self.venue}/{scheme.api}" if scheme.api else self.venue
        self.faults = Faults(key, faults, seed, getattr(self.dialect, "corrupt_checksum", None))
        self.host, self.port, self.rate = host, port, rate
        self.markets: dict[str, SimMarket] = {}
        self.by_pair: dict[str, SimMarket] = {}
        self.flows: list[OrderFlow] = []
        for n, pair in enumerate(symbols):
            base, _, quote = pair.partition("-")
            if not quote:
                raise ValueError(f"symbols are BASE-QUOTE, got {pair!r}")
            instrument: Instrument = scheme.instrument(base, quote, mtype)
            market = SimMarket(instrument, OrderBook(instrument.symbol))
            self.markets[instrument.symbol] = market
            self.by_pair[instrument.pair] = market
            flow = OrderFlow(market, seed + n)
            flow.seed_book()
            self.flows.append(flow)
        self.clients: set[Client] = set()
        self.paused = False
        self.steps = 0
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        self._server = await serve(
            self._handle, self.host, self.port, process_request=self._http, max_size=2**24, ping_interval=None
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        self._tasks.append(asyncio.create_task(self._flow()))
        if self.dialect.heartbeat_interval:
            self._tasks.append(asyncio.create_task(self._heartbeats(self.dialect.heartbeat_interval)))
        log.info("simulator_started", venue=self.venue, port=self.port, markets=sorted(self.markets))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Future()
        finally:
            await self.stop()

    # --- HTTP --------------------------------------------------------------------

    def reference(self, symbol: str, depth: int | None = None) -> dict[str, Any] | None:
        market = self.markets.get(symbol) or self.by_pair.get(symbol.upper())
        if market is None:
            return None
        body: dict[str, Any] = {"market": market.instrument.tag(self.venue)}
        body.update(market.book.as_dict(depth))
        body["update_id"] = market.update_id
        return body

    def set_faults(self, rates: dict[str, float], clear: bool = False) -> None:
        """Change fault rates while running; frames held back for reordering go out."""
        if clear:
            self.faults.clear()
        self.faults.set(rates)
        self._release_held()

    def _release_held(self) -> None:
        for client in list(self.clients):
            for frame in self.faults.release(client.link):
                client.outbox.put_nowait(frame)

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            status = self.faults.refuse_upgrade()
            if status is None:
                return None
            return json_response(status, {"error": "fault", "detail": "simulated upgrade refusal"})
        parts = urlsplit(request.path)
        query = dict(parse_qsl(parts.query))
        if parts.path == "/reference":
            depth = query.get("depth", "")
            if depth and not (depth.isdigit() and int(depth) > 0):
                return json_response(422, {"error": "invalid", "detail": "depth must be a positive integer"})
            body = self.reference(query.get("symbol", ""), int(depth) if depth else None)
            if body is None:
                return json_response(404, {"error": "not_found", "detail": f"no market {query.get('symbol')!r}"})
            return json_response(200, body)
        if parts.path in ("/control/pause", "/control/resume"):
            self.paused = parts.path.endswith("pause")
            if self.paused:
                self._release_held()  # frames in flight arrive; only new ones stop
            return json_response(200, {"paused": self.paused, "steps": self.steps})
        if parts.path == "/control/faults":
            return self._faults_control(query)
        fault = self.faults.rest_fault()
        if isinstance(fault, float):
            await asyncio.sleep(fault)  # hung: the client's timeout should have given up long before
        elif fault is not None:
            return json_response(fault, {"error": "fault", "detail": "simulated REST failure"})
        listed = listed_markets.answer(self.venue, self.api, parts.path, query, self.markets)
        if listed is not None:  # the venue's instrument list, of the simulated markets
            return json_response(*listed)
        answer = self.dialect.rest(parts.path, query, self.markets, time.time())
        if answer is None:
            return json_response(404, {"error": "not_found", "detail": parts.path})
        return json_response(*answer)

    def _faults_control(self, query: dict[str, str]) -> Response:
        clear = query.pop("clear", "") not in ("", "0", "false")
        try:
            self.set_faults(parse(",".join(f"{k}={v}" for k, v in query.items())), clear)
        except ValueError as exc:
            return json_response(422, {"error": "invalid", "detail": str(exc)})
        answer = self.faults.describe()
        # Stalled connections stay stalled after the faults stop, until their clients give up on them.
        answer["stalled"] = sum(1 for c in self.clients if c.link.stalled)
        answer["cut"] = sum(1 for c in self.clients if c.link.cut)  # being closed
        answer["connections"] = len(self.clients)
        return json_response(200, answer)

    # --- websocket -------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        client = Client(connection)
        self.clients.add(client)
        writer = asyncio.create_task(self._writer(client))
        hold_until = time.monotonic() + self.faults.subscribe_delay()
        try:
            async for raw in connection:
                if (wait := hold_until - time.monotonic()) > 0:
                    await asyncio.sleep(wait)  # a slow venue: requests answered late, in order
                try:
                    frame: Any = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    frame = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
                for out in self.dialect.on_client_frame(client.session, frame, self.markets, time.time()):
                    client.outbox.put_nowait(out)
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(client)
            client.outbox.put_nowait(None)
            await writer

    async def _writer(self, client: Client) -> None:
        stalled = False
        with contextlib.suppress(ConnectionClosed):
            while (frame := await client.outbox.get()) is not None:
                if frame is Signal.STALL:
                    stalled = True  # open, silent: only the client's watchdog can tell
                elif frame is Signal.DISCONNECT:
                    await self._cut(client.connection)
                    return
                elif not stalled:
                    await client.connection.send(frame)

    async def _cut(self, connection: ServerConnection) -> None:
        if self.faults.abort_next():
            connection.transport.abort()  # no close frame: as when a network path dies
        else:
            await connection.close(1011, "simulated disconnect")

    async def _flow(self) -> None:
        interval = 1.0 / self.rate if self.rate > 0 else None
        rng_index = 0
        while True:
            await asyncio.sleep(interval or 3600)
            if self.paused or not self.flows:
                continue
            flow = self.flows[rng_index % len(self.flows)]
            rng_index += 1
            now = time.time()
            step = flow.step(now)
            self.steps += 1
            market = flow.market
            symbol = market.instrument.symbol
            for client in list(self.clients):
                if symbol not in client.session.subscribed:
                    continue
                book = self.dialect.on_book_change(client.session, market, step.bids, step.asks, now)
                frames, signal = self.faults.book_frames(client.link, book)
                if signal is None and step.trade is not None:
                    frames += self.dialect.on_trade(client.session, market, step.trade, now)
                for frame in frames:
                    client.outbox.put_nowait(frame)
                if signal is not None:
                    client.outbox.put_nowait(signal)

    async def _heartbeats(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            now = time.time()
            for client in list(self.clients):
                for frame in self.dialect.heartbeat(client.session, self.markets, now):
                    client.outbox.put_nowait(frame)
