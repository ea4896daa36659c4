"""Every use of pykka's private API in level4, in one module.

pykka stays the actor API (`Actor.start`, `ActorRef.tell/ask/stop`, proxies,
`on_start/on_stop/on_failure/on_receive`). What level4 adds needs pykka's
internals, and they are all here:

- dispatchers: `RuntimeActor.dispatcher` is "pool" (the default: the actor's
  turns run on the scheduler pool, `scheduler.py`) or "thread" (a thread of
  its own, pykka's ThreadingActor). With LEVEL4_SCHEDULERS=0 every actor
  gets a thread.
- a pool actor's inbox (`PoolInbox`) puts the actor on the run queue when a
  message arrives for it while it is idle, and runs its turns: pykka's own
  loop (`Actor._actor_loop_setup`, `_actor_loop_running`'s handling of one
  envelope, `_actor_loop_teardown`) cut into steps a worker can run;
- a tell that skips pykka's envelope and liveness check for the messages
  level4's actors send each other on the hot path (`tell`): the inbox holds the
  bare message, and a turn hands it to `on_receive` directly;
- futures (`ManagedFuture`) that tell the pool when a worker waits on them;
- hooks for the supervision layer under names of its own (`_before_start`,
  `_after_start`, `_receive_message`, `_before_stop`, `_failure_seen`, `_run_ended`,
  `_stop_after_failure`), so nothing else overrides a pykka private method.

`check_pykka()` compares the installed pykka with what this module was
written against (signatures, and the source of the methods whose behaviour
it repeats); `tests/supervision/test_pykka_adapter.py` fails, naming the
method, when an upgrade changes one.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import logging
import queue
import sys
import textwrap
import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import pykka
import structlog
from pykka import ActorDeadError, ActorRegistry, ThreadingFuture, messages
from pykka._envelope import Envelope

from level4.supervision import scheduler

if TYPE_CHECKING:
    from pykka._actor import ActorInbox

__all__ = ["TURN", "Dispatcher", "ManagedFuture", "PoolInbox", "RuntimeActor", "check_pykka", "tell", "teller"]

log = structlog.get_logger(__name__)
# pykka reports failures and replies on its own logger; turns on the pool do the same.
_pykka_log = logging.getLogger("pykka")

Dispatcher = Literal["pool", "thread"]
T = TypeVar("T")

# Messages one actor handles in a turn before the worker moves on: long enough that a
# busy actor rarely pays a requeue, short enough that a flooded one cannot hold a worker.
TURN = 32


class ManagedFuture(ThreadingFuture[T]):
    """pykka's threading future; a worker of the pool that waits on it is compensated."""

    def get(self, *, timeout: float | None = None) -> Any:
        if self._result is not None:
            return super().get(timeout=timeout)
        with scheduler.blocking():
            return super().get(timeout=timeout)


# pykka's own messages, which only its envelope path may carry.
_PYKKA_MESSAGES = (messages._ActorStop, messages.ProxyCall, messages.ProxyGetAttr, messages.ProxySetAttr)


def teller(ref: pykka.ActorRef[Any]) -> Callable[[Any], bool]:
    """`tell` bound to one actor, for a caller that tells it often (ordinary messages only)."""
    inbox = ref.actor_inbox
    if type(inbox) is PoolInbox:
        return inbox.tell
    return lambda message: tell(ref, message)


def tell(ref: pykka.ActorRef[Any], message: Any) -> bool:
    """`ref.tell(message)`; False rather than ActorDeadError when the actor is gone.

    To an actor on the pool an ordinary message goes into its inbox bare: no
    envelope, no liveness check through its stop event (a message that arrives
    as the actor ends is dropped unread, as pykka drops what is left)."""
    inbox = ref.actor_inbox
    if type(inbox) is PoolInbox and not isinstance(message, _PYKKA_MESSAGES):
        return inbox.tell(message)
    try:
        ref.tell(message)
    except ActorDeadError:
        return False
    return True


def _refuse(envelope: Any, actor_name: str) -> None:
    """What pykka's teardown answers a message the actor will never handle."""
    if type(envelope) is not Envelope:
        return  # a bare tell: nobody waits for an answer
    reply_to = envelope.reply_to
    if reply_to is None:
        return
    if isinstance(envelope.message, messages._ActorStop):
        reply_to.set(None)
    else:
        reply_to.set_exception(
            exc_info=(ActorDeadError, ActorDeadError(f"{actor_name} stopped before handling the message"), None)
        )


class PoolInbox:
    """A pool actor's inbox and its run: pykka's ActorInbox (put, get, empty) plus `run_turn`.

    The actor is on the run queue at most once (`_scheduled`), so no two workers
    ever run it at once and its messages are handled in the order they came.
    Only claiming the actor for the run queue takes the lock: a put to an actor
    already scheduled is a deque append. Under the GIL the orders "append, then
    read the flag" (put) and "clear the flag, then look for messages" (end of a
    turn) cannot both miss each other, so no message is left unseen; when both
    see each other, the lock lets one of them claim the actor.
    """

    __slots__ = (
        "_actor",
        "_closed",
        "_lock",
        "_messages",
        "_name",
        "_pool",
        "_receive",
        "_scheduled",
        "_started",
        "hostable",
    )

    def __init__(self, pool: scheduler.SchedulerPool) -> None:
        self._pool = pool
        # Envelopes (pykka's tell, ask, stop, proxies) and bare messages (`tell` above).
        self._messages: deque[Any] = deque()
        self._lock = threading.Lock()
        self._scheduled = True  # held until start(): nothing runs before the actor is started
        self._closed = False
        self._started = False
        self._actor: RuntimeActor | None = None
        self._name = "actor"
        self._receive: Callable[[Any], Any] | None = None  # what a bare message goes to
        self.hostable = False  # the scheduler's: set once the actor has started, from its class

    # -- pykka's ActorInbox -------------------------------------------------------

    def put(self, envelope: Envelope[Any], /) -> None:
        self._messages.append(envelope)
        if not self._scheduled:
            self._claim(self._pool.submit)
        if self._closed:
            self._refuse_left()  # the run has ended: answer now rather than never

    def tell(self, message: Any) -> bool:
        # No look at the actor's stop event: a message to an actor that has stopped but
        # not yet ended is dropped unread when it ends (`_end`), as pykka drops its own.
        if self._closed:
            return False
        self._messages.append(message)
        if not self._scheduled:
            with self._lock:  # _claim, inline: this is once a message on the hot path
                if self._scheduled:
                    return True
                self._scheduled = True
            self._pool.submit(self)
        return True

    def _claim(self, schedule: Callable[[PoolInbox], None]) -> None:
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        schedule(self)

    def _refuse_left(self) -> None:
        pending = self._messages
        while True:
            try:
                envelope = pending.popleft()
            except IndexError:
                return
            _refuse(envelope, self._name)

    def get(self) -> Envelope[Any]:
        try:
            item = self._messages.popleft()
        except IndexError:
            raise queue.Empty from None
        return item if type(item) is Envelope else Envelope(item)

    def empty(self) -> bool:
        return not self._messages

    # -- the run -------------------------------------------------------------------

    def start(self, actor: RuntimeActor) -> None:
        self._actor = actor
        self._name = str(actor.actor_ref)
        self._pool.submit(self)

    def run_turn(self) -> None:
        actor = self._actor
        if actor is None:
            return
        stopped = actor.actor_stopped
        try:
            if not self._started:
                # pykka's setup (on_start) is the actor's first step, as in its thread.
                self._started = True
                actor._actor_loop_setup()
                # A bare message is never one of pykka's: it goes to on_receive unless the
                # class looks at every message first (a supervisor).
                plain = type(actor)._receive_message is RuntimeActor._receive_message
                self._receive = actor.on_receive if plain else actor._receive_message
                self.hostable = type(actor).hostable
            pending = self._messages
            receive = self._receive
            left = TURN
            # One envelope as pykka's _actor_loop_running handles it (check_pykka watches that source).
            # The stop event's flag read directly: Event.is_set is a Python call a message.
            # (Only this turn takes from the deque: a look, then a popleft, cannot miss.)
            while left and pending and not stopped._flag:  # type: ignore[attr-defined]
                envelope = pending.popleft()
                left -= 1
                bare = type(envelope) is not Envelope
                try:
                    if bare:
                        assert receive is not None
                        receive(envelope)
                        continue
                    response = actor._receive_message(envelope.message)  # _handle_receive, one call less
                    if envelope.reply_to is not None:
                        envelope.reply_to.set(response)
                except Exception:
                    if not bare and envelope.reply_to is not None:
                        _pykka_log.info(f"Exception returned from {actor} to caller:", exc_info=sys.exc_info())
                        envelope.reply_to.set_exception()
                    else:
                        actor._handle_failure(*sys.exc_info())
                        try:
                            actor.on_failure(*sys.exc_info())
                        except Exception:
                            actor._handle_failure(*sys.exc_info())
                except BaseException:
                    _pykka_log.debug(f"{sys.exc_info()[1]!r} in {actor}. Stopping all actors.")
                    actor._stop()
                    ActorRegistry.stop_all()
            if not stopped._flag:  # type: ignore[attr-defined]
                if pending:
                    self._pool.requeue(self)  # more waiting: back of the queue, others get their turn
                    return
                self._scheduled = False
                if pending:  # a put came between the look and the flag: one of us claims it
                    self._claim(self._pool.requeue)
                return
        except BaseException:
            # A fault in the runtime's own code, not in a handler (those are caught above):
            # end the actor as its thread would have ended.
            log.exception("actor_turn_failed", actor=self._name)
            ActorRegistry.unregister(actor.actor_ref)
            stopped.set()
        self._end(actor)

    def _end(self, actor: RuntimeActor) -> None:
        # pykka's _actor_loop_teardown: whatever is left is answered, never handled.
        # (Still `_scheduled`, so nothing claims it again; a put racing this sees `_closed`.)
        self._closed = True
        self._refuse_left()
        self._actor = None  # an ended actor is not kept alive by refs to its inbox
        self._receive = None
        try:
            actor._run_ended()
        except Exception:
            log.exception("actor_exit_failed", actor=self._name)


class RuntimeActor(pykka.ThreadingActor):
    """A pykka actor that runs on the scheduler pool or, by choice, on its own thread.

    Subclasses use pykka's public hooks as usual. A class that blocks for long
    in its handlers (database calls, joining threads, waiting on servers)
    chooses `dispatcher = "thread"` and says why.
    """

    dispatcher: ClassVar[Dispatcher] = "pool"
    # Its turns may run on the IO loop's thread when that thread wakes it (scheduler.py's
    # host): only for actors whose handlers never block nor wait on anything.
    hostable: ClassVar[bool] = False

    @classmethod
    def scheduler_pool(cls) -> scheduler.SchedulerPool | None:
        """The pool this class's actors run on; None puts each on a thread of its own."""
        return scheduler.pool() if cls.dispatcher == "pool" else None

    # -- pykka's construction and start --------------------------------------------

    @classmethod
    def _create_actor_inbox(cls) -> ActorInbox:  # type: ignore[override]  # pykka calls it on the instance
        pool = cls.scheduler_pool()
        if pool is not None:
            return PoolInbox(pool)
        # The C SimpleQueue, not pykka's queue.Queue: a message to an idle actor wakes its
        # thread through one lock instead of a Condition (pykka needs only put, get, empty).
        return queue.SimpleQueue()

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return ManagedFuture()

    def _start_actor_loop(self) -> None:
        inbox = self.actor_inbox
        if isinstance(inbox, PoolInbox):
            inbox.start(self)
        else:
            super()._start_actor_loop()

    def _actor_loop(self) -> None:
        # The thread dispatcher's run: pykka's loop, then the same end as on the pool.
        try:
            super()._actor_loop()
        finally:
            self._run_ended()

    # -- pykka's loop steps, routed to level4's hooks -------------------------------

    def _actor_loop_setup(self) -> None:
        self._before_start()
        if not self.actor_stopped.is_set():
            super()._actor_loop_setup()
        self._after_start()

    def _handle_receive(self, message: Any) -> Any:
        return self._receive_message(message)

    def _stop(self) -> None:
        self._before_stop()
        super()._stop()

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # pykka funnels every failure (on_start, handlers, on_stop, on_failure) through here.
        self._failure_seen(exception_type, exception_value)
        super()._handle_failure(exception_type, exception_value, traceback)

    def _stop_after_failure(self, reason: BaseException) -> None:
        """End the actor as pykka does after a failure, without pykka's error log."""
        ActorRegistry.unregister(self.actor_ref)
        self.actor_stopped.set()
        try:
            self.on_failure(type(reason), reason, reason.__traceback__)
        except Exception:
            self._handle_failure(*sys.exc_info())

    # -- level4's hooks (no-ops here) ----------------------------------------------

    def _before_start(self) -> None:
        """Runs first in the actor's run, before on_start; stopping here skips on_start."""

    def _after_start(self) -> None:
        """Runs once the start step is over (on_start done, or failed, or skipped)."""

    # Every message; overridden to see messages before pykka's own dispatch (stop, proxy
    # calls, on_receive), which an override ends by calling. pykka's method itself, not
    # a wrapper: one call less a message.
    _receive_message = pykka.ThreadingActor._handle_receive

    def _before_stop(self) -> None:
        """Runs in the actor's run when it is stopped, before on_stop."""

    def _failure_seen(self, exception_type: type[BaseException] | None, exception_value: BaseException | None) -> None:
        """Every failure pykka handles, before it logs it and stops the actor."""

    def _run_ended(self) -> None:
        """The actor's run is over (pykka's loop and teardown done), however it ended."""


# -- what this module relies on in pykka ---------------------------------------------

# Source digests of the pykka methods whose behaviour PoolInbox repeats or relies on
# (pykka 4.5.0). A different digest means: read the new source, bring PoolInbox (or the
# hooks above) in line, then record the new digest.
_SOURCE_DIGESTS = {
    "Actor._actor_loop": "6a4b2cb349da4b31",
    "Actor._actor_loop_setup": "5d984d3f6f815b8c",
    "Actor._actor_loop_running": "226670085f0c9894",
    "Actor._actor_loop_teardown": "1b99948d9e0e96ec",
    "Actor._stop": "bbc46c30d3f516c5",
    "Actor._handle_failure": "d48ca69aeab56833",
    "ThreadingActor._start_actor_loop": "3c5874a1f7cff666",
    "ThreadingFuture.get": "0cea626a3b91ec91",
    "ActorRef.ask": "e1da63ada73c4068",
    "ActorRef.tell": "ebb40fbe7bcf892f",
}

# Every private name used above, with the parameters it must take.
_SIGNATURES = {
    "Actor._create_actor_inbox": (),
    "Actor._create_future": (),
    "Actor._start_actor_loop": ("self",),
    "Actor._actor_loop": ("self",),
    "Actor._actor_loop_setup": ("self",),
    "Actor._actor_loop_running": ("self",),
    "Actor._actor_loop_teardown": ("self",),
    "Actor._handle_receive": ("self", "message"),
    "Actor._stop": ("self",),
    "Actor._handle_failure": ("self", "exception_type", "exception_value", "traceback"),
    "ThreadingActor._create_actor_inbox": (),
    "ThreadingActor._create_future": (),
    "ThreadingActor._start_actor_loop": ("self",),
    "Envelope.__init__": ("self", "message", "reply_to"),
}

_OWNERS: dict[str, Any] = {
    "Actor": pykka.Actor,
    "ThreadingActor": pykka.ThreadingActor,
    "ThreadingFuture": ThreadingFuture,
    "ActorRef": pykka.ActorRef,
    "Envelope": Envelope,
}


def _resolve(qualified: str) -> Any:
    owner, name = qualified.split(".")
    return _OWNERS[owner].__dict__.get(name)


def source_digest(qualified: str) -> str:
    member = _resolve(qualified)
    if isinstance(member, staticmethod | classmethod):
        member = member.__func__
    source = textwrap.dedent(inspect.getsource(member))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def check_pykka() -> list[str]:
    """Every difference between the installed pykka and what this module expects."""
    problems: list[str] = []
    version = importlib.metadata.version("pykka")
    for qualified, params in _SIGNATURES.items():
        member = _resolve(qualified)
        if member is None:
            problems.append(f"pykka {version} has no {qualified}")
            continue
        func = member.__func__ if isinstance(member, staticmethod | classmethod) else member
        found = tuple(inspect.signature(func).parameters)
        if found != params:
            problems.append(f"pykka {version}: {qualified} takes {found}, expected {params}")
    for qualified, digest in _SOURCE_DIGESTS.items():
        if _resolve(qualified) is None:
            problems.append(f"pykka {version} has no {qualified}")
        elif source_digest(qualified) != digest:
            problems.append(
                f"pykka {version} changed {qualified} (source digest {source_digest(qualified)}, "
                f"expected {digest}): level4/supervision/pykka_adapter.py repeats or relies on it"
            )
    if not hasattr(messages, "_ActorStop"):
        problems.append(f"pykka {version} has no messages._ActorStop")
    if "_result" not in vars(ThreadingFuture()):
        problems.append(f"pykka {version}: ThreadingFuture has no _result attribute")
    if not isinstance(getattr(threading.Event(), "_flag", None), bool):
        problems.append("threading.Event has no _flag: PoolInbox.run_turn reads the stop event's flag")
    if set(getattr(Envelope, "__slots__", ())) != {"message", "reply_to"}:
        problems.append(f"pykka {version}: Envelope's fields are not (message, reply_to)")
    return problems
