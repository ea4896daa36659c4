"""The runtime part times what it says: the same actors on each runtime, the pool restored after."""

from __future__ import annotations

import pykka
import pytest

from benchmarks import runtime
from level4.supervision import scheduler
from level4.supervision.pykka_adapter import PoolInbox


def test_hops_time_both_runtimes_and_restore_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, type] = {}
    real_start = runtime.Hop.start

    def start(*args: object, **kwargs: object) -> pykka.ActorRef[runtime.Hop]:
        ref = real_start(*args, **kwargs)
        seen["pool" if scheduler.pool() is not None else "threads"] = type(ref.actor_inbox)
        return ref

    monkeypatch.setattr(runtime.Hop, "start", start)
    costs = runtime.hops(200)
    assert set(costs) == {"threads", "pool"}
    assert all(0 < cost < 0.01 for cost in costs.values())
    assert seen["pool"] is PoolInbox and seen["threads"] is not PoolInbox
    assert scheduler.pool() is not None
    assert pykka.ActorRegistry.get_all() == []


def test_context_switches_are_counted_for_every_thread() -> None:
    assert runtime.context_switches() > 0
