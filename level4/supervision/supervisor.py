"""Supervisor: restarts supervised actors by strategy, within a restart intensity.

Semantics follow Erlang/OTP supervisors where they fit pykka's actors:

- children start in order (each one's on_start over before the next starts)
  before the supervisor handles any message, and stop
  in reverse order (each stopped and the end of its run awaited) when it stops or gives
  up; "order" is the order children were added in, which restarts keep;
- a child that goes down is restarted according to its `Restart` type and the
  supervisor's `Strategy`;
- more than `max_restarts` restarts within a sliding `max_seconds` window make
  the supervisor give up: it stops its children and goes down itself with a
  `SupervisorGaveUp` reason, which its own parent sees as a ChildDown; a root
  supervisor (no parent) calls `on_give_up(reason)` instead.

All bookkeeping happens in the supervisor's own turns (its message handlers,
on-start phase and proxy calls; one at a time, on the pool), so none of it
needs a lock.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

import pykka
import structlog

from level4.supervision import scheduler
from level4.supervision.supervised import (
    ActorLifecycle,
    ChildDown,
    SupervisedActor,
    describe_reason,
    lifecycle_of,
    stop_quietly,
    stop_quietly_all,
)

__all__ = [
    "ChildEvent",
    "ChildEventCallback",
    "ChildSpec",
    "GiveUpCallback",
    "Restart",
    "Strategy",
    "Supervisor",
    "SupervisorGaveUp",
]

log = structlog.get_logger(__name__)

StartFn = Callable[[pykka.ActorRef[Any]], pykka.ActorRef[Any]]


class Strategy(Enum):
    ONE_FOR_ONE = "one_for_one"
    """Restart only the child that went down."""
    ONE_FOR_ALL = "one_for_all"
    """Stop every other child (reverse order), then restart all in order."""
    REST_FOR_ONE = "rest_for_one"
    """Stop the children added after it (reverse order), then restart it and them in order."""


class Restart(Enum):
    PERMANENT = "permanent"
    """Always restarted."""
    TRANSIENT = "transient"
    """Restarted after a failure, not after a normal stop."""
    TEMPORARY = "temporary"
    """Never restarted; forgotten once it goes down."""


class ChildEvent(StrEnum):
    STARTED = "started"
    """Started at the supervisor's start or by start_child; reason is None."""
    EXITED = "exited"
    """Went down without the supervisor asking; reason None means a normal stop."""
    RESTARTED = "restarted"
    """Started again; reason is what brought it (or a sibling) down."""
    START_FAILED = "start_failed"
    """Its start function raised during a restart; reason is the exception."""
    TERMINATED = "terminated"
    """Stopped by the supervisor (terminate_child, a group restart, shutdown)."""
    GAVE_UP = "gave_up"
    """Restart intensity exceeded on this child's account; reason is the SupervisorGaveUp."""


ChildEventCallback = Callable[[str, ChildEvent, BaseException | None], None]
GiveUpCallback = Callable[[BaseException], None]


@dataclass(frozen=True)
class ChildSpec:
    """How to (re)start one child.

    `start(supervisor_ref)` must start a SupervisedActor with
    `parent=supervisor_ref, child_name=name` and return its ref; `for_actor`
    builds such a function. `shutdown` bounds, in seconds, how long the
    supervisor waits for the child to stop and its run to end, and at start
    for its on_start to be over.
    """

    name: str
    start: StartFn
    restart: Restart = Restart.PERMANENT
    shutdown: float = 5.0

    @classmethod
    def for_actor(
        cls,
        name: str,
        actor_class: type[SupervisedActor],
        *args: Any,
        restart: Restart = Restart.PERMANENT,
        shutdown: float = 5.0,
        **kwargs: Any,
    ) -> ChildSpec:
        """A spec starting `actor_class(*args, **kwargs)` under the supervisor."""

        def start(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
            return actor_class.start(*args, parent=parent, child_name=name, **kwargs)

        return cls(name, start, restart, shutdown)


class SupervisorGaveUp(Exception):
    """The reason a supervisor goes down when it stops restarting its children."""

    def __init__(self, message: str, supervisor: str, child: str, cause: BaseException | None) -> None:
        super().__init__(message)
        self.supervisor = supervisor
        self.child = child
        self.cause = cause
        # Chained so a traceback of the give-up shows the child's failure too.
        self.__cause__ = cause


@dataclass(frozen=True)
class _RestartDue:
    """Sent by the restart-delay timer; a generation that is not current is stale."""

    generation: int


class _Child:
    __slots__ = ("lifecycle", "ref", "restarts", "spec")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.ref: pykka.ActorRef[Any] | None = None
        self.lifecycle: ActorLifecycle | None = None
        self.restarts = 0


class Supervisor(SupervisedActor):
    """A SupervisedActor whose job is to keep its children running.

    Observe it by overriding `on_child_event` / `on_give_up` in a subclass or by
    passing callbacks of the same names; both run in the supervisor's turns and
    an exception from them is logged, never fatal. `restart_delay` (seconds,
    default 0) spaces restarts out; while one is pending the child is absent
    from `which_children`.

    Children start before `on_start` runs and stop before `on_stop` runs, so a
    subclass overriding either needs no `super()` call. Children should talk to
    their supervisor with `tell`, not a blocking `ask`: the supervisor blocks
    while it starts a child (until its on_start is over) and while it stops
    one, each up to the child's `shutdown` seconds.
    """

    def __init__(
        self,
        children: Iterable[ChildSpec] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        restart_delay: float = 0.0,
        on_child_event: ChildEventCallback | None = None,
        on_give_up: GiveUpCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
        parent: pykka.ActorRef[Any] | None = None,
        child_name: str | None = None,
    ) -> None:
        if max_restarts < 0 or max_seconds <= 0 or restart_delay < 0:
            raise ValueError("need max_restarts >= 0, max_seconds > 0 and restart_delay >= 0")
        # Insertion order is start order; a restarted child keeps its place.
        specs: dict[str, _Child] = {}
        for spec in children:
            if spec.name in specs:
                raise ValueError(f"duplicate child name {spec.name!r}")
            specs[spec.name] = _Child(spec)
        super().__init__(parent=parent, child_name=child_name)
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.restart_delay = restart_delay
        self._child_event_callback = on_child_event
        self._give_up_callback = on_give_up
        self._clock = clock
        self._children = specs
        self._by_urn: dict[str, str] = {}
        # Children awaiting restart, with the reason that brought them down.
        self._pending: dict[str, BaseException | None] = {}
        self._restart_times: deque[float] = deque()
        self._timer: scheduler.TimerHandle | None = None
        self._timer_generation = 0

    # -- public API, for use through a proxy or from a subclass ---------------

    def start_child(self, spec: ChildSpec) -> pykka.ActorRef[Any]:
        """Start and supervise a new child after the existing ones."""
        if spec.name in self._children:
            raise ValueError(f"child {spec.name!r} already exists")
        child = self._children[spec.name] = _Child(spec)
        try:
            ref = self._launch(child)
        except BaseException:
            del self._children[spec.name]
            raise
        log.info("child_started", supervisor=self.child_name, child=spec.name)
        self._emit(spec.name, ChildEvent.STARTED, None)
        return ref

    def terminate_child(self, name: str) -> bool:
        """Stop a child and forget it; False if there is no such child."""
        if name not in self._children:
            return False
        self._pending.pop(name, None)
        self._terminate(name)
        del self._children[name]
        return True

    def terminate_children(self, names: list[str]) -> int:
        """Stop these children side by side and forget them; how many there were.

        Every stop is asked before any is waited for, so this is for children
        that do not depend on one another (a dynamic supervisor's markets):
        thousands stop in the time of their slowest few, not of their sum."""
        present = [name for name in dict.fromkeys(names) if name in self._children]
        stopping: list[tuple[str, pykka.ActorRef[Any], float | None, ActorLifecycle | None]] = []
        for name in present:
            self._pending.pop(name, None)
            child = self._children[name]
            if child.ref is not None:
                self._by_urn.pop(child.ref.actor_urn, None)  # as in _terminate: a late ChildDown is stale
                stopping.append((name, child.ref, child.spec.shutdown, child.lifecycle))
                child.ref = None
                child.lifecycle = None
        stopped = stop_quietly_all([(ref, timeout, lifecycle) for _, ref, timeout, lifecycle in stopping])
        for (name, _ref, timeout, _lifecycle), ok in zip(stopping, stopped, strict=True):
            if not ok:
                log.error("child_shutdown_timeout", supervisor=self.child_name, child=name, timeout=timeout)
            log.info("child_terminated", supervisor=self.child_name, child=name)
            self._emit(name, ChildEvent.TERMINATED, None)
        for name in present:
            del self._children[name]
        return len(present)

    def child(self, name: str) -> pykka.ActorRef[Any] | None:
        """The running child of that name, or None (unknown, or awaiting restart)."""
        child = self._children.get(name)
        return child.ref if child is not None else None

    def which_children(self) -> list[tuple[str, pykka.ActorRef[Any]]]:
        """Running children in start order."""
        return [(name, c.ref) for name, c in self._children.items() if c.ref is not None]

    def restarts(self, name: str) -> int:
        """How many times that child has been restarted; KeyError if unknown."""
        return self._children[name].restarts

    def on_child_event(self, name: str, event: ChildEvent, reason: BaseException | None) -> None:
        """Hook: something happened to a child. Calls the constructor callback."""
        if self._child_event_callback is not None:
            self._child_event_callback(name, event, reason)

    def on_give_up(self, reason: BaseException) -> None:
        """Hook for a root supervisor giving up. Calls the constructor callback."""
        if self._give_up_callback is not None:
            self._give_up_callback(reason)

    # -- pykka integration ----------------------------------------------------

    def _before_start(self) -> None:
        # Children start before on_start, so a subclass needs no super() call
        # and its on_start already sees them running.
        for name, child in list(self._children.items()):
            try:
                self._launch(child)
            except Exception as exc:
                self._give_up(name, exc, f"{self.child_name}: could not start child {name!r}")
                return
            log.info("child_started", supervisor=self.child_name, child=name)
            self._emit(name, ChildEvent.STARTED, None)

    def _receive_message(self, message: Any) -> Any:
        # Intercepted here, not in on_receive, so subclasses may override
        # on_receive freely.
        if isinstance(message, ChildDown):
            self._child_down(message)
            return None
        if isinstance(message, _RestartDue):
            if message.generation == self._timer_generation and self._timer is not None:
                self._timer = None
                self._start_pending()
            return None
        return super()._receive_message(message)

    def _before_stop(self) -> None:
        # Children go first so that, when a caller's stop(block=True) returns,
        # the whole subtree has stopped and its runs have ended.
        self._shutdown()

    def _on_exit(self) -> None:
        # Covers ways down that skip _stop (a failure in the supervisor itself).
        self._shutdown()

    # -- internals --------------------------------------------------------------

    def _launch(self, child: _Child) -> pykka.ActorRef[Any]:
        spec = child.spec
        ref = spec.start(self.actor_ref)
        lifecycle = lifecycle_of(ref)
        if lifecycle is None and not issubclass(ref.actor_class, SupervisedActor):
            ref.stop()
            raise TypeError(f"child {spec.name!r} is a {ref.actor_class.__name__}, not a SupervisedActor")
        # (No lifecycle for a SupervisedActor means it has already ended; its
        # ChildDown is on the way.)
        if lifecycle is not None and (lifecycle.parent_urn != self.actor_urn or lifecycle.name != spec.name):
            stop_quietly(ref, spec.shutdown, lifecycle)
            raise ValueError(
                f"child {spec.name!r} must be started with parent=<supervisor ref>, child_name={spec.name!r}"
            )
        child.ref = ref
        child.lifecycle = lifecycle
        self._by_urn[ref.actor_urn] = spec.name
        # As OTP's start_link: the next child starts once this one's on_start is over,
        # so children start in order on the pool as they did on their own threads.
        # Bounded: a child whose on_start waits for this supervisor must not hang it.
        if lifecycle is not None and not lifecycle.wait_started(spec.shutdown):
            log.warning("child_start_slow", supervisor=self.child_name, child=spec.name, waited=spec.shutdown)
        return ref

    def _child_down(self, message: ChildDown) -> None:
        name = self._by_urn.pop(message.urn, None)
        if name is None:
            # Already replaced or terminated: the report is about an earlier incarnation.
            log.debug("stale_child_down_ignored", supervisor=self.child_name, child=message.name, urn=message.urn)
            return
        child = self._children[name]
        child.ref = None
        child.lifecycle = None
        reason = message.reason
        (log.warning if reason is not None else log.info)(
            "child_exited", supervisor=self.child_name, child=name, reason=describe_reason(reason)
        )
        self._emit(name, ChildEvent.EXITED, reason)

        restart = child.spec.restart
        if restart is Restart.TEMPORARY or (restart is Restart.TRANSIENT and reason is None):
            del self._children[name]
            return
        if not self._count_restart(name, reason):
            return

        names = list(self._children)
        if self.strategy is Strategy.ONE_FOR_ALL:
            group = names
        elif self.strategy is Strategy.REST_FOR_ONE:
            group = names[names.index(name) :]
        else:
            group = [name]
        for sibling in reversed(group):
            if sibling == name:
                continue
            self._terminate(sibling)
            if self._children[sibling].spec.restart is Restart.TEMPORARY:
                self._pending.pop(sibling, None)
                del self._children[sibling]
            else:
                self._pending.setdefault(sibling, reason)
        self._pending[name] = reason
        self._schedule_restarts()

    def _count_restart(self, name: str, reason: BaseException | None) -> bool:
        """Record one restart; False (after giving up) if that exceeds the intensity."""
        now = self._clock()
        window = self._restart_times
        while window and window[0] <= now - self.max_seconds:
            window.popleft()
        window.append(now)
        if len(window) <= self.max_restarts:
            return True
        self._give_up(
            name,
            reason,
            f"{self.child_name}: more than {self.max_restarts} restarts in {self.max_seconds:g}s; "
            f"last {name!r}: {describe_reason(reason) or 'stopped'}",
        )
        return False

    def _schedule_restarts(self) -> None:
        if not self._pending:
            return
        if self.restart_delay <= 0:
            self._start_pending()
        elif self._timer is None:
            self._timer_generation += 1
            # The process's one timer thread, not a thread per pending restart.
            self._timer = scheduler.call_later(self.restart_delay, self._restart_timer_fired, self._timer_generation)

    def _restart_timer_fired(self, generation: int) -> None:
        # Runs on the timer thread: only a message crosses into the actor.
        with contextlib.suppress(pykka.ActorDeadError):  # the supervisor went down meanwhile
            self.actor_ref.tell(_RestartDue(generation))

    def _start_pending(self) -> None:
        while self._pending:
            # Start order, so a child never starts before one it may depend on.
            name = next(n for n in self._children if n in self._pending)
            child = self._children[name]
            try:
                self._launch(child)
            except Exception as exc:
                log.warning("child_start_failed", supervisor=self.child_name, child=name, reason=describe_reason(exc))
                self._emit(name, ChildEvent.START_FAILED, exc)
                # A failed restart is still a restart: a child that cannot
                # start must not be retried forever.
                if not self._count_restart(name, exc):
                    return
                if self.restart_delay > 0:
                    self._schedule_restarts()
                    return
                continue
            reason = self._pending.pop(name)
            child.restarts += 1
            log.info(
                "child_restarted",
                supervisor=self.child_name,
                child=name,
                restarts=child.restarts,
                reason=describe_reason(reason),
            )
            self._emit(name, ChildEvent.RESTARTED, reason)

    def _terminate(self, name: str) -> None:
        child = self._children[name]
        ref, lifecycle = child.ref, child.lifecycle
        if ref is None:
            return
        # Forgotten before stopping: a ChildDown it sent while crashing meanwhile is then stale.
        self._by_urn.pop(ref.actor_urn, None)
        child.ref = None
        child.lifecycle = None
        if not stop_quietly(ref, child.spec.shutdown, lifecycle):
            log.error("child_shutdown_timeout", supervisor=self.child_name, child=name, timeout=child.spec.shutdown)
        log.info("child_terminated", supervisor=self.child_name, child=name)
        self._emit(name, ChildEvent.TERMINATED, None)

    def _cancel_timer(self) -> None:
        timer = self._timer
        self._timer = None
        self._timer_generation += 1  # a _RestartDue already queued is now stale
        if timer is not None:
            timer.cancel()

    def _shutdown(self) -> None:
        """Stop every child in reverse start order; idempotent."""
        self._cancel_timer()
        self._pending.clear()
        for name in reversed(list(self._children)):
            self._terminate(name)

    def _give_up(self, name: str, cause: BaseException | None, message: str) -> None:
        reason = SupervisorGaveUp(message, self.child_name, name, cause)
        log.error("supervisor_gave_up", supervisor=self.child_name, child=name, reason=describe_reason(cause))
        self._shutdown()
        self._emit(name, ChildEvent.GAVE_UP, reason)
        if self.parent is None:
            try:
                self.on_give_up(reason)
            except Exception:
                log.exception("give_up_hook_failed", supervisor=self.child_name)
        self._go_down(reason)

    def _emit(self, name: str, event: ChildEvent, reason: BaseException | None) -> None:
        try:
            self.on_child_event(name, event, reason)
        except Exception:
            log.exception("child_event_hook_failed", supervisor=self.child_name, child=name, child_event=str(event))
