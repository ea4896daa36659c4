"""Shutdown order, dynamic children, stale reports, pending restarts, subclassing."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import pykka
import pytest

from level4.supervision import (
    ChildDown,
    ChildEvent,
    ChildSpec,
    Restart,
    Strategy,
    SupervisedActor,
    Supervisor,
    stop_quietly,
)
from level4.supervision.supervised import lifecycle_of

from .supervision_helpers import Crash, Events, Journal, Worker, children, wait_until, worker


def actor_threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def test_stop_shuts_children_down_in_reverse_start_order_and_joins_them() -> None:
    journal, events = Journal(), Events()
    root = Supervisor.start(
        [
            worker("a", journal),
            ChildSpec.for_actor("inner", Supervisor, [worker("x", journal), worker("y", journal)]),
            worker("b", journal),
        ],
        on_child_event=events,
    )
    children(children(root)["inner"])  # the inner tree's start phase is done
    journal.clear()

    assert root.stop() is True

    # Checked without waiting: all of this must be true once stop() has returned.
    assert journal.names("stop") == ["b", "y", "x", "a"]
    assert pykka.ActorRegistry.get_all() == []
    assert actor_threads("Worker-") == []
    assert len(actor_threads("Supervisor-")) <= 1, "only the root's own thread may still be finishing"
    assert events.of(ChildEvent.TERMINATED) == [("b", None), ("inner", None), ("a", None)]
    assert events.of(ChildEvent.EXITED) == [], "a stop the supervisor asked for is silent"


def test_shutdown_order_follows_start_order_after_restarts_and_dynamic_starts() -> None:
    journal, events = Journal(), Events()
    sup = Supervisor.start([worker("a", journal), worker("b", journal)], on_child_event=events)
    proxy = sup.proxy()
    proxy.start_child(worker("c", journal)).get()
    children(sup)["a"].tell("crash")
    wait_until(lambda: events.of(ChildEvent.RESTARTED), what="restart")
    journal.clear()

    sup.stop()

    assert journal.names("stop") == ["c", "b", "a"]


def test_dynamic_children_start_terminate_and_lookup() -> None:
    journal, events = Journal(), Events()
    sup = Supervisor.start([worker("a", journal)], on_child_event=events)
    proxy = sup.proxy()
    try:
        ref = proxy.start_child(worker("d", journal)).get()
        assert ref.ask("ping", timeout=2) == "pong"
        assert proxy.child("d").get() == ref
        assert proxy.which_children().get() == [("a", children(sup)["a"]), ("d", ref)]
        assert events.of(ChildEvent.STARTED)[-1] == ("d", None)

        with pytest.raises(ValueError, match="already exists"):
            proxy.start_child(worker("d", journal)).get()

        # A dynamic child is supervised like any other.
        ref.tell("crash")
        wait_until(lambda: events.of(ChildEvent.RESTARTED), what="restart")
        restarted = proxy.child("d").get()
        assert restarted is not None and restarted.actor_urn != ref.actor_urn

        journal.clear()
        assert proxy.terminate_child("d").get() is True
        assert journal.entries() == [("stop", "d")]
        assert not restarted.is_alive()
        assert proxy.child("d").get() is None
        assert list(children(sup)) == ["a"]
        assert events.all()[-1] == ("d", ChildEvent.TERMINATED, None)
        assert proxy.terminate_child("d").get() is False
        assert proxy.terminate_child("nobody").get() is False
        assert proxy.child("nobody").get() is None

        # Terminated means forgotten: the name can be used again.
        proxy.start_child(worker("d", journal)).get()
        assert list(children(sup)) == ["a", "d"]
    finally:
        sup.stop()
    assert [n for n, _ in events.of(ChildEvent.EXITED)] == ["d"], "only the crash was reported, not the terminate"


class SlowStop(Worker):
    """Takes a while to stop, as a feed closing its socket does."""

    def on_stop(self) -> None:
        time.sleep(0.02)
        super().on_stop()


def tree(name: str, journal: Journal) -> ChildSpec:
    """A supervisor of two slow stoppers, shaped as a market's tree."""

    def start(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        kids = [ChildSpec.for_actor(f"{name}.{n}", SlowStop, journal) for n in "ab"]
        return Supervisor.start(kids, parent=parent, child_name=name)

    return ChildSpec(name, start)


def test_terminate_children_stops_many_trees_side_by_side() -> None:
    journal, events = Journal(), Events()
    sup = Supervisor.start([worker("keep", journal)], on_child_event=events)
    proxy = sup.proxy()
    names = [f"t{n}" for n in range(60)]
    try:
        for name in names:
            proxy.start_child(tree(name, journal)).get(timeout=5)
        started = time.monotonic()
        assert proxy.terminate_children([*names, "nobody"]).get(timeout=30) == len(names)
        took = time.monotonic() - started
        # One after another: 60 trees of two 20 ms stops, 2.4 s.
        assert took < 1.2, took
        assert sorted(journal.names("stop")) == sorted(f"{name}.{n}" for name in names for n in "ab")
        assert list(children(sup)) == ["keep"]
        assert sorted(name for name, _ in events.of(ChildEvent.TERMINATED)) == sorted(names)
        assert events.of(ChildEvent.EXITED) == []
        assert proxy.terminate_children(names).get(timeout=5) == 0
    finally:
        sup.stop()


def test_start_child_failure_is_returned_to_the_caller_and_not_counted() -> None:
    journal = Journal()
    sup = Supervisor.start([worker("a", journal)], max_restarts=0)

    def broken(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        raise OSError("no route")

    try:
        with pytest.raises(OSError, match="no route"):
            sup.proxy().start_child(ChildSpec("b", broken)).get()
        assert list(children(sup)) == ["a"]
        assert sup.is_alive()
    finally:
        sup.stop()


def test_children_that_would_go_unsupervised_are_refused() -> None:
    journal = Journal()
    sup = Supervisor.start([])
    proxy = sup.proxy()

    def orphan(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        return Worker.start(journal, child_name="orphan")  # forgot parent=

    def misnamed(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        return Worker.start(journal, parent=parent, child_name="other")

    class Plain(pykka.ThreadingActor):
        pass

    def plain(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        return Plain.start()

    try:
        with pytest.raises(ValueError, match="parent="):
            proxy.start_child(ChildSpec("orphan", orphan)).get()
        with pytest.raises(ValueError, match="child_name='misnamed'"):
            proxy.start_child(ChildSpec("misnamed", misnamed)).get()
        with pytest.raises(TypeError, match="not a SupervisedActor"):
            proxy.start_child(ChildSpec("plain", plain)).get()
        assert children(sup) == {}
        assert pykka.ActorRegistry.get_all() == [sup]
    finally:
        sup.stop()


def test_a_forged_or_stale_child_down_is_ignored() -> None:
    journal, events = Journal(), Events()
    sup = Supervisor.start([worker("a", journal)], on_child_event=events)
    try:
        first = children(sup)["a"]
        first.tell("crash")
        wait_until(lambda: events.of(ChildEvent.RESTARTED), what="restart")
        second = children(sup)["a"]

        sup.tell(ChildDown("a", first.actor_urn, Crash("late news")))  # the incarnation already replaced
        sup.tell(ChildDown("a", "urn:uuid:00000000-0000-0000-0000-000000000000", None))
        sup.tell(ChildDown("ghost", "urn:uuid:11111111-1111-1111-1111-111111111111", Crash("?")))

        assert children(sup)["a"] == second  # answered after the three reports were handled
        assert sup.proxy().restarts("a").get() == 1
        assert len(events.of(ChildEvent.EXITED)) == 1
        assert second.is_alive()
    finally:
        sup.stop()


class HoldableSupervisor(Supervisor):
    """A supervisor that can be kept busy, so reports queue up behind a chosen message."""

    def hold(self, release: threading.Event) -> None:
        release.wait(2)


def wait_exited(ref: pykka.ActorRef[Any]) -> None:
    # The lifecycle entry goes only after the ChildDown has been sent.
    wait_until(lambda: not ref.is_alive() and lifecycle_of(ref) is None, what=f"{ref} exited")


def test_crash_report_arriving_after_terminate_child_is_ignored() -> None:
    journal, events = Journal(), Events()
    sup = HoldableSupervisor.start([worker("a", journal), worker("b", journal)], on_child_event=events)
    proxy = sup.proxy()
    try:
        b = children(sup)["b"]
        release = threading.Event()
        proxy.hold(release)
        terminated = proxy.terminate_child("b")  # queued before b's ChildDown
        b.tell("crash")
        wait_exited(b)
        release.set()

        assert terminated.get(timeout=2) is True
        assert list(children(sup)) == ["a"]
        assert events.of(ChildEvent.RESTARTED) == []
        assert events.of(ChildEvent.EXITED) == []
    finally:
        sup.stop()


def test_second_crash_report_from_a_group_already_restarted_is_ignored() -> None:
    journal, events = Journal(), Events()
    sup = HoldableSupervisor.start(
        [worker(n, journal) for n in "abc"], strategy=Strategy.ONE_FOR_ALL, on_child_event=events
    )
    proxy = sup.proxy()
    try:
        a, b = children(sup)["a"], children(sup)["b"]
        release = threading.Event()
        proxy.hold(release)
        a.tell("crash")
        wait_exited(a)  # one at a time, so a's report is queued first
        b.tell("crash")
        wait_exited(b)
        release.set()

        wait_until(lambda: len(events.of(ChildEvent.RESTARTED)) == 3, what="group restart")
        assert list(children(sup)) == ["a", "b", "c"]  # also lets the supervisor handle b's report
        assert [proxy.restarts(n).get() for n in "abc"] == [1, 1, 1]
        assert [n for n, _ in events.of(ChildEvent.EXITED)] == ["a"]
    finally:
        sup.stop()


def test_restart_delay_keeps_the_child_out_until_it_restarts() -> None:
    journal, events = Journal(), Events()
    sup = Supervisor.start([worker("a", journal), worker("b", journal)], restart_delay=0.1, on_child_event=events)
    try:
        crashed_at = time.monotonic()
        children(sup)["a"].tell("crash")
        wait_until(lambda: events.of(ChildEvent.EXITED), what="exit seen")
        assert list(children(sup)) == ["b"]
        assert sup.proxy().child("a").get() is None
        wait_until(lambda: events.of(ChildEvent.RESTARTED), what="delayed restart")
        assert time.monotonic() - crashed_at >= 0.1
        assert list(children(sup)) == ["a", "b"]
    finally:
        sup.stop()


def test_stopping_while_a_restart_is_pending_leaks_nothing() -> None:
    journal, events = Journal(), Events()
    sup = Supervisor.start([worker("a", journal), worker("b", journal)], restart_delay=0.15, on_child_event=events)
    children(sup)["a"].tell("crash")
    wait_until(lambda: events.of(ChildEvent.EXITED), what="exit seen")

    sup.stop()

    assert [t for t in threading.enumerate() if isinstance(t, threading.Timer)] == []
    assert actor_threads("Worker-") == []
    time.sleep(0.2)  # past the restart delay: nothing may start now
    assert journal.names("start") == ["a", "b"]
    assert events.of(ChildEvent.RESTARTED) == []


def test_a_failed_delayed_restart_is_retried_after_the_delay() -> None:
    journal, events = Journal(), Events()
    fails = iter([False, True, False])

    def start(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        if next(fails):
            raise OSError("not yet")
        return Worker.start(journal, parent=parent, child_name="a")

    sup = Supervisor.start([ChildSpec("a", start)], restart_delay=0.02, max_restarts=5, on_child_event=events)
    try:
        children(sup)["a"].tell("crash")
        wait_until(lambda: events.of(ChildEvent.RESTARTED), what="restart after a failed attempt")
        assert [type(r) for _, r in events.of(ChildEvent.START_FAILED)] == [OSError]
        assert sup.proxy().restarts("a").get() == 1
    finally:
        sup.stop()


class ObservingSupervisor(Supervisor):
    """Overrides pykka hooks without calling super(): supervision must not depend on them."""

    def __init__(self, journal: Journal, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.journal = journal
        self.seen: list[tuple[str, str]] = []

    def on_start(self) -> None:
        self.journal.record("start", f"sup saw {[n for n, _ in self.which_children()]}")

    def on_stop(self) -> None:
        self.journal.record("stop", "sup")

    def on_receive(self, message: Any) -> Any:
        return f"echo {message}"

    def on_child_event(self, name: str, event: ChildEvent, reason: BaseException | None) -> None:
        self.seen.append((name, str(event)))
        if event is ChildEvent.RESTARTED:
            raise RuntimeError("a broken observer must not break the tree")


def test_subclass_hooks_need_no_super_calls() -> None:
    journal = Journal()
    sup = ObservingSupervisor.start(journal, [worker("a", journal), worker("b", journal)])
    try:
        assert sup.ask("hi", timeout=2) == "echo hi"
        children(sup)["a"].tell("crash")
        wait_until(lambda: ("a", "restarted") in sup.proxy().seen.get(), what="restart observed")
        assert sup.is_alive()
        assert list(children(sup)) == ["a", "b"]
    finally:
        sup.stop()
    assert journal.entries()[:3] == [("start", "a"), ("start", "b"), ("start", "sup saw ['a', 'b']")]
    assert journal.entries()[-3:] == [("stop", "b"), ("stop", "a"), ("stop", "sup")]


class SelfStarter(SupervisedActor):
    def on_receive(self, message: Any) -> Any:
        raise Crash("no parent to tell")


def test_an_actor_without_parent_just_stops() -> None:
    ref = SelfStarter.start()
    ref.tell("anything")
    wait_until(lambda: not ref.is_alive(), what="stopped")


def test_stop_quietly_works_on_any_actor_and_reports_a_stuck_one() -> None:
    plain = pykka.ThreadingActor.start()
    assert stop_quietly(plain, timeout=2) is True

    release = threading.Event()

    class Stuck(SupervisedActor):
        def on_receive(self, message: Any) -> Any:
            release.wait(2)

    stuck = Stuck.start()
    stuck.tell("block")
    assert stop_quietly(stuck, timeout=0.05) is False
    release.set()
    assert stop_quietly(stuck, timeout=2) is True


def test_transient_child_is_restarted_after_each_failure() -> None:
    journal, events = Journal(), Events()
    sup = Supervisor.start([worker("t", journal, Restart.TRANSIENT)], on_child_event=events)
    try:
        for restarted in (1, 2):
            children(sup)["t"].tell("crash")
            wait_until(lambda: len(events.of(ChildEvent.RESTARTED)) == restarted, what="restart")  # noqa: B023
        assert sup.proxy().restarts("t").get() == 2
    finally:
        sup.stop()


def test_duplicate_child_names_are_refused() -> None:
    journal = Journal()
    with pytest.raises(ValueError, match="duplicate child name 'a'"):
        Supervisor.start([worker("a", journal), worker("a", journal)])
    assert journal.entries() == []


class BrokenInit(SupervisedActor):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        raise RuntimeError("bad argument")


def test_an_actor_that_never_started_leaves_no_lifecycle_behind() -> None:
    from level4.supervision import supervised

    before = set(supervised._lifecycles)
    with pytest.raises(RuntimeError):
        BrokenInit.start()
    gc.collect()
    assert set(supervised._lifecycles) == before
