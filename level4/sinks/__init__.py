"""Sinks: every published event, in order, to the message systems consumers
run (NATS JetStream, Redis Streams), chosen by URL (`LEVEL4_SINKS`, `--sink`).

The service owns one `Sinks`: each configured sink's outbox (subscribed to
the event hub while the service runs, so it outlives a restart of the sink's
actor), its state for /health, and the child spec of its actor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from level4.market.hub import Consumer, EventHub
from level4.sinks.actor import SinkActor
from level4.sinks.jetstream import JetStreamTransport
from level4.sinks.outbox import Outbox
from level4.sinks.redis_streams import RedisStreamsTransport
from level4.sinks.runner import Transport
from level4.sinks.sink_status import SinkState, SinkStatus
from level4.sinks.spec import SinkConfigError, SinkSpec, parse_sinks
from level4.supervision.supervisor import ChildSpec

__all__ = ["SinkConfigError", "SinkSpec", "SinkState", "SinkStatus", "Sinks", "parse_sinks"]

STOP_MARGIN = 5.0  # seconds beyond a sink's flush deadline before its supervisor stops waiting


def make_transport(spec: SinkSpec, origin: str) -> Transport:
    if spec.kind == "nats":
        return JetStreamTransport(spec, origin)
    return RedisStreamsTransport(spec, origin)


def _consumer(put: Consumer, accept: Callable[[dict[str, Any]], bool] | None) -> Consumer:
    if accept is None:
        return put

    def put_accepted(event: dict[str, Any]) -> None:
        if accept(event):
            put(event)

    return put_accepted


class Sinks:
    def __init__(self, urls: Iterable[str]) -> None:
        self.states = [SinkState(spec, Outbox(spec.queue)) for spec in parse_sinks(urls)]
        self._unsubscribe: list[Callable[[], None]] = []

    def attach(self, hub: EventHub, accept: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Start queueing every event the hub publishes (before any market starts); with
        `accept`, only those it accepts (in a cluster: events of the markets this node owns,
        so each event leaves the cluster once)."""
        self.detach()
        self._unsubscribe = [hub.subscribe(_consumer(state.outbox.put, accept)) for state in self.states]

    def detach(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def child_specs(self) -> list[ChildSpec]:
        return [
            ChildSpec.for_actor(
                f"sink:{state.spec.name}", SinkActor, state, make_transport, shutdown=state.spec.flush + STOP_MARGIN
            )
            for state in self.states
        ]

    def status(self) -> list[dict[str, Any]]:
        return [state.as_dict() for state in self.states]
