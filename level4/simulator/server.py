"""The venue simulator: one port serving a venue's websocket dialect, its
REST snapshots where it has them, and the reference books.

    GET /reference?symbol=BTC-USD[&depth=N]   the reference book, shaped like level4's book endpoint
    GET /control/pause | /control/resume   freeze or restart the order flow (for exact comparisons)
    GET /control/faults[?drop=0.01&stall=0&clear=1]   fault rates and counts; set some, or clear all first
    GET /control/limits[?rest_budget=300&clear=1&enforce=0&ban=2]   the venue's limits enforced, clients'
                                    peak usage of each and the refusals; change limits, start the counts
                                    over, switch enforcement off or on, set the first ban's seconds
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
from level4.simulator.limits_enforcer import LimitsEnforcer, Refuse, retry_after_header
from level4.simulator.orderflow import OrderFlow
from translations import limits_of, scheme_for, scheme_for_market
from translations.protocol import Instrument, MarketType
from translations.venue_limits import VenueLimits

log = structlog.get_logger(__name__)


def json_response(status: int, body: Any, extra: dict[str, str] | None = None) -> Response:
    payload = orjson.dumps(body)
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    for name, value in (extra or {}).items():
        headers[name] = value
    return Response(status, HTTPStatus(status).phrase, headers, payload)


def _fault_wait(status: int) -> dict[str, str] | None:
    """Venues send Retry-After with a 429; a struggling one asks for a short wait."""
    return {"Retry-After": FAULT_RETRY_AFTER} if status == 429 else None


FAULT_RETRY_AFTER = "1"


@dataclass(frozen=True, slots=True)
class _Request:
    """A client's request waiting to be answered."""

    frame: Any


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with this code, after the frames queued before it."""

    code: int
    reason: str


@dataclass(eq=False)
class Client:
    connection: ServerConnection
    session: ClientSession = field(default_factory=ClientSession)
    outbox: asyncio.Queue[str | Signal | Close | None] = field(default_factory=asyncio.Queue)
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
        limits: VenueLimits | None = None,
        enforce_limits: bool = True,
        api: str | None = None,
    ) -> None:
        self.venue = venue.upper()
        dialect_for(self.venue)  # refuses a venue the simulator does not speak
        mtype = market_type or scheme_for(self.venue, api or "").market_types[0]
        # The venue's API that lists these markets (Binance's futures, Kraken's) speaks its own dialect;
        # `api` names one outright (Kraken spot's v1, which no market is given any more).
        first = symbols[0].partition("-") if symbols else ("", "", "")
        if api is not None:
            scheme = scheme_for(self.venue, api)
        elif first[2]:
            scheme = scheme_for_market(self.venue, first[0], first[2], mtype)[0]
        else:
            scheme = scheme_for(self.venue)
        self.dialect: Dialect = dialect_for(self.venue, scheme.api)
        self.api = scheme.api
        key = f"{self.venue}/{scheme.api}" if scheme.api else self.venue
        self.faults = Faults(key, faults, seed, getattr(self.dialect, "corrupt_checksum", None))
        # The API's published limits (its scheme's `limits`), or smaller ones for tests.
        self.enforcer = LimitsEnforcer(self.venue, limits or limits_of(scheme), enforce_limits, api=scheme.api)
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
            refusal = self.enforcer.on_upgrade(time.monotonic())
            if refusal is not None:
                return json_response(refusal[0], refusal[1], {"Retry-After": retry_after_header(refusal[2])})
            status = self.faults.refuse_upgrade()
            if status is None:
                return None
            return json_response(status, {"error": "fault", "detail": "simulated upgrade refusal"}, _fault_wait(status))
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
        if parts.path == "/control/limits":
            return self._limits_control(query)
        refusal = self.enforcer.on_rest(request.path, time.monotonic())
        if refusal is not None:
            return json_response(refusal[0], refusal[1], {"Retry-After": retry_after_header(refusal[2])})
        fault = self.faults.rest_fault()
        if isinstance(fault, float):
            await asyncio.sleep(fault)  # hung: the client's timeout should have given up long before
        elif fault is not None:
            return json_response(fault, {"error": "fault", "detail": "simulated REST failure"}, _fault_wait(fault))
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

    def _limits_control(self, query: dict[str, str]) -> Response:
        enforcer = self.enforcer
        try:
            clear = query.pop("clear", "") not in ("", "0", "false")
            enforce = query.pop("enforce", None)
            ban = query.pop("ban", None)
            changes: dict[str, Any] = {}
            for name, raw in query.items():
                current = enforcer.limits.fields().get(name)
                if not isinstance(current, int | float) or isinstance(current, bool):
                    raise ValueError(f"{name!r} is no number among the limits")
                changes[name] = int(raw) if isinstance(current, int) else float(raw)
            limits = enforcer.limits.scaled(**changes)
            first_ban = float(ban) if ban is not None else None
        except (ValueError, TypeError) as exc:
            return json_response(422, {"error": "invalid", "detail": str(exc)})
        if changes or clear:
            enforcer.set_limits(limits)
        if enforce is not None:
            enforcer.enabled = enforce not in ("0", "false")
        if first_ban is not None:
            enforcer.ban_seconds = first_ban
        return json_response(200, enforcer.describe(time.monotonic()))

    # --- websocket -------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        client = Client(connection)
        self.clients.add(client)
        writer = asyncio.create_task(self._writer(client))
        hold_until = time.monotonic() + self.faults.subscribe_delay()
        enforcer = self.enforcer
        enforcer.opened(client.session, time.monotonic())
        lifetime = enforcer.limits.max_lifetime
        cut = (
            asyncio.get_running_loop().call_later(lifetime, self._expire, client)
            if lifetime and enforcer.enabled
            else None
        )
        # Requests are counted as they arrive and answered by a task of their own, so a
        # slow venue (slowsub) answers late without squeezing the arrivals it counts.
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        answerer = asyncio.create_task(self._answer(client, inbox, hold_until))
        try:
            async for raw in connection:
                try:
                    frame: Any = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    frame = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
                refusal = enforcer.on_message(client.session, frame, time.monotonic())
                inbox.put_nowait(refusal if refusal is not None else _Request(frame))
                if refusal is not None and refusal.close is not None:
                    break  # closing: the venue reads nothing more from this client
        except ConnectionClosed:
            pass
        finally:
            if cut is not None:
                cut.cancel()
            inbox.put_nowait(None)
            await answerer
            self.clients.discard(client)
            client.outbox.put_nowait(None)
            await writer

    async def _answer(self, client: Client, inbox: asyncio.Queue[Any], hold_until: float) -> None:
        """The venue's answers to a client's requests (and its refusals), in order."""
        while (item := await inbox.get()) is not None:
            if (wait := hold_until - time.monotonic()) > 0:
                await asyncio.sleep(wait)  # a slow venue: requests answered late, in order
            if isinstance(item, Refuse):
                if self._refuse(client, item):
                    return
                continue
            for out in self.dialect.on_client_frame(client.session, item.frame, self.markets, time.time()):
                client.outbox.put_nowait(out)
            refusal = self.enforcer.after_message(client.session)
            if refusal is not None and self._refuse(client, refusal):
                return

    @staticmethod
    def _refuse(client: Client, refusal: Refuse) -> bool:
        for frame in refusal.frames:
            client.outbox.put_nowait(frame)
        if refusal.close is None:
            return False
        client.outbox.put_nowait(Close(*refusal.close))
        return True

    def _expire(self, client: Client) -> None:
        """The venue cuts a connection at the end of its lifetime (Binance: 24 h)."""
        if self.enforcer.expired(client.session, time.monotonic()):
            client.outbox.put_nowait(Close(1001, "connection lifetime reached"))

    async def _writer(self, client: Client) -> None:
        stalled = False
        with contextlib.suppress(ConnectionClosed):
            while (frame := await client.outbox.get()) is not None:
                if frame is Signal.STALL:
                    stalled = True  # open, silent: only the client's watchdog can tell
                elif frame is Signal.DISCONNECT:
                    await self._cut(client.connection)
                    return
                elif isinstance(frame, Close):
                    await client.connection.close(frame.code, frame.reason)
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
