"""The websocket actor: owns the market's connection (a coroutine on the
shared IO loop) and relays between it and the mediator."""

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
    Frames,
    PingDue,
    RestReply,
    SendFrames,
)
from level4.market.status_board import Status
from level4.net.ioloop import IOLoop
from level4.net.venue_connection import Batch, FeedCallbacks, FeedConnection, Refused
from translations.protocol import RestAnswer

JOURNALED_ROLES = ("exchange", "mediator", "orderbook")


class _Relay(FeedCallbacks):
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
        self.feed = FeedConnection(
            ctx.ws_url,
            ctx.rest_url,
            _Relay(ctx, self.actor_ref),
            ctx.scheme.ping_interval,
            ctx.scheme.stale_after,
            tag=ctx.tag,
            keepalive=getattr(ctx.scheme, "keepalive", None),
        )
        self._running: concurrent.futures.Future[None] | None = None

    def on_start(self) -> None:
        self.ctx.board.set(self.ctx.market_id, Status.CONNECTING)
        if self.ctx.journal is not None:
            # Which actors of the tree are new tells a replay what this start restarted.
            refs = {role: self.ctx.registry.lookup(self.ctx.market_id, role) for role in JOURNALED_ROLES}
            self.ctx.journal.begin({role: ref.actor_urn for role, ref in refs.items() if ref is not None})
        self._running = self.io.submit(self.feed.run())

    def on_stop(self) -> None:
        self._close()

    def on_failure(self, *exc_info: Any) -> None:
        self._close()  # pykka skips on_stop after a failure; the socket must close all the same

    def _close(self) -> None:
        # Close the socket before the actor is gone: a stopped feed holds no connection.
        try:
            self.io.submit(self.feed.stop()).result(timeout=5)
        except (concurrent.futures.TimeoutError, RuntimeError):
            self.ctx.log.warning("feed_stop_timeout")
        if self.ctx.journal is not None:
            self.ctx.journal.end()  # after the feed's last frames

    def on_receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is SendFrames:
            self.io.submit(self.feed.send(message.generation, message.frames))
        elif kind is DoFetch:
            self.io.submit(self.feed.fetch(message.symbol, message.path))
        elif kind is DoReconnect:
            self.io.submit(self.feed.reconnect(message.reason))
        elif kind is _Refused:
            # Fail like a crash: the supervisors' restart intensity decides how often to try
            # again, and past it the market is reported failed with this reason.
            raise Refused(message.reason)
        elif kind is Crash:
            raise RuntimeError(message.detail)
        return None
