"""The IO loop's thread as the scheduler's host: the hostable actors it wakes run
their turns on it, between the loop's callbacks; the others stay on the pool."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest

from level4.supervision import SupervisedActor, scheduler, tell, teller
from level4.supervision.scheduler import HOST_TURNS

from .supervision_helpers import wait_until

Seen = list[tuple[Any, str]]


class Hostable(SupervisedActor):
    """Records each message with the thread that handled it, then passes it on."""

    hostable = True

    def __init__(self, seen: Seen, next_ref: pykka.ActorRef[Any] | None = None) -> None:
        super().__init__()
        self.seen = seen
        self.next_ref = next_ref

    def on_receive(self, message: Any) -> Any:
        if message == "ready?":
            return True
        if message == "crash":
            raise RuntimeError("crash requested by the test")
        self.seen.append((message, threading.current_thread().name))
        if self.next_ref is not None:
            tell(self.next_ref, message)
        return None


class NotHostable(Hostable):
    hostable = False


class Host:
    """An event loop on a thread of its own that hosts, as the service's IO loop does."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="test-host", daemon=True)
        self._ready = threading.Event()
        self.thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        scheduler.host_here(self.loop)
        self._ready.set()
        self.loop.run_forever()

    def run(self, *fns: Callable[[], object]) -> None:
        """Call each fn in turn on the host's thread, in one callback of its loop."""

        def callback() -> None:
            for fn in fns:
                fn()

        self.loop.call_soon_threadsafe(callback)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def host() -> Iterator[Host]:
    if scheduler.pool() is None:
        pytest.skip("LEVEL4_SCHEDULERS=0: a thread per actor was asked for")
    h = Host()
    yield h
    h.close()


def started(actor: type[Hostable], *args: Any) -> pykka.ActorRef[Any]:
    ref = actor.start(*args)
    assert ref.ask("ready?", timeout=5) is True  # its first turn (on_start) is over
    return ref


def test_hostable_actors_woken_by_the_host_run_on_it_and_the_others_on_the_pool(host: Host) -> None:
    seen: Seen = []
    last = started(Hostable, seen)
    first = started(Hostable, seen, last)
    pooled = started(NotHostable, seen)
    try:
        host.run(lambda: tell(first, "a frame"), lambda: tell(pooled, "a request"))
        wait_until(lambda: len(seen) == 3, what="three turns")
        where = {(message, thread.startswith("level4-scheduler")) for message, thread in seen}
        on_host = [thread for message, thread in seen if message == "a frame"]
        assert on_host == ["test-host", "test-host"]  # the first and, woken by it, the last
        assert ("a request", True) in where
    finally:
        for ref in (first, last, pooled):
            ref.stop()


def test_a_message_from_elsewhere_runs_on_the_pool(host: Host) -> None:
    seen: Seen = []
    ref = started(Hostable, seen)
    try:
        tell(ref, "from the test's thread")
        wait_until(lambda: len(seen) == 1, what="a turn")
        assert seen[0][1].startswith("level4-scheduler")
    finally:
        ref.stop()


def test_the_host_runs_its_loop_between_batches_of_turns(host: Host) -> None:
    """More runnable actors than one drain runs: the loop's other callbacks get their turn."""
    seen: Seen = []
    refs = [started(Hostable, seen) for _ in range(HOST_TURNS + 20)]
    turns_at_marker: list[int] = []
    try:

        def burst() -> None:
            for n, ref in enumerate(refs):
                tell(ref, n)
            host.loop.call_soon(lambda: turns_at_marker.append(len(seen)))

        host.run(burst)
        wait_until(lambda: len(seen) == len(refs), timeout=10, what="every turn")
        assert turns_at_marker == [HOST_TURNS]
        assert [message for message, _ in seen] == list(range(len(refs)))  # in the order they were woken
        assert {thread for _, thread in seen} == {"test-host"}
    finally:
        for ref in refs:
            ref.stop()


def test_a_failure_in_a_hosted_turn_ends_the_actor_and_spares_the_loop(host: Host) -> None:
    seen: Seen = []
    victim = started(Hostable, seen)
    other = started(Hostable, seen)
    try:
        host.run(lambda: tell(victim, "crash"), lambda: tell(other, "after"))
        wait_until(lambda: not victim.is_alive(), what="the failed actor ended")
        wait_until(lambda: seen == [("after", "test-host")], what="the other actor's turn on the host")
        host.run(lambda: tell(other, "later"))
        wait_until(lambda: len(seen) == 2, what="the loop still hosting")
        assert seen[1] == ("later", "test-host")
    finally:
        other.stop()


def test_a_bare_tell_keeps_the_order_with_pykkas_own_messages_and_stops_at_the_end(host: Host) -> None:
    seen: Seen = []
    ref = started(Hostable, seen)
    fast = teller(ref)
    for n in range(50):
        assert fast(n) is True
        if n % 10 == 0:
            ref.tell(f"pykka {n}")  # an envelope between the bare messages
    wait_until(lambda: len(seen) == 55, what="every message")
    expected: list[Any] = []
    for n in range(50):
        expected.append(n)
        if n % 10 == 0:
            expected.append(f"pykka {n}")
    assert [message for message, _ in seen] == expected
    ref.stop()
    assert fast("too late") is False
    assert tell(ref, "too late") is False
