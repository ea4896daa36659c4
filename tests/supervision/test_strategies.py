"""Which children a strategy restarts, and in what order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from level4.supervision import ChildEvent, Strategy, Supervisor

from .supervision_helpers import Events, Journal, children, urns, wait_until, worker


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def events() -> Events:
    return Events()


def start_tree(strategy: Strategy, journal: Journal, events: Events, names: str = "abcd") -> pykka.ActorRef[Any]:
    return Supervisor.start(
        [worker(n, journal) for n in names], strategy=strategy, max_restarts=5, on_child_event=events
    )


@pytest.fixture
def stopper() -> Iterator[list[pykka.ActorRef[Any]]]:
    refs: list[pykka.ActorRef[Any]] = []
    yield refs
    for ref in refs:
        ref.stop()


def crash_and_wait(sup: pykka.ActorRef[Any], name: str, events: Events, restarted: int) -> None:
    children(sup)[name].tell("crash")
    wait_until(lambda: len(events.of(ChildEvent.RESTARTED)) == restarted, what=f"{restarted} restarts")


def test_children_start_in_order_before_any_message(journal: Journal, events: Events, stopper: list[Any]) -> None:
    sup = start_tree(Strategy.ONE_FOR_ONE, journal, events)
    stopper.append(sup)
    # which_children is answered after the start phase, so every child is up by then.
    assert list(children(sup)) == ["a", "b", "c", "d"]
    assert journal.names("start") == ["a", "b", "c", "d"]
    assert events.of(ChildEvent.STARTED) == [(n, None) for n in "abcd"]


def test_one_for_one_restarts_only_the_crashed_child(journal: Journal, events: Events, stopper: list[Any]) -> None:
    sup = start_tree(Strategy.ONE_FOR_ONE, journal, events)
    stopper.append(sup)
    before = urns(sup)
    journal.clear()

    crash_and_wait(sup, "b", events, restarted=1)

    after = urns(sup)
    assert after["b"] != before["b"]
    assert {n: u for n, u in after.items() if n != "b"} == {n: u for n, u in before.items() if n != "b"}
    assert journal.entries() == [("failure", "b"), ("start", "b")]
    assert list(after) == ["a", "b", "c", "d"], "a restarted child keeps its place"
    proxy = sup.proxy()
    assert [proxy.restarts(n).get() for n in "abcd"] == [0, 1, 0, 0]
    ((name, reason),) = events.of(ChildEvent.RESTARTED)
    assert name == "b" and isinstance(reason, Exception) and str(reason) == "b crashed"
    assert children(sup)["b"].ask("ping", timeout=2) == "pong"


def test_one_for_all_restarts_every_child_in_order(journal: Journal, events: Events, stopper: list[Any]) -> None:
    sup = start_tree(Strategy.ONE_FOR_ALL, journal, events)
    stopper.append(sup)
    before = urns(sup)
    journal.clear()

    crash_and_wait(sup, "b", events, restarted=4)

    after = urns(sup)
    assert all(after[n] != before[n] for n in "abcd")
    # The others stop last-started first, then all start again in order.
    assert journal.entries() == [
        ("failure", "b"),
        ("stop", "d"),
        ("stop", "c"),
        ("stop", "a"),
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
        ("start", "d"),
    ]
    assert events.of(ChildEvent.TERMINATED) == [("d", None), ("c", None), ("a", None)]
    assert [n for n, _ in events.of(ChildEvent.RESTARTED)] == ["a", "b", "c", "d"]
    assert [sup.proxy().restarts(n).get() for n in "abcd"] == [1, 1, 1, 1]


def test_rest_for_one_restarts_the_child_and_those_after_it(
    journal: Journal, events: Events, stopper: list[Any]
) -> None:
    sup = start_tree(Strategy.REST_FOR_ONE, journal, events)
    stopper.append(sup)
    before = urns(sup)
    journal.clear()

    crash_and_wait(sup, "b", events, restarted=3)

    after = urns(sup)
    assert after["a"] == before["a"]
    assert all(after[n] != before[n] for n in "bcd")
    assert journal.entries() == [
        ("failure", "b"),
        ("stop", "d"),
        ("stop", "c"),
        ("start", "b"),
        ("start", "c"),
        ("start", "d"),
    ]
    assert [sup.proxy().restarts(n).get() for n in "abcd"] == [0, 1, 1, 1]


def test_rest_for_one_last_child_restarts_alone(journal: Journal, events: Events, stopper: list[Any]) -> None:
    sup = start_tree(Strategy.REST_FOR_ONE, journal, events)
    stopper.append(sup)
    before = urns(sup)
    journal.clear()

    crash_and_wait(sup, "d", events, restarted=1)

    after = urns(sup)
    assert [n for n in "abcd" if after[n] != before[n]] == ["d"]
    assert journal.entries() == [("failure", "d"), ("start", "d")]
