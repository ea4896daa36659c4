"""Every supervision test must leave no actor and no actor thread behind.

The scheduler pool's workers and its timer thread belong to the process, not
to a test: they are started once and not counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pykka
import pytest

from level4.supervision import scheduler


@pytest.fixture(autouse=True)
def no_leftover_actors() -> Iterator[None]:
    scheduler.pool()
    threads_before = set(threading.enumerate())
    yield
    leftover = pykka.ActorRegistry.get_all()
    if leftover:
        pykka.ActorRegistry.stop_all(timeout=5)
    assert leftover == [], f"actors still running: {leftover}"
    # Registry entries go before a thread ends; give the last threads a moment to finish.
    deadline = time.monotonic() + 2.0
    extra = {t for t in set(threading.enumerate()) - threads_before if not scheduler.is_scheduler_thread(t)}
    while extra and time.monotonic() < deadline:
        time.sleep(0.005)
        extra = {t for t in extra if t.is_alive() and not scheduler.is_scheduler_thread(t)}
    assert not extra, f"threads still running: {sorted(t.name for t in extra)}"
