"""The collector's settings for the service process: young collections rare
enough that a backlog's objects die young, and start-up's objects out of every
full scan (level4/service/gc_policy.py; the figures are in the Live pipeline)."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from level4.service import gc_policy
from tests.client.live_service import free_port, serve, stop
from tests.support import wait_for


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc_policy.release()
    gc.set_threshold(*thresholds)


def test_apply_sets_the_thresholds_and_freezes_what_exists(restored_collector: None) -> None:
    gc.unfreeze()
    survivor = [{"made": "before"}]  # a container the collector tracks
    gc_policy.apply()
    assert gc.get_threshold() == gc_policy.THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert not any(obj is survivor for obj in gc.get_objects())  # frozen: in no generation scanned
    assert survivor[0]["made"] == "before"
    gc_policy.release()
    assert gc.get_freeze_count() == 0
    assert any(obj is survivor for obj in gc.get_objects())  # scanned again


class _Node:
    me: object


def test_garbage_of_start_up_is_collected_not_frozen(restored_collector: None) -> None:
    gc.unfreeze()
    gc.disable()  # nothing collects the cycle before apply() does
    try:
        node = _Node()
        node.me = node  # garbage only the cyclic collector frees
        alive = weakref.ref(node)
        del node
        assert alive() is not None
        gc_policy.apply()
        assert alive() is None  # collected, not frozen for the life of the process
    finally:
        gc.enable()


def test_level4_serve_applies_it_once_started(tmp_path: Path) -> None:
    proc = serve(f"sqlite:///{tmp_path / 'c.sqlite3'}", free_port(), tmp_path)  # returns once healthy
    try:

        def policy() -> dict[str, object] | None:
            for line in (tmp_path / "serve.log").read_text().splitlines():
                if line.startswith("{") and (event := json.loads(line)).get("event") == "gc_policy":
                    return event
            return None

        event = wait_for(policy, timeout=10, what="the gc_policy line")
        assert event["thresholds"] == list(gc_policy.THRESHOLDS)
        assert isinstance(event["frozen_objects"], int) and event["frozen_objects"] > 10_000
    finally:
        stop(proc)
