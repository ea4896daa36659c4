"""The sink actor: a child of the root supervisor that runs one sink's loop.

Each sink has an asyncio loop on a thread of its own, so a slow server or a
large batch to encode delays neither the markets' sockets (the shared IO
loop) nor the other sinks. Stopping the actor gives the loop `flush` seconds
to deliver what is queued, then cancels it and logs what was left.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka
import structlog

from level4.sinks.runner import SinkRunner, Transport
from level4.sinks.sink_status import SinkState
from level4.sinks.spec import SinkSpec
from level4.supervision.supervised import SupervisedActor, describe_reason

log = structlog.get_logger(__name__)

TransportFactory = Callable[[SinkSpec, str], Transport]


@dataclass(frozen=True)
class RunnerDied:
    reason: BaseException


class SinkActor(SupervisedActor):
    # Its own thread: on_start waits up to 5 s for the loop and on_stop up to the
    # flush deadline, waits that must not hold a scheduler worker.
    dispatcher = "thread"

    def __init__(self, state: SinkState, make_transport: TransportFactory, **supervision: Any) -> None:
        super().__init__(**supervision)
        self.state = state
        # A fresh connection per incarnation; the outbox (and its serials) carries over.
        self.runner = SinkRunner(make_transport(state.spec, state.outbox.origin), state.outbox, state)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None
        self.thread: threading.Thread | None = None
        self._started = threading.Event()

    def on_start(self) -> None:
        name = f"level4-sink-{self.state.spec.name}"
        self.thread = threading.Thread(target=self._thread_main, name=name, daemon=True)
        self.thread.start()
        self._started.wait(5)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, RunnerDied):
            raise RuntimeError(f"sink loop died: {describe_reason(message.reason)}") from message.reason
        return None

    def status(self) -> dict[str, Any]:
        return self.state.as_dict()

    def on_stop(self) -> None:
        spec = self.state.spec
        loop, thread = self.loop, self.thread
        if loop is None or thread is None:
            return
        if self.stop_event is not None:
            with contextlib.suppress(RuntimeError):  # RuntimeError: the loop has ended already
                loop.call_soon_threadsafe(self.stop_event.set)
        self.state.outbox.wake()
        thread.join(spec.flush)
        if thread.is_alive():
            left = self.runner.left()
            if self.task is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self.task.cancel)
            thread.join(2.0)
            log.warning("sink_flush_incomplete", sink=spec.name, left=left, deadline=spec.flush)

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(loop))
        except asyncio.CancelledError:
            pass  # stopped at the flush deadline
        except BaseException as exc:  # a bug in the loop: let the supervisor restart the sink
            log.exception("sink_loop_died", sink=self.state.spec.name)
            with contextlib.suppress(pykka.ActorDeadError):
                self.actor_ref.tell(RunnerDied(exc))
        finally:
            loop.close()

    async def _main(self, loop: asyncio.AbstractEventLoop) -> None:
        self.stop_event = asyncio.Event()
        self.task = asyncio.current_task()
        self.loop = loop
        self._started.set()
        await self.runner.run(self.stop_event)
