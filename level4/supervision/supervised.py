"""SupervisedActor: a pykka actor that tells its supervisor when it goes down.

pykka stops an actor after an unhandled exception in a message handler (or in
on_start/on_stop) and tells nobody. A SupervisedActor hooks the end of its
run (through `pykka_adapter`), so whatever way it ends - failure,
`ref.stop()` from anywhere, or the actor stopping itself - the parent
supervisor gets one `ChildDown` message, sent after every pykka hook
(on_stop/on_failure) has run. A stop the supervisor asked for
(`stop_quietly`) is not reported.

Subclasses use on_start/on_stop/on_failure/on_receive exactly as with a plain
`pykka.ThreadingActor` and need not call `super()` in them: supervision hooks
into the actor's run, not into those methods. The one duty of a subclass is to
forward the `parent` and `child_name` keyword arguments to
`SupervisedActor.__init__` (`ChildSpec.for_actor` passes them).

A SupervisedActor runs on the scheduler pool unless its class chooses
`dispatcher = "thread"` (see `pykka_adapter.RuntimeActor`).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

import pykka
import structlog

from level4.supervision import scheduler
from level4.supervision.pykka_adapter import RuntimeActor

__all__ = [
    "ActorLifecycle",
    "ChildDown",
    "SupervisedActor",
    "describe_reason",
    "lifecycle_of",
    "stop_quietly",
    "stop_quietly_all",
]

log = structlog.get_logger(__name__)

# Stops in progress at once in `stop_quietly_all`. A supervisor stopping holds a pool
# worker while it waits for its own children, whose stops need workers too: with
# many at once the pool (scheduler.MAX_THREADS) would have none left for them.
STOPS_AT_ONCE = 8


@dataclass(frozen=True)
class ChildDown:
    """A supervised actor's run has ended without its supervisor asking.

    `reason` is the exception that brought it down, or None for a normal stop.
    `urn` tells the supervisor which incarnation died, so a late report about a
    child that has since been replaced can be recognised and ignored.
    """

    name: str
    urn: str
    reason: BaseException | None


@dataclass(eq=False)
class ActorLifecycle:
    """Shared between a supervised actor's run and its supervisor.

    Lives outside the actor object because a supervisor holds only an ActorRef
    (which keeps the actor weakly) and must still be able to mark a stop as
    requested and wait for the run's end after the actor itself is gone.
    """

    urn: str
    name: str
    parent_urn: str | None
    stop_requested: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    """Set once the actor's start step (on_start) is over, or its run has ended."""
    exited: threading.Event = field(default_factory=threading.Event)
    """Set as the last act of the actor's run, on the pool or on its own thread."""

    def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until the actor's start step is over; True if it is."""
        if self.started.is_set():
            return True
        with scheduler.blocking():  # a supervisor on the pool starting its children in order
            return self.started.wait(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the actor's run has ended; True if it has."""
        if self.exited.is_set():
            return True
        with scheduler.blocking():  # a supervisor on the pool waiting for a child
            return self.exited.wait(timeout)


# By actor URN, for actors whose run has not ended. Only single dict
# operations touch it (atomic in CPython), so a finalizer may too without a lock.
_lifecycles: dict[str, ActorLifecycle] = {}


def lifecycle_of(ref: pykka.ActorRef[Any]) -> ActorLifecycle | None:
    """The lifecycle of a supervised actor whose run has not ended yet."""
    return _lifecycles.get(ref.actor_urn)


def describe_reason(reason: BaseException | None) -> str | None:
    """A reason fit for a log line or a status field: type and message."""
    if reason is None:
        return None
    text = str(reason)
    return f"{type(reason).__name__}: {text}" if text else type(reason).__name__


def stop_quietly(
    ref: pykka.ActorRef[Any],
    timeout: float | None = None,
    lifecycle: ActorLifecycle | None = None,
) -> bool:
    """Stop an actor without it reporting ChildDown, and wait for its run to end.

    Returns True when the actor's run has ended within `timeout` (also when
    it had ended already), False if it is still running.
    """
    lifecycle = lifecycle or lifecycle_of(ref)
    if lifecycle is not None:
        lifecycle.stop_requested.set()
    # One deadline for the stop and the join, so `timeout` bounds the whole wait.
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        ref.stop(block=True, timeout=timeout)
    except pykka.Timeout:
        return False
    if lifecycle is None:
        return True  # not a SupervisedActor: pykka's stop reply is all there is
    remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
    return lifecycle.join(remaining)


def stop_quietly_all(
    actors: list[tuple[pykka.ActorRef[Any], float | None, ActorLifecycle | None]],
    at_once: int = STOPS_AT_ONCE,
) -> list[bool]:
    """`stop_quietly` for several actors (ref, timeout, lifecycle), up to `at_once`
    stopping side by side: a stop is asked as soon as an earlier one is over, so
    the stops overlap on the pool instead of running one after another. One bool
    per actor, as `stop_quietly`; each actor's timeout runs from its own ask."""
    results: list[bool] = []
    asked: deque[tuple[pykka.Future[bool], float | None, ActorLifecycle | None]] = deque()

    def ask(ref: pykka.ActorRef[Any], timeout: float | None, lifecycle: ActorLifecycle | None) -> None:
        lifecycle = lifecycle or lifecycle_of(ref)
        if lifecycle is not None:
            lifecycle.stop_requested.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        asked.append((cast("pykka.Future[bool]", ref.stop(block=False)), deadline, lifecycle))

    def settle() -> None:
        future, deadline, lifecycle = asked.popleft()
        try:
            future.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
        except pykka.Timeout:
            results.append(False)
            return
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        results.append(lifecycle is None or lifecycle.join(remaining))

    for actor in actors:
        if len(asked) >= at_once:
            settle()
        ask(*actor)
    while asked:
        settle()
    return results


class SupervisedActor(RuntimeActor):
    """Base of every actor in a supervision tree.

    `parent` is the supervisor's ActorRef (None for a tree's root) and
    `child_name` the name the supervisor knows this actor by.
    """

    def __init__(
        self,
        *args: Any,
        parent: pykka.ActorRef[Any] | None = None,
        child_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.parent = parent
        self.child_name = child_name if child_name is not None else type(self).__name__
        self._exit_reason: BaseException | None = None
        self._lifecycle = ActorLifecycle(
            urn=self.actor_urn,
            name=self.child_name,
            parent_urn=parent.actor_urn if parent is not None else None,
        )
        _lifecycles[self.actor_urn] = self._lifecycle
        # An actor whose subclass __init__ raises never runs _run_ended; forget it when collected.
        weakref.finalize(self, _lifecycles.pop, self.actor_urn, None)

    def _failure_seen(self, exception_type: type[BaseException] | None, exception_value: BaseException | None) -> None:
        # The first failure is the reason the actor went down.
        if self._exit_reason is None:
            if exception_value is None and exception_type is not None:
                exception_value = exception_type()
            self._exit_reason = exception_value

    def _after_start(self) -> None:
        self._lifecycle.started.set()

    def _go_down(self, reason: BaseException) -> None:
        """Stop this actor now, reporting `reason` to the parent.

        For failures this class has already logged: skips pykka's error log but
        otherwise ends the actor as pykka does after a failure.
        """
        if self._exit_reason is None:
            self._exit_reason = reason
        self._stop_after_failure(reason)

    def _on_exit(self) -> None:
        """Runs in the actor's run after pykka's loop ends, before ChildDown."""

    def _run_ended(self) -> None:
        lifecycle = self._lifecycle
        try:
            try:
                self._on_exit()
            except Exception:
                log.exception("actor_exit_hook_failed", child=self.child_name)
            if self.parent is not None and not lifecycle.stop_requested.is_set():
                try:
                    self.parent.tell(ChildDown(self.child_name, self.actor_urn, self._exit_reason))
                except pykka.ActorDeadError:
                    # The supervisor is gone; it stops its children itself.
                    log.debug("child_down_unheard", child=self.child_name)
        finally:
            _lifecycles.pop(self.actor_urn, None)
            lifecycle.started.set()
            lifecycle.exited.set()
