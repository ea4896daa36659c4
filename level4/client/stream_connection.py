"""The one websocket to /stream that carries every market a client follows.

One task owns it: it resolves the client's patterns against `GET /markets`,
connects, proves the token, keeps the subscriptions equal to what the
subscription table wants, and reads. Each event is checked against its
market's sequence (`GapTracker`), then handed to the market's mirror and
feeds. A gap or a new epoch without a snapshot drops and retakes the
market's book channel, which brings a fresh snapshot. When the connection
ends, every mirror is marked unsynchronised and the task reconnects with
backoff and jitter, re-resolving patterns and resubscribing everything;
a refused token stops it for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from typing import Any

import orjson
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from level4.client.client_errors import RequestRefused, ServiceUnavailable, Unauthorized, UnknownMarket
from level4.client.gap_tracker import Epochs, GapTracker, Verdict
from level4.client.reconnect_policy import ReconnectPolicy
from level4.client.service_rest import ServiceRest, auth_headers
from level4.client.subscription_table import MARKET_CHANNELS, SubscriptionTable

log = structlog.get_logger(__name__)

MAX_MESSAGE = 64 * 1024 * 1024  # a deep book's snapshot is one message
RETRY_UNAVAILABLE = 1.0  # seconds before asking again when the service's catalogue was unavailable
# A connection that drops sooner than this after it was made (a service that
# keeps closing it) does not reset the backoff, so it is not retried at once for ever.
STABLE_AFTER = 5.0


class StreamConnection:
    def __init__(
        self,
        url: str,
        token: str | None,
        context: ssl.SSLContext | None,
        rest: ServiceRest,
        table: SubscriptionTable,
        policy: ReconnectPolicy,
        open_timeout: float,
        request_timeout: float,
    ) -> None:
        self.url = url
        self.headers = auth_headers(token)
        self.context = context
        self.rest = rest
        self.table = table
        self.policy = policy
        self.open_timeout = open_timeout
        self.request_timeout = request_timeout
        self.connected = asyncio.Event()
        self.failure: BaseException | None = None  # fatal: no more reconnects
        self.sessions = 0  # connections that got through, the first included
        self.gaps = 0  # gaps (and epochs without a snapshot) seen
        self._ws: ClientConnection | None = None
        self._up = False
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._subscribed: dict[int, frozenset[str]] = {}  # as the service holds them on this connection
        self._trackers: dict[int, GapTracker] = {}
        self.epochs = Epochs()  # kept across reconnects: an older epoch never comes back
        self._refresh: set[int] = set()  # markets whose book must be taken afresh
        self._dirty = asyncio.Event()
        self._auth_error: Unauthorized | None = None
        self._task: asyncio.Task[None] | None = None
        self._first: asyncio.Future[None] | None = None

    # --- the client's side --------------------------------------------------------------

    async def start(self) -> None:
        """Connect; raises what kept the first connection from being made within `open_timeout`."""
        self._first = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name="level4-client-stream")
        await self._first

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def kick(self) -> None:
        """The table changed: bring the subscriptions in line."""
        self._dirty.set()

    def retake(self, market_id: int) -> None:
        """Take the market's book afresh (a new mirror of a market whose book
        channel another reader already holds: only a new subscription brings a snapshot)."""
        self._refresh.add(market_id)
        self._dirty.set()

    def subscribed(self) -> dict[int, frozenset[str]]:
        return dict(self._subscribed)

    # --- the connection's life --------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.open_timeout
        attempt = 0
        while True:
            began = loop.time()
            try:
                await self._session()
                reason = "the service closed the connection"
            except asyncio.CancelledError:
                self._down("client closed")
                raise
            except Unauthorized as exc:
                self._down(str(exc))
                self._fatal(exc)
                return
            except Exception as exc:
                refused = self._refusal(exc)
                if refused is not None:
                    self._down(str(refused))
                    self._fatal(refused)
                    return
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if self._up and loop.time() - began >= STABLE_AFTER:
                attempt = 0  # it worked for a while: back to short delays
            self._down(reason)
            assert self._first is not None
            if not self._first.done() and loop.time() >= give_up_at:
                self._first.set_exception(ServiceUnavailable(f"{self.url}: {reason}"))
                return
            delay = self.policy.delay(attempt)
            attempt += 1
            log.warning("client_reconnecting", url=self.url, reason=reason, delay=round(delay, 3))
            await asyncio.sleep(delay)

    def _refusal(self, error: Exception) -> Unauthorized | None:
        """A refused token, however the refusal reached us: the stream sends an
        `unauthorized` message and closes with 1008, and whichever of the two the
        connection saw first (the reader, or a request sent as the socket closed)
        must end the client, not start a retry."""
        if self._auth_error is not None:
            return self._auth_error
        close = error.rcvd if isinstance(error, ConnectionClosed) else None
        if close is not None and close.code == 1008 and "token" in close.reason:
            return Unauthorized(close.reason)
        return None

    async def _session(self) -> None:
        self.table.resolve(await self.rest.markets())  # patterns chosen afresh
        options: dict[str, Any] = {}
        if self.url.startswith("wss://") and self.context is not None:
            options["ssl"] = self.context
        try:
            ws = await connect(
                self.url,
                additional_headers=self.headers,
                open_timeout=self.request_timeout,
                max_size=MAX_MESSAGE,
                **options,
            )
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise Unauthorized(f"/stream: {exc.response.status_code}") from None
            raise
        self._ws = ws
        tasks: list[asyncio.Task[None]] = []
        try:
            tasks.append(asyncio.create_task(self._read(ws)))
            await self._hello(tasks[0])
            self._up = True
            self.sessions += 1
            self.connected.set()
            log.info("client_connected", url=self.url, sessions=self.sessions)
            assert self._first is not None
            if not self._first.done():
                self._first.set_result(None)
            self._dirty.set()
            tasks.append(asyncio.create_task(self._keep()))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)

    async def _hello(self, reader: asyncio.Task[None]) -> None:
        # The stream says nothing when it accepts a connection and refuses a bad
        # token with a message and a close: a request it must refuse (no markets)
        # is the round trip that proves the token without subscribing to anything.
        request = asyncio.ensure_future(self._request({"op": "subscribe", "markets": [], "channels": ["status"]}))
        done, _ = await asyncio.wait({request, reader}, return_when=asyncio.FIRST_COMPLETED)
        if request not in done:
            request.cancel()
            reader.result()
            raise ServiceUnavailable("the stream closed before answering")
        request.result()  # any answer to it (a refused token raises instead) will do

    def _down(self, reason: str) -> None:
        if self._up:
            log.warning("client_disconnected", url=self.url, reason=reason)
        self._up = False
        self._ws = None
        self.connected.clear()
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._subscribed.clear()
        self._trackers.clear()
        self._refresh.clear()
        for mirror in self.table.mirrors.values():
            mirror.mark_lost(f"disconnected: {reason}")

    def _fatal(self, error: BaseException) -> None:
        self.failure = error
        log.error("client_gave_up", url=self.url, reason=str(error))
        assert self._first is not None
        if not self._first.done():
            self._first.set_exception(error)
        for mirror in self.table.mirrors.values():
            mirror.mark_failed(error)
        for feed in self.table.feeds:
            feed.finish(error)

    # --- subscriptions ----------------------------------------------------------------

    async def _keep(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._reconcile()

    async def _reconcile(self) -> None:
        refresh, self._refresh = self._refresh, set()
        await asyncio.gather(
            *(self._change("unsubscribe", m, {"book"}) for m in refresh if "book" in self._subscribed.get(m, ()))
        )
        desired = self.table.desired()
        changes: list[tuple[str, int, frozenset[str]]] = []
        for market_id, want in desired.items():
            add = want - self._subscribed.get(market_id, frozenset())
            if add:
                changes.append(("subscribe", market_id, add))
        for market_id, have in self._subscribed.items():
            drop = have - desired.get(market_id, frozenset())
            if drop:
                changes.append(("unsubscribe", market_id, drop))
        # One request a market: a market the service refuses costs only itself.
        await asyncio.gather(*(self._change(op, m, channels) for op, m, channels in changes))

    async def _change(self, op: str, market_id: int, channels: set[str] | frozenset[str]) -> None:
        reply = await self._request({"op": op, "markets": [market_id], "channels": sorted(channels)})
        if reply.get("type") != "error":
            return
        code, detail = str(reply.get("error")), str(reply.get("detail"))
        log.warning("client_request_refused", market_id=market_id, op=op, error=code, detail=detail)
        if code == "unavailable":  # the service's catalogue is down for a moment: ask again
            asyncio.get_running_loop().call_later(RETRY_UNAVAILABLE, self._dirty.set)
        elif op == "subscribe":
            error = UnknownMarket(detail) if code == "unknown_market" else RequestRefused(code, detail)
            self.table.refused(market_id, error)

    async def _request(self, body: dict[str, Any]) -> dict[str, Any]:
        ws = self._ws
        if ws is None:
            raise ServiceUnavailable("not connected")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await ws.send(orjson.dumps({**body, "id": request_id}).decode())
            return await asyncio.wait_for(future, self.request_timeout)
        except TimeoutError:
            raise ServiceUnavailable(f"no answer to {body['op']} within {self.request_timeout}s") from None
        finally:
            self._pending.pop(request_id, None)

    # --- receiving --------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self.deliver(orjson.loads(raw))
        if self._auth_error is not None:
            raise self._auth_error
        raise ServiceUnavailable(f"stream closed ({ws.close_code} {ws.close_reason or ''})".strip())

    def deliver(self, message: dict[str, Any]) -> None:
        """One message from the service, in the order it was sent."""
        if "channel" in message:
            try:
                self._event(message)
            except Exception:  # a bug must cost this market's book, not the connection
                log.exception("client_event_failed", market=message.get("market"))
                self._gap(int(message["market_id"]), "an event could not be applied")
            return
        kind = message.get("type")
        if kind in ("subscribed", "unsubscribed"):
            self._confirmed(kind, message)
        elif kind == "error" and message.get("error") == "unauthorized":
            self._auth_error = Unauthorized(str(message.get("detail")))
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(self._auth_error)
            return
        request_id = message.get("id")
        waiting = self._pending.get(request_id) if isinstance(request_id, int) else None
        if waiting is not None and not waiting.done():
            waiting.set_result(message)

    def _confirmed(self, kind: str, reply: dict[str, Any]) -> None:
        # Here, in the reader, not where the request is awaited: the events the
        # change brings follow its reply at once.
        channels = frozenset(reply.get("channels", ())) & MARKET_CHANNELS
        for entry in reply.get("markets", ()):
            market_id = int(entry["id"])
            before = self._subscribed.get(market_id, frozenset())
            if kind == "subscribed":
                self._subscribed[market_id] = before | channels
                if "book" in channels and "book" not in before:  # a snapshot is on its way
                    self._trackers.setdefault(market_id, GapTracker()).arm()
            else:
                left = before - channels
                if left:
                    self._subscribed[market_id] = left
                else:
                    self._subscribed.pop(market_id, None)
                if "book" in channels and market_id in self._trackers:
                    self._trackers[market_id].wait()

    def _event(self, event: dict[str, Any]) -> None:
        market_id = event["market_id"]
        if not self.epochs.current(event):
            return  # a deposed owner's, late: neither the mirror nor the feeds take it
        tracker = self._trackers.get(market_id)
        if tracker is not None and "book" in self._subscribed.get(market_id, ()):
            verdict = tracker.check(event)
            if verdict is Verdict.APPLY:
                mirror = self.table.mirrors.get(market_id)
                if mirror is not None:
                    mirror.apply_event(event)
            elif verdict is Verdict.GAP:
                self._gap(market_id, tracker.gap or "lost events")
        channel = event["channel"]
        for feed in self.table.feeds_for(market_id):
            if channel in feed.channels:
                feed.push(event)

    def _gap(self, market_id: int, what: str) -> None:
        self.gaps += 1
        mirror = self.table.mirrors.get(market_id)
        log.warning("client_sequence_gap", market=mirror.market if mirror else market_id, gap=what)
        tracker = self._trackers.get(market_id)
        if tracker is not None:
            tracker.wait()
        if mirror is not None:
            mirror.mark_lost(f"lost events ({what}): taking a fresh snapshot")
        self._refresh.add(market_id)
        self._dirty.set()
