"""What every sink sends: its events as records, in batches, through the loop of
`sink_link.py` (connect, send, and on any failure back off and resend the same
batch). The transports make a resent batch harmless: JetStream deduplicates by
message id, Redis skips a batch its last transaction already wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import orjson

from level4.sinks.outbox import Outbox, Queued
from level4.sinks.sink_link import IDLE_CHECK, Connection, SinkLink
from level4.sinks.sink_status import SinkState

BATCH = 500


class Record(NamedTuple):
    serial: int
    channel: str
    market: str
    payload: bytes
    msg_id: str | None = None  # the transport's own (origin and serial) when None


# Builds a record of an event; raises TypeError or orjson.JSONEncodeError for one it cannot write.
RecordMaker = Callable[[int, dict[str, Any]], Record]


class Transport(Connection, Protocol):
    async def send(self, batch: list[Record]) -> None:
        """Deliver the batch in order; return only once the server has it."""


def encode(event: dict[str, Any]) -> bytes:
    # Fields this module does not know are passed through; default=str keeps
    # a stray Decimal or datetime from costing the event.
    return orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS)


def event_record(serial: int, event: dict[str, Any]) -> Record:
    return Record(serial, str(event.get("channel") or "_"), str(event.get("market") or "_"), encode(event))


class SinkRunner(SinkLink[Record]):
    """A sink's sender: each event one record, sent as a batch of records."""

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
        super().__init__(transport, outbox, state, batch, idle_check, backoff_base)
        self.transport = transport
        self.make_record = make_record or event_record

    async def _send(self, batch: list[Record]) -> None:
        await self.transport.send(batch)

    def _prepare(self, items: list[Queued]) -> list[Record]:
        records = []
        for serial, event in items:
            try:
                record = self.make_record(serial, event)
            except (TypeError, orjson.JSONEncodeError) as exc:
                self._unencodable(event, exc)
                continue
            records.append(record)
        return records
