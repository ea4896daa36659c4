"""The sink actor under a real supervisor: a dead loop is restarted without
losing the queue, and stopping a sink whose server is down takes no longer
than its flush deadline."""

from __future__ import annotations

import time
from typing import Any

import pytest

from level4.market.hub import EventHub
from level4.sinks import Sinks
from level4.sinks.actor import SinkActor
from level4.sinks.outbox import Outbox
from level4.sinks.runner import Record
from level4.sinks.sink_status import SinkState, SinkStatus
from level4.sinks.spec import SinkSpec, parse_sink
from level4.supervision import ChildSpec, Strategy, Supervisor
from level4.supervision.supervised import stop_quietly
from tests.sinks.servers import free_port
from tests.support import wait_for


class LoopBug(BaseException):
    """Escapes the runner's handling of server failures, as a bug in it would."""


class Store:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.transports = 0


def factory(store: Store) -> Any:
    class Transport:
        def __init__(self, spec: SinkSpec, origin: str) -> None:
            store.transports += 1
            self.first = store.transports == 1

        async def connect(self) -> None:
            if self.first:
                raise LoopBug

        async def send(self, batch: list[Record]) -> None:
            store.records.extend(batch)

        async def check(self) -> None:
            pass

        async def close(self) -> None:
            pass

    return Transport


def test_a_dead_sink_loop_is_restarted_by_its_supervisor_and_keeps_the_queue() -> None:
    spec = parse_sink("redis://x?name=s")
    state = SinkState(spec, Outbox(100))
    for i in range(1, 11):
        state.outbox.put({"channel": "top", "market": "M", "sequence": i})
    store = Store()
    sup = Supervisor.start(
        [ChildSpec.for_actor("sink:s", SinkActor, state, factory(store))],
        strategy=Strategy.ONE_FOR_ONE,
        max_restarts=3,
        max_seconds=10.0,
    )
    try:
        wait_for(lambda: len(store.records) == 10, what="delivered by the second incarnation")
        assert store.transports == 2 and state.status is SinkStatus.UP
        assert [r.serial for r in store.records] == list(range(1, 11))
    finally:
        stop_quietly(sup, 10)
    assert state.status is SinkStatus.STOPPED


@pytest.mark.slow
def test_stopping_a_sink_whose_server_is_down_waits_only_the_flush_deadline() -> None:
    hub = EventHub()
    sinks = Sinks([f"redis://127.0.0.1:{free_port()}/0?flush=0.5&retry_max=0.2"])  # nothing listens there
    sinks.attach(hub)
    sup = Supervisor.start(sinks.child_specs(), strategy=Strategy.ONE_FOR_ONE)
    try:
        for i in range(1, 101):
            hub.publish({"channel": "trade", "market": "M", "sequence": i})
        wait_for(lambda: sinks.status()[0]["status"] == "down", what="down")
    finally:
        started = time.monotonic()
        assert stop_quietly(sup, 10)
        took = time.monotonic() - started
        sinks.detach()
    assert 0.4 < took < 3.0
    status = sinks.status()[0]
    assert status["status"] == "stopped" and status["queued"] == 100 and status["delivered"] == 0
    hub.publish({"channel": "trade", "market": "M", "sequence": 101})
    assert sinks.status()[0]["queued"] == 100  # detached: the hub no longer feeds it
