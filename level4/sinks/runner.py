"""The loop every sink runs: connect, drain the outbox in batches, and on any
failure report the sink down, back off and try again with the same batch.

A batch is kept until the server has acknowledged it, so nothing is lost or
reordered across reconnects; while the sink is down only the outbox grows,
up to its bound (then its oldest events are dropped and counted). The
transports make a resent batch harmless: JetStream deduplicates by message
id, Redis skips a batch its last transaction already wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import orjson
import structlog

from level4.net.backoff import Backoff
from level4.sinks.outbox import Outbox
from level4.sinks.sink_status import SinkState, SinkStatus
from level4.supervision.supervised import describe_reason

log = structlog.get_logger(__name__)

BATCH = 500
IDLE_CHECK = 5.0  # seconds without events before the connection is checked
CONNECT_TIMEOUT = 5.0
SEND_TIMEOUT = 10.0
CLOSE_TIMEOUT = 1.0


class Record(NamedTuple):
    serial: int
    channel: str
    market: str
    payload: bytes
    msg_id: str | None = None  # the transport's own (origin and serial) when None


# Builds a record of an event; raises TypeError or orjson.JSONEncodeError for one it cannot write.
RecordMaker = Callable[[int, dict[str, Any]], Record]


class Transport(Protocol):
    async def connect(self) -> None: ...

    async def send(self, batch: list[Record]) -> None:
        """Deliver the batch in order; return only once the server has it."""

    async def check(self) -> None:
        """Raise if the connection no longer works."""

    async def close(self) -> None: ...


def encode(event: dict[str, Any]) -> bytes:
    # Fields this module does not know are passed through; default=str keeps
    # a stray Decimal or datetime from costing the event.
    return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS)


def event_record(serial: int, event: dict[str, Any]) -> Record:
    return Record(serial, str(event.get("channel") or "_"), str(event.get("market") or "_"), encode(event))


class SinkLink:
    """Up, down (back off, then retry) and close, told the same way by every sender
    that drains an outbox to a server: the sinks' runner and the cluster bus's."""

    state: SinkState
    backoff: Backoff
    outbox: Outbox
    transport: Transport
    log: Any

    def left(self) -> int:
        raise NotImplementedError

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
            await asyncio.wait_for(self.transport.close(), CLOSE_TIMEOUT)
        except Exception as exc:  # a broken connection may not close cleanly; it is dropped either way
            self.log.debug("sink_close_failed", error=describe_reason(exc))


class SinkRunner(SinkLink):
    def __init__(
        self,
        transport: Transport,
        outbox: Outbox,
        state: SinkState,
        batch: int = BATCH,
        idle_check: float = IDLE_CHECK,
        backoff_base: float = 0.2,
        make_record: RecordMaker | None = None,
    ) -> None:
        self.make_record = make_record or event_record
        self.transport = transport
        self.outbox = outbox
        self.state = state
        self.batch = batch
        self.idle_check = idle_check
        self.backoff = Backoff(base=backoff_base, cap=state.spec.retry_max)
        self.pending: list[Record] = []
        self.log = log.bind(sink=state.spec.name, url=state.spec.shown_url)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set and the outbox is empty (the caller bounds the
        wait at shutdown by cancelling)."""
        connected = False
        self.state.set(SinkStatus.CONNECTING)
        try:
            while True:
                try:
                    if not connected:
                        await asyncio.wait_for(self.transport.connect(), CONNECT_TIMEOUT)
                        connected = True
                        self._up()
                    if not self.pending:
                        if stop.is_set():
                            self.pending = self._encode(self.outbox.take_nowait(self.batch))
                            if not self.pending:
                                return
                        else:
                            self.pending = self._encode(await self.outbox.take(self.batch, self.idle_check))
                    if self.pending:
                        await asyncio.wait_for(self.transport.send(self.pending), SEND_TIMEOUT)
                        self.state.add_delivered(len(self.pending))
                        self.pending = []
                    elif not stop.is_set():
                        await asyncio.wait_for(self.transport.check(), SEND_TIMEOUT)
                except Exception as exc:  # every failure is the server's or the link's: retry
                    connected = False
                    await self._close()
                    await self._down(exc)
        finally:
            await self._close()
            self.state.set(SinkStatus.STOPPED)

    def left(self) -> int:
        """Events not delivered: the retained batch and the outbox."""
        return len(self.pending) + len(self.outbox)

    def _encode(self, items: list[Any]) -> list[Record]:
        records = []
        for serial, event in items:
            try:
                record = self.make_record(serial, event)
            except (TypeError, orjson.JSONEncodeError) as exc:
                self.state.unencodable += 1
                self.log.error("sink_event_unencodable", market=event.get("market"), error=describe_reason(exc))
                continue
            records.append(record)
        return records
