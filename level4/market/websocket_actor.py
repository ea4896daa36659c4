"""The websocket actor: owns the market's connection (a coroutine on the
shared IO loop) and relays between it and the mediator.

For a scheme that routes frames (see translations.protocol.Routing) the
market has no connection of its own: the actor is its subscription on a
connection of its venue's pool, joined on start and left (unsubscribed) on
stop. The mediator is told the same things either way."""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import Any

import pykka

from level4.market.context import MarketContext
from level4.market.market_actor import MarketActor
from level4.market.messages import (
    Connected,
    Crash,
    Disconnected,
    DoFetch,
    DoReconnect,
    DoResubscribe,
    Frames,
    PingDue,
    RestReply,
    SendFrames,
    Synchronised,
)
from level4.market.status_board import Status
from level4.net import connection_pool
from level4.net.ioloop import IOLoop
from level4.net.shared_connection import SubscriberCallbacks, Subscription
from level4.net.venue_connection import Batch, FeedConnection, Refused
from level4.net.venue_limiter import limiter_for
from level4.supervision import scheduler
from translations.protocol import RestAnswer

JOURNALED_ROLES = ("exchange", "mediator", "orderbook")


class _Relay(SubscriberCallbacks):
    """Runs on the IO loop: forwards to the mediator without blocking, and
    to the journal (a queue put) what it forwards, in the same order."""

    def __init__(self, ctx: MarketContext, owner: pykka.ActorRef[Any]) -> None:
        self.ctx = ctx
        self.journal = ctx.journal
        self.owner = owner

    def _tell(self, message: Any) -> None:
        self.ctx.registry.tell(self.ctx.market_id, "mediator", message)

    def connected(self, generation: int) -> None:
        self._tell(Connected(generation))
        if self.journal is not None:
            self.journal.opened(generation)

    def frames(self, generation: int, batch: Batch) -> None:
        self._tell(Frames(generation, batch))
        if self.journal is not None:
            self.journal.frames(generation, batch)

    def routed(self, generation: int, batch: Batch, parsed: list[Any]) -> None:
        self._tell(Frames(generation, batch, parsed))
        if self.journal is not None:
            self.journal.frames(generation, batch)

    def riding(self, connection: str | None) -> None:
        self.ctx.board.set_connection(self.ctx.market_id, connection)

    def unreadable(self, reason: str) -> None:
        self.ctx.board.count(self.ctx.market_id, malformed=1)

    def keepalive(self, generation: int, received: float, raw: str | bytes) -> None:
        # Counted and recorded as any frame, but the mediator is not woken: it would translate it to nothing.
        self.ctx.board.frames_seen(self.ctx.market_id, 1, received)
        if self.journal is not None:
            self.journal.frames(generation, [(received, raw)])

    def disconnected(self, generation: int, reason: str) -> None:
        self.ctx.log.info("feed_disconnected", reason=reason)
        self._tell(Disconnected(generation, reason))
        if self.journal is not None:
            self.journal.closed(generation, reason)

    def rest_answer(self, symbol: str, path: str, body: Any, error: str | None) -> None:
        if error:
            self.ctx.log.warning("rest_fetch_failed", path=path, error=error)
        self._tell(RestReply(RestAnswer(symbol, path, body, error)))
        if self.journal is not None:
            self.journal.rest(symbol, path, body, error)

    def ping_due(self, generation: int) -> None:
        self._tell(PingDue(generation))

    def queued(self, symbol: str, path: str, wait: float) -> None:
        # Waiting its turn within the venue's limits is no failure: the book is on its way.
        reason = f"queued: REST snapshot in {wait:.1f}s, within the venue's rate limits"
        self.ctx.board.set(self.ctx.market_id, Status.SYNCHRONISING, reason)

    def connect_queued(self, wait: float) -> None:
        board, market_id = self.ctx.board, self.ctx.market_id
        if board.status(market_id) is Status.CONNECTING:  # a reconnect keeps the reason it lost its connection for
            reason = f"queued: connection attempt in {wait:.1f}s, within the venue's limits"
            board.set(market_id, Status.CONNECTING, reason)

    def refused(self, reason: str) -> None:
        self.owner.tell(_Refused(reason))


@dataclass(slots=True)
class _Refused:
    """From the feed to its own actor: the venue refuses it for good."""

    reason: str


class WebsocketActor(MarketActor):
    role = "websocket"

    def __init__(self, ctx: MarketContext, **supervision: Any) -> None:
        super().__init__(ctx, **supervision)
        self.io = IOLoop.get()
        relay = _Relay(ctx, self.actor_ref)
        self.feed: FeedConnection | None = None
        self.sub: Subscription | None = None
        if ctx.shared:
            self.sub = Subscription(ctx.instrument, relay, ctx.tag)
        else:
            self.feed = FeedConnection(
                ctx.ws_url,
                ctx.rest_url,
                relay,
                ctx.scheme.ping_interval,
                ctx.scheme.stale_after,
                tag=ctx.tag,
                keepalive=getattr(ctx.scheme, "keepalive", None),
                limiter=limiter_for(ctx.scheme.name, api=ctx.scheme.api),
            )
        self._running: concurrent.futures.Future[None] | None = None

    def on_start(self) -> None:
        self.ctx.board.set(self.ctx.market_id, Status.CONNECTING)
        if self.ctx.journal is not None:
            # Which actors of the tree are new tells a replay what this start restarted.
            refs = {role: self.ctx.registry.lookup(self.ctx.market_id, role) for role in JOURNALED_ROLES}
            self.ctx.journal.begin({role: ref.actor_urn for role, ref in refs.items() if ref is not None})
        if self.sub is not None:
            ctx = self.ctx
            self.io.call(connection_pool.join, ctx.scheme, ctx.ws_url, ctx.rest_url, self.sub, ctx.shared_cap)
        elif self.feed is not None:
            self.io.call(connection_pool.opened_own, self.ctx.scheme, self.feed, self.ctx.tag)
            self._running = self.io.submit(self.feed.run())

    def on_stop(self) -> None:
        self._close()

    def on_failure(self, *exc_info: Any) -> None:
        self._close()  # pykka skips on_stop after a failure; the socket must close all the same

    def _close(self) -> None:
        # Close the socket before the actor is gone: a stopped feed holds no connection.
        ctx = self.ctx
        try:
            # A wait on the IO loop: the scheduler pool keeps its capacity meanwhile.
            with scheduler.blocking():
                if self.sub is not None:
                    leave = connection_pool.leave(ctx.scheme, ctx.ws_url, ctx.rest_url, self.sub)
                    self.io.submit(leave).result(timeout=5)
                elif self.feed is not None:
                    self.io.call(connection_pool.closed_own, self.feed)
                    self.io.submit(self.feed.stop()).result(timeout=5)
        except (concurrent.futures.TimeoutError, RuntimeError):
            self.ctx.log.warning("feed_stop_timeout")
        if self.ctx.journal is not None:
            self.ctx.journal.end()  # after the feed's last frames

    def resubscribe(self, reason: str) -> None:
        """Resynchronise this market alone: on a shared connection, unsubscribe
        and subscribe it again (a new generation for its mediator, nothing for
        the other markets); on a connection of its own, reconnect it."""
        if self.sub is not None:
            self.io.call(connection_pool.resubscribe, self.sub, reason)
        elif self.feed is not None:
            self.io.submit(self.feed.reconnect(reason))

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        sub = self.sub
        if sub is not None and kind is SendFrames:
            self.io.call(connection_pool.send, sub, message.generation, message.frames)
        elif sub is not None and kind is DoFetch:
            self.io.call(connection_pool.fetch, sub, message.symbol, message.path)
        elif kind is DoResubscribe or (kind is DoReconnect and sub is not None):
            # On a shared connection a market's Reconnect renews its subscription only.
            self.resubscribe(message.reason)
        elif kind is SendFrames and self.feed is not None:
            self.io.submit(self.feed.send(message.generation, message.frames))
        elif kind is DoFetch and self.feed is not None:
            self.io.submit(self.feed.fetch(message.symbol, message.path))
        elif kind is DoReconnect and self.feed is not None:
            self.io.submit(self.feed.reconnect(message.reason, message.backoff))
        elif kind is Synchronised:
            # The connection's backoff starts afresh, and a cut from now on reconnects at once.
            if sub is not None:
                self.io.call(connection_pool.synchronised, sub)
            elif self.feed is not None:
                self.io.call(self.feed.synchronised)
        elif kind is _Refused:
            # Fail like a crash: the supervisors' restart intensity decides how often to try
            # again, and past it the market is reported failed with this reason.
            raise Refused(message.reason)
        elif kind is Crash:
            raise RuntimeError(message.detail)
        return None
