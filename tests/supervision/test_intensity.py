"""Restart intensity, giving up, and escalation up a tree of supervisors."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from level4.supervision import ChildEvent, ChildSpec, Restart, Strategy, Supervisor, SupervisorGaveUp

from .supervision_helpers import Crash, Events, Journal, Worker, children, wait_until, worker


class GiveUps:
    def __init__(self) -> None:
        self.reasons: list[BaseException] = []
        self.done = threading.Event()

    def __call__(self, reason: BaseException) -> None:
        self.reasons.append(reason)
        self.done.set()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def crash(sup: pykka.ActorRef[Any], name: str, events: Events, restarted: int) -> None:
    children(sup)[name].tell("crash")
    wait_until(lambda: len(events.of(ChildEvent.RESTARTED)) >= restarted, what=f"{restarted} restarts")


def test_exceeding_intensity_stops_children_in_reverse_order_and_calls_on_give_up() -> None:
    journal, events, give_ups = Journal(), Events(), GiveUps()
    sup = Supervisor.start(
        [worker(n, journal) for n in "abc"],
        max_restarts=2,
        max_seconds=60,
        on_child_event=events,
        on_give_up=give_ups,
        child_name="root",
    )
    crash(sup, "b", events, 1)
    crash(sup, "b", events, 2)
    journal.clear()

    children(sup)["b"].tell("crash")

    assert give_ups.done.wait(2)
    wait_until(lambda: not sup.is_alive(), what="supervisor down")
    assert journal.entries() == [("failure", "b"), ("stop", "c"), ("stop", "a")]
    (reason,) = give_ups.reasons
    assert isinstance(reason, SupervisorGaveUp)
    assert reason.supervisor == "root" and reason.child == "b"
    assert isinstance(reason.cause, Crash) and reason.__cause__ is reason.cause
    assert "more than 2 restarts in 60s" in str(reason)
    assert events.of(ChildEvent.GAVE_UP) == [("b", reason)]
    assert [n for n, _ in events.of(ChildEvent.TERMINATED)] == ["c", "a"]
    assert pykka.ActorRegistry.get_all() == []


def test_zero_max_restarts_gives_up_on_the_first_failure() -> None:
    journal, give_ups = Journal(), GiveUps()
    sup = Supervisor.start([worker("a", journal)], max_restarts=0, on_give_up=give_ups)
    children(sup)["a"].tell("crash")
    assert give_ups.done.wait(2)
    wait_until(lambda: not sup.is_alive(), what="supervisor down")


def test_restarts_outside_the_window_do_not_accumulate() -> None:
    journal, events, give_ups, clock = Journal(), Events(), GiveUps(), FakeClock()
    sup = Supervisor.start(
        [worker("a", journal)], max_restarts=2, max_seconds=10, clock=clock, on_child_event=events, on_give_up=give_ups
    )
    try:
        for i in range(1, 7):
            crash(sup, "a", events, i)
            clock.now += 6  # two restarts at most ever fall within 10 s
        assert give_ups.reasons == []
        assert sup.proxy().restarts("a").get() == 6

        # Three restarts within the window: the third one is over the limit.
        clock.now += 100
        crash(sup, "a", events, 7)
        crash(sup, "a", events, 8)
        children(sup)["a"].tell("crash")
        assert give_ups.done.wait(2)
    finally:
        sup.stop()


def test_a_group_restart_counts_once() -> None:
    journal, events, give_ups = Journal(), Events(), GiveUps()
    sup = Supervisor.start(
        [worker(n, journal) for n in "abc"],
        strategy=Strategy.ONE_FOR_ALL,
        max_restarts=1,
        max_seconds=60,
        on_child_event=events,
        on_give_up=give_ups,
    )
    try:
        crash(sup, "a", events, 3)
        assert give_ups.reasons == []
        assert sup.is_alive()
    finally:
        sup.stop()


def test_a_child_failing_in_on_start_during_restart_counts_towards_intensity() -> None:
    journal, events, give_ups = Journal(), Events(), GiveUps()
    attempts = iter([False, True, True, True, True])  # first start fine, every restart fails in on_start

    def start(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        return Worker.start(journal, fail_on_start=next(attempts), parent=parent, child_name="flaky")

    sup = Supervisor.start(
        [ChildSpec("flaky", start), worker("steady", journal)],
        max_restarts=3,
        max_seconds=60,
        on_child_event=events,
        on_give_up=give_ups,
    )
    children(sup)["flaky"].tell("crash")
    assert give_ups.done.wait(2)
    # The crash plus three restarts that failed in on_start: the fourth restart is one too many.
    assert [n for n, _ in events.of(ChildEvent.EXITED)] == ["flaky"] * 4
    assert [type(r) for _, r in events.of(ChildEvent.EXITED)] == [Crash] * 4
    wait_until(lambda: not sup.is_alive(), what="supervisor down")


def test_a_start_function_raising_during_restart_counts_towards_intensity() -> None:
    journal, events, give_ups = Journal(), Events(), GiveUps()
    calls = 0

    def start(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise OSError("venue unreachable")
        return Worker.start(journal, parent=parent, child_name="feed")

    sup = Supervisor.start(
        [worker("first", journal), ChildSpec("feed", start), worker("last", journal)],
        strategy=Strategy.REST_FOR_ONE,
        max_restarts=3,
        max_seconds=60,
        on_child_event=events,
        on_give_up=give_ups,
    )
    children(sup)["feed"].tell("crash")
    assert give_ups.done.wait(2)
    # One restart for the crash, then each failed start is another: 1 + 3 > 3.
    assert calls == 1 + 3
    assert [type(r) for _, r in events.of(ChildEvent.START_FAILED)] == [OSError] * 3
    assert isinstance(give_ups.reasons[0].__cause__, OSError)
    # "last" was stopped by the rest_for_one restart and never started again.
    assert journal.names("start") == ["first", "feed", "last"]
    assert journal.names("stop") == ["last", "first"]
    wait_until(lambda: not sup.is_alive(), what="supervisor down")


def test_a_root_that_cannot_start_a_child_gives_up_and_stops_the_others() -> None:
    journal, give_ups = Journal(), GiveUps()

    def broken(parent: pykka.ActorRef[Any]) -> pykka.ActorRef[Any]:
        raise RuntimeError("bad config")

    sup = Supervisor.start(
        [worker("a", journal), worker("b", journal), ChildSpec("broken", broken), worker("never", journal)],
        on_give_up=give_ups,
    )
    assert give_ups.done.wait(2)
    wait_until(lambda: not sup.is_alive(), what="supervisor down")
    assert journal.entries() == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]
    assert "could not start child 'broken'" in str(give_ups.reasons[0])


def nested(journal: Journal, inner_events: Events, **inner: Any) -> ChildSpec:
    return ChildSpec.for_actor(
        "inner",
        Supervisor,
        [worker("x", journal), worker("y", journal), worker("z", journal)],
        on_child_event=inner_events,
        **inner,
    )


def test_a_child_supervisor_giving_up_is_seen_and_restarted_by_its_parent() -> None:
    journal, outer_events, inner_events, give_ups = Journal(), Events(), Events(), GiveUps()
    root = Supervisor.start(
        [worker("a", journal), nested(journal, inner_events, max_restarts=0), worker("b", journal)],
        max_restarts=5,
        on_child_event=outer_events,
        on_give_up=give_ups,
        child_name="root",
    )
    try:
        inner = children(root)["inner"]
        y = children(inner)["y"]  # the inner tree starts its children in its own thread: wait for them
        journal.clear()
        y.tell("crash")

        wait_until(lambda: outer_events.of(ChildEvent.RESTARTED), what="inner restarted")
        ((name, reason),) = outer_events.of(ChildEvent.EXITED)
        assert name == "inner"
        assert isinstance(reason, SupervisorGaveUp) and reason.child == "y"
        new_inner = children(root)["inner"]
        assert new_inner.actor_urn != inner.actor_urn
        assert list(children(new_inner)) == ["x", "y", "z"]  # also waits for the new tree's start phase
        # The inner tree stopped its remaining children in reverse order, then started afresh.
        assert journal.entries() == [
            ("failure", "y"),
            ("stop", "z"),
            ("stop", "x"),
            ("start", "x"),
            ("start", "y"),
            ("start", "z"),
        ]
        assert give_ups.reasons == []
        assert root.proxy().restarts("inner").get() == 1
    finally:
        root.stop()


def test_escalation_reaches_the_root_which_gives_up() -> None:
    journal, outer_events, inner_events, give_ups = Journal(), Events(), Events(), GiveUps()
    root = Supervisor.start(
        [worker("a", journal), nested(journal, inner_events, max_restarts=0)],
        max_restarts=0,
        on_child_event=outer_events,
        on_give_up=give_ups,
        child_name="root",
    )
    inner = children(root)["inner"]
    children(inner)["x"].tell("crash")

    assert give_ups.done.wait(2)
    wait_until(lambda: not root.is_alive(), what="root down")
    (root_reason,) = give_ups.reasons
    assert isinstance(root_reason, SupervisorGaveUp) and root_reason.child == "inner"
    inner_reason = root_reason.cause
    assert isinstance(inner_reason, SupervisorGaveUp) and inner_reason.supervisor == "inner"
    assert isinstance(inner_reason.cause, Crash)
    assert journal.names("stop") == ["z", "y", "a"]
    assert inner_events.of(ChildEvent.GAVE_UP)[0][0] == "x"


def test_transient_child_supervisor_that_gave_up_is_restarted_but_a_temporary_one_is_reported_only() -> None:
    journal, events = Journal(), Events()
    root = Supervisor.start(
        [
            ChildSpec.for_actor(
                "market", Supervisor, [worker("feed", journal)], max_restarts=0, restart=Restart.TEMPORARY
            )
        ],
        on_child_event=events,
    )
    try:
        children(children(root)["market"])["feed"].tell("crash")
        wait_until(lambda: events.of(ChildEvent.EXITED), what="market down")
        # What a market registry would show: the market failed, and why.
        ((name, reason),) = events.of(ChildEvent.EXITED)
        assert name == "market" and isinstance(reason, SupervisorGaveUp)
        assert children(root) == {}
        assert root.is_alive()
    finally:
        root.stop()


@pytest.mark.parametrize("kwargs", [{"max_restarts": -1}, {"max_seconds": 0}, {"restart_delay": -1}])
def test_bad_intensity_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Supervisor.start([], **kwargs)
