"""Every venue's dialect under every fault it supports at once, all in one
service: the market of a venue that is failing never disturbs the others,
no actor crashes, and when the faults stop every book equals its venue's
reference book."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from level4.simulator.faults import FAULTS, supported
from tests.resilience.venues import VENUES, FaultyVenue, fast_feeds
from tests.support import running_service, wait_for

pytestmark = pytest.mark.slow

PER_CONNECTION = {"upgrade": 0.3, "slowsub": 0.3, "rest": 0.3}
PER_FRAME = {"disconnect": 0.004, "stall": 0.004}  # each costs a connection
OTHER_FRAME_FAULTS = 0.02


def rates_for(venue: str) -> dict[str, float]:
    return {f: PER_CONNECTION.get(f, PER_FRAME.get(f, OTHER_FRAME_FAULTS)) for f in FAULTS if f in supported(venue)}


def test_every_venue_recovers_from_all_its_faults(tmp_path: Path) -> None:
    with fast_feeds(), ExitStack() as stack:
        service, url = stack.enter_context(running_service(f"sqlite:///{tmp_path / 'all.sqlite3'}"))
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        venues = [FaultyVenue(venue, service, api, stack, rate=150) for venue in VENUES]
        for v in venues:
            v.faults(clear=True, **rates_for(v.venue))
            v.enable()
        # at least a few seconds, and until every kind of fault has been met somewhere
        started = time.monotonic()
        while True:
            for v in venues:
                v.assert_book_honest()
            injected = {v.venue: v.faults()["injected"] for v in venues}
            met = {f for counts in injected.values() for f in counts}
            if time.monotonic() - started > 4 and met == set(FAULTS):
                break
            assert time.monotonic() - started < 30, f"never injected: {set(FAULTS) - met}"
            time.sleep(0.05)
        for v in venues:
            v.faults(clear=True)
        failures: dict[str, str] = {}
        for v in venues:
            try:
                v.recover()
            except AssertionError as exc:
                failures[v.venue] = f"{exc}; injected {injected[v.venue]}; {v.state()}"
        assert failures == {}
        for v in venues:
            state = v.state()
            assert state.restarts == 0, (v.venue, state)
            assert sum(injected[v.venue].values()) > 0, v.venue
            # every kind of trouble was met somewhere, and noticed
            assert state.resyncs + state.reconnects + state.malformed > 0, (v.venue, injected[v.venue], state)
        wait_for(lambda: all(v.status() == "live" for v in venues), what="all live")
