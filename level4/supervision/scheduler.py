"""The scheduler pool: a fixed set of worker threads that run actors' turns.

Like Erlang's schedulers or Akka's dispatchers, a few threads serve any
number of actors: an actor with messages waiting is on the run queue once,
and a worker runs one turn of it (a bounded batch of its messages) before
taking the next runnable actor. The pool knows nothing of pykka; it runs
anything with a `run_turn()` method (the adapter's inboxes).

An actor made runnable by a worker (a message from the actor it is running)
goes into that worker's own slot and runs there next, as Go's `runnext` does:
a message hop through a market's actors is then a function call on one
thread instead of a wake-up of another (and a GIL hand-over). A turn that
runs out of messages' room goes to the back of the shared queue instead, and
after CHAIN slot runs in a row the slot goes there too, so chains cannot keep
a worker from the queue.

Managed blocking, as in Java's ForkJoinPool: a worker about to wait (a
future's `get`, joining an actor's exit) says so with `blocking()`, and if
that leaves fewer than `size` workers free to run turns, the pool starts a
compensating worker (never more than `max_threads` in all). A worker that
has been idle for `idle_retire` seconds while more than `size` workers are
free retires, so the pool shrinks back once the waits are over.

One timer thread (`call_later`) serves every delayed message, such as a
supervisor's restart delay, instead of a thread per timer.

A host: the IO loop's thread, which reads every socket, runs the turns of the
actors it wakes itself when they are `hostable` (actors that never block nor
wait, such as a market's mediator, orderbook and exchange), as callbacks of its
loop between socket reads. A frame then goes from the socket through the
market's actors on one thread: no worker is woken and the GIL is not handed
over (a wake and a hand-over cost more than a frame's own work at low rates;
under the GIL, one thread doing all of it loses nothing at high ones). At most
HOST_TURNS turns run before the loop reads its sockets again.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

import structlog

__all__ = [
    "MAX_THREADS",
    "SchedulerPool",
    "TimerHandle",
    "blocking",
    "call_later",
    "configured_size",
    "host_here",
    "is_scheduler_thread",
    "pool",
    "use",
]

log = structlog.get_logger(__name__)

THREAD_PREFIX = "level4-scheduler"
# Workers and compensating workers together; with the service's own threads
# (IO loop, HTTP, sinks, journal, timer) the process stays under 64.
MAX_THREADS = 40
IDLE_RETIRE = 2.0
CHAIN = 64
HOST_TURNS = 256


class Runnable(Protocol):
    hostable: bool
    """May run on a host thread (see the module's doc)."""

    def run_turn(self) -> None:
        """Run one turn; must not raise."""


def configured_size() -> int:
    """Workers in the pool: LEVEL4_SCHEDULERS, or 2 x cores and at least 4.

    0 means no pool: every actor gets a thread of its own (pykka's own way).
    """
    raw = os.environ.get("LEVEL4_SCHEDULERS", "").strip()
    if raw:
        try:
            size = int(raw)
        except ValueError:
            raise ValueError(f"LEVEL4_SCHEDULERS must be a whole number, not {raw!r}") from None
        if size < 0:
            raise ValueError(f"LEVEL4_SCHEDULERS must be 0 or more, not {size}")
        return size
    return max(4, 2 * (os.cpu_count() or 1))


# The pool the current thread works for, if it is a worker; and whether it is waiting.
_worker = threading.local()


class _Blocking:
    """Context manager marking a wait on a worker; a no-op on other threads."""

    __slots__ = ("_counted", "_pool")

    def __init__(self, pool: SchedulerPool | None) -> None:
        self._pool = pool
        self._counted = False

    def __enter__(self) -> None:
        pool = self._pool
        if pool is not None:
            self._counted = pool._begin_blocking()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._counted and self._pool is not None:
            self._pool._end_blocking()


class _Nudge:
    """Queued to make an idle worker check whether it should retire."""

    hostable = False

    def run_turn(self) -> None:
        pass


_NUDGE = _Nudge()


class SchedulerPool:
    def __init__(
        self,
        size: int,
        max_threads: int = MAX_THREADS,
        idle_retire: float = IDLE_RETIRE,
        name: str = THREAD_PREFIX,
    ) -> None:
        if size < 1:
            raise ValueError("a scheduler pool needs at least one worker")
        self.size = size
        self.max_threads = max(size, max_threads)
        self.idle_retire = idle_retire
        self.name = name
        self._runq: queue.SimpleQueue[Runnable | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._live = 0
        self._blocked = 0
        self._closed = False
        self._serial = itertools.count()
        self.compensations = 0
        """How many compensating workers were started (for tests and figures)."""
        with self._lock:
            for _ in range(size):
                self._spawn_locked()

    # -- what actors use -------------------------------------------------------

    def submit(self, item: Runnable) -> None:
        """A newly runnable actor (its inbox ensures: once): on a worker of this pool,
        into its slot to run next; elsewhere, on the shared queue."""
        local = _worker
        host = getattr(local, "host", None)
        if host is not None and item.hostable:
            host.add(item)
            return
        if getattr(local, "pool", None) is self:
            bumped = _worker.slot
            _worker.slot = item
            if bumped is not None:
                self._runq.put(bumped)
        else:
            self._runq.put(item)
            if not self._live:
                self._revive()

    def requeue(self, item: Runnable) -> None:
        """An actor with messages left after its turn: the back of the shared queue
        (of the host's, on a host: a flooded market's actors stay on the IO loop's thread)."""
        host = getattr(_worker, "host", None)
        if host is not None and item.hostable:
            host.add(item)
            return
        self._runq.put(item)

    def retire(self) -> None:
        """Let every worker end once idle; an actor still on this pool that gets a
        message later brings one worker back for as long as it has work."""
        with self._lock:
            self.size = 0
        for _ in range(self._live):
            self._runq.put(_NUDGE)  # idle workers look at their size now, not in idle_retire

    def blocking(self) -> _Blocking:
        """`with pool.blocking(): wait()` keeps the pool's capacity while this worker waits."""
        return _Blocking(self if getattr(_worker, "pool", None) is self else None)

    def owns(self, thread: threading.Thread) -> bool:
        with self._lock:
            return thread in self._threads

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"threads": self._live, "blocked": self._blocked, "compensations": self.compensations}

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every worker once the turns already queued have run (for tests)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._runq.put(None)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    # -- internals -------------------------------------------------------------

    def _revive(self) -> None:
        with self._lock:
            if not self._live and not self._closed:
                self._spawn_locked()

    def _spawn_locked(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self.name}-{next(self._serial)}", daemon=True)
        self._threads.add(thread)
        self._live += 1
        thread.start()

    def _begin_blocking(self) -> bool:
        slot = _worker.slot
        if slot is not None:  # whatever this worker was to run next must not wait for it
            _worker.slot = None
            self._runq.put(slot)
        if getattr(_worker, "blocking", False):
            return False  # already counted: a wait inside a wait (a future's get hook)
        _worker.blocking = True
        with self._lock:
            self._blocked += 1
            if not self._closed and self._live - self._blocked < self.size and self._live < self.max_threads:
                self.compensations += 1
                self._spawn_locked()
        return True

    def _end_blocking(self) -> None:
        with self._lock:
            self._blocked -= 1
        _worker.blocking = False

    def _work(self) -> None:
        _worker.pool = self
        _worker.slot = None
        me = threading.current_thread()
        get = self._runq.get
        put = self._runq.put
        retire = self.idle_retire
        local = _worker
        chained = 0
        while True:
            item = local.slot
            if item is not None:
                local.slot = None
                if chained < CHAIN:
                    chained += 1
                    try:
                        item.run_turn()
                    except BaseException:
                        log.exception("scheduler_turn_failed")
                    continue
                put(item)  # its turn comes after what waits on the shared queue
            chained = 0
            try:
                item = get(timeout=retire)
            except queue.Empty:
                item = _NUDGE
            if item is _NUDGE:
                with self._lock:
                    leave = self._live - self._blocked > self.size and (self.size > 0 or self._runq.empty())
                    if leave:
                        self._live -= 1
                        self._threads.discard(me)
                if not leave:
                    continue
                if not self._runq.empty():
                    self._revive()  # a submit raced the retiring: it may have seen a live worker
                return
            if item is None:
                with self._lock:
                    self._live -= 1
                    self._threads.discard(me)
                return
            try:
                item.run_turn()
            except BaseException:  # run_turn handles its own; a worker must survive a bug there
                log.exception("scheduler_turn_failed")


class _Host:
    """Turns queued on a host thread, run as callbacks of its event loop."""

    __slots__ = ("_due", "_items", "_loop", "turns")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[Runnable] = deque()
        self._due = False
        self.turns = 0
        """Turns run here (for tests and figures)."""

    def add(self, item: Runnable) -> None:
        self._items.append(item)
        if not self._due:
            self._due = True
            self._loop.call_soon(self._drain)

    def _drain(self) -> None:
        items = self._items
        left = HOST_TURNS
        while items and left:
            left -= 1
            item = items.popleft()
            try:
                item.run_turn()
            except BaseException:  # run_turn handles its own; the loop must survive a bug there
                log.exception("scheduler_turn_failed")
        self.turns += HOST_TURNS - left
        if items:
            self._loop.call_soon(self._drain)  # the sockets' turn first
        else:
            self._due = False


def host_here(loop: asyncio.AbstractEventLoop) -> _Host:
    """Make the calling thread, which runs `loop`, a host (module doc)."""
    host = _Host(loop)
    _worker.host = host
    return host


class TimerHandle:
    __slots__ = ("args", "callback", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.due = due
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: TimerHandle) -> bool:
        return self.due < other.due


class _TimerThread:
    """One thread for every delayed call of the process; callbacks must be quick."""

    def __init__(self) -> None:
        self._heap: list[TimerHandle] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        handle = TimerHandle(time.monotonic() + max(0.0, delay), callback, args)
        with self._cond:
            heapq.heappush(self._heap, handle)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"{THREAD_PREFIX}-timer", daemon=True)
                self._thread.start()
            self._cond.notify()
        return handle

    def owns(self, thread: threading.Thread) -> bool:
        return thread is self._thread

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    heap = self._heap
                    while heap and heap[0].cancelled:
                        heapq.heappop(heap)
                    if heap and heap[0].due <= now:
                        handle = heapq.heappop(heap)
                        break
                    self._cond.wait(heap[0].due - now if heap else None)
            try:
                handle.callback(*handle.args)
            except Exception:
                log.exception("timer_callback_failed")


_pool: SchedulerPool | None = None
_pool_decided = False
_pool_lock = threading.Lock()
_timer = _TimerThread()


def pool() -> SchedulerPool | None:
    """The process's scheduler pool, started on first use; None when LEVEL4_SCHEDULERS=0."""
    global _pool, _pool_decided
    if not _pool_decided:
        with _pool_lock:
            if not _pool_decided:
                size = configured_size()
                if size > 0:
                    _pool = SchedulerPool(size)
                    log.info("scheduler_pool_started", workers=size, max_threads=_pool.max_threads)
                _pool_decided = True
    return _pool


def use(size: int | None) -> SchedulerPool | None:
    """Replace the process's pool, for benchmarks comparing runtimes: actors started
    from now on use a pool of `size` workers (0: a thread each; None: as configured).
    The old pool's workers end once idle; an actor left on it still runs when it gets
    a message."""
    global _pool, _pool_decided
    with _pool_lock:
        old, _pool, _pool_decided = _pool, None, False
    if old is not None:
        old.retire()
    if size is None:
        return pool()
    with _pool_lock:
        _pool = SchedulerPool(size) if size > 0 else None
        _pool_decided = True
    return _pool


def blocking() -> _Blocking:
    """Mark a wait: compensated when on a worker of the process's pool, a no-op elsewhere."""
    return _Blocking(getattr(_worker, "pool", None))


def call_later(delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
    """Call `callback(*args)` on the shared timer thread after `delay` seconds."""
    return _timer.call_later(delay, callback, *args)


def is_scheduler_thread(thread: threading.Thread) -> bool:
    """A worker of the process's pool or the shared timer thread."""
    current = _pool
    return _timer.owns(thread) or (current is not None and current.owns(thread))
