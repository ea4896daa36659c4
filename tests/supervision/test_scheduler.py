"""The scheduler pool: order, one worker per actor at a time, fairness, managed blocking."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pykka
import pytest
from pykka._envelope import Envelope  # a put racing the actor's end needs the raw envelope

from level4.service.repo_actor import RepoActor
from level4.supervision import ChildSpec, SupervisedActor, Supervisor, scheduler
from level4.supervision.pykka_adapter import TURN, PoolInbox
from level4.supervision.scheduler import SchedulerPool

from .supervision_helpers import wait_until


class OnPool(SupervisedActor):
    """Runs on the pool the test gives it (`pool`), not the process's."""

    pool: ClassVar[SchedulerPool | None] = None

    @classmethod
    def scheduler_pool(cls) -> SchedulerPool | None:
        return cls.pool


@pytest.fixture
def private_pool() -> Iterator[Any]:
    pools: list[SchedulerPool] = []

    def make(size: int, max_threads: int = 40, idle_retire: float = 0.2) -> SchedulerPool:
        pool = SchedulerPool(size, max_threads=max_threads, idle_retire=idle_retire, name="test-pool")
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown()


class Recorder(SupervisedActor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    def on_receive(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        self.seen.append(message)
        return None


def test_actors_run_on_the_process_pool_not_on_threads_of_their_own() -> None:
    if scheduler.pool() is None:
        pytest.skip("LEVEL4_SCHEDULERS=0: a thread per actor was asked for")
    before = threading.active_count()
    refs = [Recorder.start() for _ in range(50)]
    try:
        assert all(isinstance(ref.actor_inbox, PoolInbox) for ref in refs)
        for ref in refs:
            ref.tell("hello")
        assert all(ref.ask("seen", timeout=5) == ["hello"] for ref in refs)
        assert threading.active_count() - before < 5  # not 50
    finally:
        for ref in refs:
            ref.stop()


def test_messages_of_one_actor_keep_their_order() -> None:
    ref = Recorder.start()
    per_sender = 3000

    def send(sender: int) -> None:
        for i in range(per_sender):
            ref.tell((sender, i))

    senders = [threading.Thread(target=send, args=(s,)) for s in range(4)]
    try:
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        seen = ref.ask("seen", timeout=10)
    finally:
        ref.stop()
    assert len(seen) == 4 * per_sender
    for sender in range(4):
        assert [i for s, i in seen if s == sender] == list(range(per_sender)), f"sender {sender} out of order"


class Exclusive(OnPool):
    """Fails loudly if two workers ever run it at once; notes which workers ran it."""

    def __init__(self) -> None:
        super().__init__()
        self.guard = threading.Lock()
        self.overlaps = 0
        self.handled = 0
        self.workers: set[int] = set()

    def on_receive(self, message: Any) -> Any:
        if message == "report":
            return self.overlaps, self.handled, len(self.workers)
        if not self.guard.acquire(blocking=False):
            self.overlaps += 1
            return None
        try:
            self.workers.add(threading.get_ident())
            self.handled += 1
            if self.handled % 7 == 0:
                time.sleep(0)  # let the GIL go mid-handler, as real handlers do
        finally:
            self.guard.release()
        return None


def test_an_actor_never_runs_on_two_workers_at_once(private_pool: Any) -> None:
    Exclusive.pool = private_pool(4)
    refs = [Exclusive.start() for _ in range(6)]
    per_sender = 1500

    def send() -> None:
        for i in range(per_sender):
            refs[i % len(refs)].tell(i)

    senders = [threading.Thread(target=send) for _ in range(4)]
    try:
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        reports = [ref.ask("report", timeout=10) for ref in refs]
    finally:
        for ref in refs:
            ref.stop()
    assert sum(handled for _, handled, _ in reports) == 4 * per_sender
    assert [overlaps for overlaps, _, _ in reports] == [0] * len(refs)
    # The claim is not empty: actors did move between workers, just never ran on two at once.
    assert max(workers for _, _, workers in reports) > 1


class Busy(OnPool):
    def __init__(self, progress: list[int]) -> None:
        super().__init__()
        self.progress = progress

    def on_receive(self, message: Any) -> Any:
        if message == "ping":
            return "pong"
        deadline = time.perf_counter() + 20e-6
        while time.perf_counter() < deadline:
            pass
        self.progress[0] += 1
        return None


def test_a_flooded_actor_does_not_starve_another(private_pool: Any) -> None:
    Busy.pool = private_pool(1)  # one worker: only the turn limit lets the other actor in
    progress = [0]
    flooded, other = Busy.start(progress), Busy.start([0])
    flood = 20_000
    try:
        for i in range(flood):
            flooded.tell(i)
        wait_until(lambda: progress[0] > 0, what="the flood being handled")
        assert other.ask("ping", timeout=10) == "pong"
        handled_meanwhile = progress[0]
    finally:
        flooded.stop()
        other.stop()
    # The ping waited for at most a turn or two of the flood, not for the flood to end.
    assert handled_meanwhile < flood // 4, f"{handled_meanwhile} of {flood} flood messages went first"
    assert TURN <= 64


class Link(OnPool):
    """Asks the next link and waits, blocking its worker; the last link answers."""

    def __init__(self, next_link: pykka.ActorRef[Any] | None, wait: float) -> None:
        super().__init__()
        self.next_link = next_link
        self.wait = wait

    def on_receive(self, message: Any) -> Any:
        if self.next_link is None:
            return message
        return self.next_link.ask(message + 1, timeout=self.wait)


def chain(depth: int, wait: float) -> list[pykka.ActorRef[Any]]:
    refs: list[pykka.ActorRef[Any]] = []
    next_link: pykka.ActorRef[Any] | None = None
    for _ in range(depth):
        next_link = Link.start(next_link, wait)
        refs.append(next_link)
    return refs


def test_a_chain_of_blocking_asks_deeper_than_the_pool_completes(private_pool: Any) -> None:
    pool = Link.pool = private_pool(2)
    refs = chain(12, wait=10)
    try:
        assert refs[-1].ask(0, timeout=10) == 11
    finally:
        for ref in reversed(refs):
            ref.stop()
    assert pool.compensations >= 12 - 2, "each blocked worker beyond the pool was compensated"
    assert pool.stats()["blocked"] == 0
    # The compensating workers retire once idle.
    wait_until(lambda: pool.stats()["threads"] == 2, timeout=5, what="the pool back to its size")


def test_without_compensation_the_same_chain_starves(private_pool: Any) -> None:
    # The control for the test above: a pool that may not grow runs out of workers.
    pool = Link.pool = private_pool(2, max_threads=2)
    refs = chain(6, wait=0.5)
    try:
        with pytest.raises(pykka.Timeout):
            refs[-1].ask(0, timeout=10)
    finally:
        for ref in reversed(refs):
            ref.stop()
    assert pool.compensations == 0


def test_waiting_outside_a_worker_is_not_counted(private_pool: Any) -> None:
    pool = private_pool(2)
    with pool.blocking(), scheduler.blocking():
        assert pool.stats()["blocked"] == 0
    assert pool.compensations == 0


def test_pool_size_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVEL4_SCHEDULERS", "6")
    assert scheduler.configured_size() == 6
    monkeypatch.setenv("LEVEL4_SCHEDULERS", "0")
    assert scheduler.configured_size() == 0
    monkeypatch.delenv("LEVEL4_SCHEDULERS")
    assert scheduler.configured_size() >= 4
    monkeypatch.setenv("LEVEL4_SCHEDULERS", "many")
    with pytest.raises(ValueError, match="LEVEL4_SCHEDULERS"):
        scheduler.configured_size()


class PrivateRecorder(OnPool, Recorder):
    pass


def test_a_message_after_the_run_has_ended_is_answered_at_once(private_pool: Any) -> None:
    PrivateRecorder.pool = private_pool(1)
    ref = PrivateRecorder.start()
    inbox = ref.actor_inbox
    assert isinstance(inbox, PoolInbox)
    ref.stop()
    # pykka's ask refuses a stopped actor itself; a put racing the end is answered by the inbox.
    future = PrivateRecorder._create_future()
    inbox.put(Envelope("late", reply_to=future))
    with pytest.raises(pykka.ActorDeadError):
        future.get(timeout=1)


def test_the_shared_timer_calls_back_in_order_and_skips_cancelled() -> None:
    calls: list[str] = []
    done = threading.Event()
    scheduler.call_later(0.05, calls.append, "late")
    scheduler.call_later(0.01, calls.append, "early")
    scheduler.call_later(0.02, calls.append, "cancelled").cancel()
    scheduler.call_later(0.08, done.set)
    assert done.wait(2)
    assert calls == ["early", "late"]


def test_an_actor_that_waits_for_long_keeps_a_thread_of_its_own() -> None:
    assert RepoActor.dispatcher == "thread"
    assert RepoActor.scheduler_pool() is None  # its inbox is then a plain queue its thread drains


def test_a_supervision_tree_runs_and_restarts_on_the_pool(private_pool: Any) -> None:
    pool = private_pool(2)

    class PoolSupervisor(Supervisor):
        @classmethod
        def scheduler_pool(cls) -> SchedulerPool | None:
            return pool

    class Crashy(OnPool):
        def on_receive(self, message: Any) -> Any:
            raise RuntimeError("crash")

    Crashy.pool = pool
    sup = PoolSupervisor.start([ChildSpec.for_actor("crashy", Crashy)])
    try:
        first = dict(sup.proxy().which_children().get(timeout=5))["crashy"]
        assert isinstance(sup.actor_inbox, PoolInbox) and isinstance(first.actor_inbox, PoolInbox)
        first.tell("boom")
        wait_until(
            lambda: dict(sup.proxy().which_children().get(timeout=5)).get("crashy") not in (None, first),
            what="the child restarted",
        )
        assert sup.proxy().restarts("crashy").get(timeout=5) == 1
    finally:
        assert sup.stop() is True


def test_a_retired_pool_still_runs_an_actor_left_on_it(private_pool: Any) -> None:
    pool = PrivateRecorder.pool = private_pool(2)
    ref = PrivateRecorder.start()
    try:
        ref.tell("before")
        assert ref.ask("seen", timeout=5) == ["before"]
        pool.retire()  # what scheduler.use does to the pool it replaces
        wait_until(lambda: pool.stats()["threads"] == 0, timeout=5, what="the workers gone")
        assert ref.ask("seen", timeout=5) == ["before"]  # a worker comes back for the message
        wait_until(lambda: pool.stats()["threads"] == 0, timeout=5, what="that worker gone again")
    finally:
        ref.stop()
