"""The sending half of the cluster's event bus: this node's events to JetStream
in batches.

Every node reads every event of the cluster, so the bus needs no subject per
market: a node sends all its markets' events on one subject of its own
(`<prefix>.events.<node>`), as few messages as it can. Each turn takes what
the outbox holds 5 ms after its first event (up to SEND_BATCH events, the
markets mixed in the order they were published, so each market's own order
holds), serialises them with one orjson call per message into JSON arrays of
at most MESSAGE_BYTES, sends them as plain publishes and waits for the
server's acknowledgement of the last one only: one connection keeps them in
order, so that acknowledgement means the server took the batch. While it
waits the next batch fills, so batches grow with the load and the wait costs
nothing per event. A message the server refused shows on the other nodes as
a gap, which they repair with a snapshot.

Each message's id is `<node>:<boot id>:<batch number>`: a batch kept after a
failed send is resent whole with the same ids, and JetStream stores each
message once; the boot id (the outbox's origin) keeps a restarted node's
numbers apart from its last life's within the duplicate window.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import orjson

from level4.sinks.jetstream import JetStreamTransport
from level4.sinks.outbox import Outbox, Queued
from level4.sinks.sink_link import SinkLink
from level4.sinks.sink_status import SinkState
from level4.sinks.spec import SinkSpec

NODE_HEADER = "Level4-Node"
SEND_BATCH = 20_000  # events taken from the outbox per turn at most
LINGER = 0.005  # seconds a batch waits for more events after its first: bounds the messages a second
# One message at most (NATS allows 1 MiB by default). Smaller messages cost the receiving
# client less (measured: 32 to 64 KiB about 7 us of CPU an event on the receiving node,
# 512 KiB about 11.5), and still carry a few hundred events each.
MESSAGE_BYTES = 64 << 10
# Events are live data: the stream keeps a minute of them (and at most 256 MiB) for
# consumers that reconnect (one that lost more repairs its copies with snapshots);
# resends within 30 s are recognised by their ids.
STREAM_LIMITS: dict[str, Any] = {"max_age": 60.0, "max_bytes": 256 << 20, "duplicate_window": 30.0}
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class Message(NamedTuple):
    msg_id: str
    payload: bytes
    events: int


def node_subject(prefix: str, node: str) -> str:
    return f"{prefix}.events.{_UNSAFE.sub('_', node) or '_'}"


class BusTransport(JetStreamTransport):
    """The sinks' JetStream connection with the bus's stream, limits and node header."""

    stream_limits = STREAM_LIMITS

    def __init__(self, spec: SinkSpec, origin: str, node: str) -> None:
        super().__init__(spec, origin)
        self.headers = {NODE_HEADER: node}
        self.node_subject = node_subject(self.prefix, node)

    def stream_subjects(self) -> str:
        return f"{self.prefix}.events.>"

    def max_payload(self) -> int:
        # Room for the headers beside the payload.
        server = self.nc.max_payload if self.nc is not None else MESSAGE_BYTES
        return max(1024, min(MESSAGE_BYTES, server - 4096))

    async def send_messages(self, messages: Sequence[Message]) -> None:
        assert self.nc is not None and self.js is not None
        subject = self.node_subject
        *head, last = messages
        publish = self.nc.publish
        for message in head:
            await publish(subject, message.payload, headers={**self.headers, "Nats-Msg-Id": message.msg_id})
        headers = {**self.headers, "Nats-Msg-Id": last.msg_id}
        await self.js.publish(subject, last.payload, stream=self.stream, headers=headers)


class BatchSender(SinkLink[Message]):
    """The sinks' loop (sink_link.py) with the bus's batches: a turn's events as
    messages of at most the transport's payload, resent whole after a failure."""

    def __init__(
        self,
        transport: BusTransport,
        outbox: Outbox,
        state: SinkState,
        node: str,
        sending: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        super().__init__(transport, outbox, state, SEND_BATCH, linger=LINGER)
        self.transport = transport
        self.sending = sending  # told of each batch's events before they are serialised
        self.batch_prefix = f"{node}:{outbox.origin}:"
        self.batches = 0
        self.event_bytes = 256.0  # bytes an event took in the last message: how many fit in one

    def _prepare(self, items: list[Queued]) -> list[Message]:
        return self.messages(items)

    async def _send(self, batch: list[Message]) -> None:
        await self.transport.send_messages(batch)

    def _count(self, batch: list[Message]) -> int:
        return sum(m.events for m in batch)

    def messages(self, items: list[Queued]) -> list[Message]:
        """The events as messages of at most the transport's payload, in order."""
        if not items:
            return []
        events = [event for _serial, event in items]
        if self.sending is not None:
            self.sending(events)
        return self._cut(events, self.transport.max_payload())

    def _cut(self, events: list[dict[str, Any]], limit: int) -> list[Message]:
        # Parts of the count that fits by the size events had so far, each serialised once.
        size = max(1, int(limit * 0.8 / self.event_bytes))
        out: list[Message] = []
        for start in range(0, len(events), size):
            out.extend(self._message(events[start : start + size], limit))
        return out

    def _message(self, events: list[dict[str, Any]], limit: int) -> list[Message]:
        payload = self._encode(events)
        if payload is None:  # an event no serialiser can write: the others go without it
            events = [e for e in events if self._encode([e]) is not None]
            if not events:
                return []
            payload = self._encode(events)
            assert payload is not None
        self.event_bytes = max(16.0, len(payload) / len(events))
        if len(payload) > limit and len(events) > 1:  # larger events than so far: halves
            half = len(events) // 2
            return self._message(events[:half], limit) + self._message(events[half:], limit)
        self.batches += 1
        return [Message(f"{self.batch_prefix}{self.batches}", payload, len(events))]

    def _encode(self, events: list[dict[str, Any]]) -> bytes | None:
        try:
            # default=str keeps a stray Decimal or datetime from costing the event.
            return orjson.dumps(events, default=str, option=orjson.OPT_NON_STR_KEYS)
        except (TypeError, orjson.JSONEncodeError) as exc:
            if len(events) == 1:
                self._unencodable(events[0], exc)
            return None
