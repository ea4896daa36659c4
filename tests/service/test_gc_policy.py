"""The collector's settings for the service process: young collections rare
enough that a backlog's objects die young, and start-up's objects out of every
full scan (level4/service/gc_policy.py; the figures are in the Live pipeline)."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from level4.service import gc_policy
from tests.client.live_service import free_port
from tests.support import wait_for


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_apply_sets_the_thresholds_and_freezes_what_exists(restored_collector: None) -> None:
    gc.unfreeze()
    survivor = [{"made": "before"}]  # a container the collector tracks
    gc_policy.apply()
    assert gc.get_threshold() == gc_policy.THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert not any(obj is survivor for obj in gc.get_objects())  # frozen: in no generation scanned
    assert survivor[0]["made"] == "before"


def test_level4_serve_applies_it_once_started(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEL4_")}
    env |= {"LEVEL4_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}", "LEVEL4_PORT": str(port)}
    log = tmp_path / "serve.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "level4", "serve"], env=env, stdout=out, stderr=out, cwd=tmp_path
        )
    try:

        def policy() -> dict[str, object] | None:
            for line in log.read_text().splitlines():
                if line.startswith("{") and (event := json.loads(line)).get("event") == "gc_policy":
                    return event
            assert proc.poll() is None, log.read_text()
            return None

        event = wait_for(policy, timeout=30, what="the gc_policy line")
        assert event["thresholds"] == list(gc_policy.THRESHOLDS)
        assert isinstance(event["frozen_objects"], int) and event["frozen_objects"] > 10_000
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
