"""Real actors and polling helpers for the supervision tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pykka

from level4.supervision import ChildEvent, ChildSpec, Restart, SupervisedActor


class Crash(Exception):
    """What a Worker raises when told to crash."""


class Journal:
    """A thread-safe record of what actors did, in the order they did it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[str, str]] = []

    def record(self, what: str, name: str) -> None:
        with self._lock:
            self._entries.append((what, name))

    def entries(self, what: str | None = None) -> list[tuple[str, str]]:
        with self._lock:
            return [e for e in self._entries if what is None or e[0] == what]

    def names(self, what: str) -> list[str]:
        return [name for _, name in self.entries(what)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Events:
    """Collects a supervisor's on_child_event calls (made in its thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[tuple[str, ChildEvent, BaseException | None]] = []

    def __call__(self, name: str, event: ChildEvent, reason: BaseException | None) -> None:
        with self._lock:
            self._events.append((name, event, reason))

    def all(self) -> list[tuple[str, ChildEvent, BaseException | None]]:
        with self._lock:
            return list(self._events)

    def of(self, event: ChildEvent) -> list[tuple[str, BaseException | None]]:
        return [(name, reason) for name, e, reason in self.all() if e is event]


class Worker(SupervisedActor):
    """Records its start and stop; `tell("crash")` makes it fail, `tell("quit")` stop itself."""

    def __init__(self, journal: Journal, *, fail_on_start: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.journal = journal
        self.fail_on_start = fail_on_start

    def on_start(self) -> None:
        self.journal.record("start", self.child_name)
        if self.fail_on_start:
            raise Crash(f"{self.child_name} cannot start")

    def on_stop(self) -> None:
        self.journal.record("stop", self.child_name)

    def on_failure(self, *_exc_info: object) -> None:
        self.journal.record("failure", self.child_name)

    def on_receive(self, message: Any) -> Any:
        if message == "crash":
            raise Crash(f"{self.child_name} crashed")
        if message == "quit":
            self.stop()
            return None
        if message == "ping":
            return "pong"
        return super().on_receive(message)


def worker(
    name: str, journal: Journal, restart: Restart = Restart.PERMANENT, *, fail_on_start: bool = False
) -> ChildSpec:
    return ChildSpec.for_actor(name, Worker, journal, restart=restart, fail_on_start=fail_on_start)


def wait_until(predicate: Callable[[], object], timeout: float = 2.0, what: str = "condition") -> None:
    """Poll briefly instead of sleeping long; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


def children(sup: pykka.ActorRef[Any]) -> dict[str, pykka.ActorRef[Any]]:
    """The supervisor's running children, asked through its proxy."""
    return dict(sup.proxy().which_children().get(timeout=2))


def urns(sup: pykka.ActorRef[Any]) -> dict[str, str]:
    return {name: ref.actor_urn for name, ref in children(sup).items()}
