"""PERMANENT, TRANSIENT and TEMPORARY children after a failure and after a normal stop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from level4.supervision import ChildEvent, Restart, Strategy, Supervisor

from .supervision_helpers import Events, Journal, children, wait_until, worker


@pytest.fixture
def tree() -> Iterator[tuple[pykka.ActorRef[Any], Journal, Events]]:
    journal, events = Journal(), Events()
    sup = Supervisor.start(
        [
            worker("permanent", journal, Restart.PERMANENT),
            worker("transient", journal, Restart.TRANSIENT),
            worker("temporary", journal, Restart.TEMPORARY),
        ],
        max_restarts=10,
        on_child_event=events,
    )
    yield sup, journal, events
    sup.stop()


def exited(events: Events, name: str) -> int:
    return sum(1 for n, _ in events.of(ChildEvent.EXITED) if n == name)


@pytest.mark.parametrize("how", ["crash", "external_stop", "self_stop"])
def test_permanent_is_always_restarted(tree: tuple[pykka.ActorRef[Any], Journal, Events], how: str) -> None:
    sup, _, events = tree
    old = children(sup)["permanent"]
    if how == "crash":
        old.tell("crash")
    elif how == "external_stop":
        old.stop()
    else:
        old.tell("quit")
    wait_until(lambda: events.of(ChildEvent.RESTARTED), what="restart")
    new = children(sup)["permanent"]
    assert new.actor_urn != old.actor_urn
    assert sup.proxy().restarts("permanent").get() == 1
    ((name, reason),) = events.of(ChildEvent.EXITED)
    assert name == "permanent"
    assert (reason is None) == (how != "crash"), "a normal stop is reported with no reason"


def test_transient_is_restarted_after_a_failure(tree: tuple[pykka.ActorRef[Any], Journal, Events]) -> None:
    sup, _, events = tree
    old = children(sup)["transient"]
    old.tell("crash")
    wait_until(lambda: events.of(ChildEvent.RESTARTED), what="restart")
    assert children(sup)["transient"].actor_urn != old.actor_urn


@pytest.mark.parametrize("how", ["external_stop", "self_stop"])
def test_transient_is_not_restarted_after_a_normal_stop(
    tree: tuple[pykka.ActorRef[Any], Journal, Events], how: str
) -> None:
    sup, _, events = tree
    ref = children(sup)["transient"]
    if how == "external_stop":
        ref.stop()
    else:
        ref.tell("quit")
    wait_until(lambda: exited(events, "transient") == 1, what="exit seen")
    assert list(children(sup)) == ["permanent", "temporary"]
    assert sup.proxy().child("transient").get() is None
    assert events.of(ChildEvent.RESTARTED) == []


@pytest.mark.parametrize("how", ["crash", "external_stop"])
def test_temporary_is_never_restarted(tree: tuple[pykka.ActorRef[Any], Journal, Events], how: str) -> None:
    sup, _, events = tree
    ref = children(sup)["temporary"]
    if how == "crash":
        ref.tell("crash")
    else:
        ref.stop()
    wait_until(lambda: exited(events, "temporary") == 1, what="exit seen")
    assert list(children(sup)) == ["permanent", "transient"]
    assert events.of(ChildEvent.RESTARTED) == []
    with pytest.raises(KeyError):
        sup.proxy().restarts("temporary").get()


def test_group_restart_drops_temporary_siblings() -> None:
    journal, events = Journal(), Events()
    sup = Supervisor.start(
        [worker("a", journal), worker("tmp", journal, Restart.TEMPORARY), worker("c", journal)],
        strategy=Strategy.ONE_FOR_ALL,
        on_child_event=events,
    )
    try:
        children(sup)["a"].tell("crash")
        wait_until(lambda: len(events.of(ChildEvent.RESTARTED)) == 2, what="group restart")
        assert list(children(sup)) == ["a", "c"]
    finally:
        sup.stop()


def test_group_restart_skipped_when_the_child_is_not_restarted() -> None:
    journal, events = Journal(), Events()
    sup = Supervisor.start(
        [worker("a", journal), worker("t", journal, Restart.TRANSIENT), worker("c", journal)],
        strategy=Strategy.ONE_FOR_ALL,
        on_child_event=events,
    )
    try:
        before = children(sup)
        before["t"].stop()
        wait_until(lambda: exited(events, "t") == 1, what="exit seen")
        after = children(sup)
        assert list(after) == ["a", "c"]
        assert [r.actor_urn for r in after.values()] == [before["a"].actor_urn, before["c"].actor_urn]
    finally:
        sup.stop()
