"""The loop every sender that drains an outbox to a server runs (the sinks' runner
and the cluster bus's sender): connect, take a batch, send it, and on any
failure report the link down, back off and try again with the same batch.

A batch is kept until the server has acknowledged it, so nothing is lost or
reordered across reconnects; while the link is down only the outbox grows, up
to its bound (then its oldest events are dropped and counted). Batching,
backoff and closing are decided here; a sender says only how a batch is made
of the outbox's events, how it is sent and how many events it holds.
"""

from __future__ import annotations

import asyncio
from typing import Any, Generic, Protocol, TypeVar

import structlog

from level4.net.backoff import Backoff
from level4.sinks.outbox import Outbox, Queued
from level4.sinks.sink_status import SinkState, SinkStatus
from level4.supervision.supervised import describe_reason

log = structlog.get_logger(__name__)

IDLE_CHECK = 5.0  # seconds without events before the connection is checked
CONNECT_TIMEOUT = 5.0
SEND_TIMEOUT = 10.0
CLOSE_TIMEOUT = 1.0

Item = TypeVar("Item")  # what a batch is made of: a record, a message


class Connection(Protocol):
    async def connect(self) -> None: ...

    async def check(self) -> None:
        """Raise if the connection no longer works."""

    async def close(self) -> None: ...


class SinkLink(Generic[Item]):
    """Up, down (back off, then retry), batching and close, the same for every sender;
    a subclass supplies `_prepare`, `_send` and `_count`."""

    connection: Connection

    def __init__(
        self,
        connection: Connection,
        outbox: Outbox,
        state: SinkState,
        batch: int,
        idle_check: float = IDLE_CHECK,
        backoff_base: float = 0.2,
        linger: float = 0.0,
    ) -> None:
        self.connection = connection
        self.outbox = outbox
        self.state = state
        self.batch = batch  # events taken from the outbox per turn at most
        self.idle_check = idle_check
        # Seconds a batch waits for more events after its first: a quiet sender pays one
        # send per window, not per event; a busy one fills a batch meanwhile.
        self.linger = linger
        self.backoff = Backoff(base=backoff_base, cap=state.spec.retry_max)
        self.pending: list[Item] = []
        self.log = log.bind(sink=state.spec.name, url=state.spec.shown_url)

    # --- what a sender supplies -----------------------------------------------------

    def _prepare(self, items: list[Queued]) -> list[Item]:
        """The outbox's events as the batch to send (an event that cannot be written is
        counted and logged, and left out)."""
        raise NotImplementedError

    async def _send(self, batch: list[Item]) -> None:
        """Deliver the batch in order; return only once the server has it."""
        raise NotImplementedError

    def _count(self, batch: list[Item]) -> int:
        """The events the batch carries."""
        return len(batch)

    # --- the loop -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set and the outbox is empty (the caller bounds the
        wait at shutdown by cancelling)."""
        connected = False
        self.state.set(SinkStatus.CONNECTING)
        try:
            while True:
                try:
                    if not connected:
                        await asyncio.wait_for(self.connection.connect(), CONNECT_TIMEOUT)
                        connected = True
                        self._up()
                    if not self.pending:
                        if stop.is_set():
                            self.pending = self._prepare(self.outbox.take_nowait(self.batch))
                            if not self.pending:
                                return
                        else:
                            self.pending = self._prepare(await self._take())
                    if self.pending:
                        await asyncio.wait_for(self._send(self.pending), SEND_TIMEOUT)
                        self.state.add_delivered(self._count(self.pending))
                        self.pending = []
                    elif not stop.is_set():
                        await asyncio.wait_for(self.connection.check(), SEND_TIMEOUT)
                except Exception as exc:  # every failure is the server's or the link's: retry
                    connected = False
                    await self._close()
                    await self._down(exc)
        finally:
            await self._close()
            self.state.set(SinkStatus.STOPPED)

    async def _take(self) -> list[Queued]:
        """The next batch: what came within `linger` of its first event."""
        items = await self.outbox.take(self.batch, self.idle_check)
        if self.linger > 0 and items and len(items) < self.batch:
            await asyncio.sleep(self.linger)
            items.extend(self.outbox.take_nowait(self.batch - len(items)))
        return items

    def left(self) -> int:
        """Events not delivered: the retained batch and the outbox."""
        return self._count(self.pending) + len(self.outbox)

    def _up(self) -> None:
        was = self.state.status
        self.state.set(SinkStatus.UP)
        self.backoff.reset()
        self.log.info("sink_up", recovered=was is SinkStatus.DOWN, queued=self.left(), dropped=self.outbox.dropped)

    async def _down(self, exc: BaseException) -> None:
        reason = "timed out" if isinstance(exc, TimeoutError) else describe_reason(exc) or "failed"
        delay = self.backoff.next_delay()
        first = self.state.status is not SinkStatus.DOWN
        self.state.set(SinkStatus.DOWN, reason, retry_in=delay)
        fields = {"reason": reason, "retry_in": round(delay, 3), "queued": self.left(), "dropped": self.outbox.dropped}
        if first:
            self.log.warning("sink_down", **fields)
        else:
            self.log.info("sink_retry_failed", attempts=self.state.attempts, **fields)
        await asyncio.sleep(delay)

    async def _close(self) -> None:
        try:
            await asyncio.wait_for(self.connection.close(), CLOSE_TIMEOUT)
        except Exception as exc:  # a broken connection may not close cleanly; it is dropped either way
            self.log.debug("sink_close_failed", error=describe_reason(exc))

    def _unencodable(self, event: dict[str, Any], exc: BaseException) -> None:
        """Counts and logs an event no serialiser can write (the others go without it)."""
        self.state.unencodable += 1
        self.log.error("sink_event_unencodable", market=event.get("market"), error=describe_reason(exc))
