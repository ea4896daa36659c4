"""Each fault the simulator injects, against one venue of each integrity
family (sequence numbers, checksums, REST snapshots, none), through the
running service over real sockets: the fault is noticed the way it should
be, the book is never served as good while it is not, no actor crashes, and
once the faults stop the book equals the venue's reference book exactly."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from level4.simulator import faults as sim_faults
from level4.simulator.faults import FAMILIES, FAULTS, supported
from tests.resilience.venues import FaultyVenue, fast_feeds
from tests.support import running_service, wait_for

pytestmark = pytest.mark.slow

REPRESENTATIVES = {"sequence": "BYBIT", "checksum": "OKX", "rest": "BINANCE", "none": "GEMINI"}
CASES = [
    pytest.param(venue, fault, id=f"{family}-{venue}-{fault}")
    for family, venue in REPRESENTATIVES.items()
    for fault in FAULTS
    if fault in supported(venue)
]
# Every checksum venue gets its checksums corrupted: each computes them its own way. A
# venue's other APIs (VENUE/api: Kraken spot's v1, kept for replays) have their dialect tests.
CASES += [
    pytest.param(venue, "checksum", id=f"checksum-{venue}-checksum")
    for venue in FAMILIES["checksum"]
    if venue != REPRESENTATIVES["checksum"] and "/" not in venue
]

# Per book frame, except upgrade and slowsub (per connection) and rest (per request).
RATES = {"upgrade": 1.0, "slowsub": 1.0, "rest": 1.0}
PER_FRAME_RATE = 0.1


def test_every_family_has_a_representative_and_every_venue_a_family() -> None:
    assert set(REPRESENTATIVES) == set(FAMILIES)
    assert all(venue in FAMILIES[family] for family, venue in REPRESENTATIVES.items())
    import translations

    assert sorted({v.partition("/")[0] for venues in FAMILIES.values() for v in venues}) == translations.names()


@pytest.fixture(scope="module")
def venue_for(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], FaultyVenue]]:
    """One service for the module; each venue's simulator and market made on first use."""
    db = tmp_path_factory.mktemp("faults") / "catalogue.sqlite3"
    with fast_feeds(), ExitStack() as stack:
        service, url = stack.enter_context(running_service(f"sqlite:///{Path(db)}"))
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        made: dict[str, FaultyVenue] = {}

        def get(venue: str) -> FaultyVenue:
            if venue not in made:
                made[venue] = FaultyVenue(venue, service, api, stack)
            return made[venue]

        yield get


@pytest.mark.parametrize(("venue", "fault"), CASES)
def test_fault_is_noticed_and_the_book_repaired(
    venue_for: Callable[[str], FaultyVenue], venue: str, fault: str
) -> None:
    v = venue_for(venue)
    state = v.state()
    resyncs, reconnects, malformed, restarts = state.resyncs, state.reconnects, state.malformed, state.restarts
    first_event = len(v.statuses)
    v.faults(clear=True, **{fault: RATES.get(fault, PER_FRAME_RATE)})
    started = time.monotonic()
    v.enable()
    try:
        # Per-connection faults, and those that cost a connection, come one per connection.
        wanted = 2 if fault in ("upgrade", "rest", "disconnect") else 1 if fault in ("slowsub", "stall") else 3
        wait_for(lambda: v.injected(fault) >= wanted, timeout=15, what=f"{wanted} {fault} faults injected")
        for _ in range(5):
            v.assert_book_honest()
            time.sleep(0.02)

        def desyncs() -> list[str]:
            return [str(reason) for status, reason in v.statuses.since(first_event) if status == "desynchronised"]

        if fault in ("drop", "reorder", "checksum"):
            # the break is seen in the frames themselves: the book is cleared there and then
            wait_for(lambda: v.state().resyncs > resyncs, what="a resync")
            wait_for(desyncs, what="a desynchronised status event")
            if fault == "checksum":
                wait_for(lambda: any("checksum" in r for r in desyncs()), what="a checksum desync")
        elif fault == "disconnect":
            wait_for(lambda: v.state().reconnects > reconnects, what="a reconnect")
            wait_for(desyncs, what="a desynchronised status event")
        elif fault == "stall":
            wait_for(lambda: any("stale feed" in r for r in desyncs()), what="the watchdog's desync")
        elif fault == "garbage":
            wait_for(lambda: v.state().malformed > malformed, what="malformed frames counted")
        elif fault == "upgrade":
            wait_for(lambda: v.state().reconnects > reconnects, what="a refused upgrade retried")
        elif fault == "rest":
            wait_for(lambda: v.state().malformed > malformed, what="the failed snapshot counted")
            wait_for(lambda: v.state().reconnects > reconnects, what="a new connection for a new snapshot")
        elif fault == "slowsub":
            # held less than the watchdog allows: waited for, not mistaken for a dead feed
            wait_for(lambda: v.status() == "live", what="live")
            assert time.monotonic() - started >= sim_faults.SLOW_SUBSCRIBE
            assert v.state().reconnects == reconnects
        v.recover()
        assert v.injected(fault) >= wanted
        assert v.state().restarts == restarts, "a fault in the feed must never crash an actor"
    finally:
        v.faults(clear=True)
        v.enable(False)
