"""Kraken spot under a run of disconnects: each cut of a synchronised book is
followed by a new connection and a fresh snapshot within moments, as on the
other venues, for as long as Kraken's connection budget lasts (about 150
attempts in 10 minutes, translations/kraken.py), and the book ends equal to
the venue's; its checksums still catch a book that went wrong."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from level4.net import venue_limiter
from tests.resilience.venues import FaultyVenue, fast_feeds
from tests.support import running_service, wait_for

pytestmark = pytest.mark.slow

CUTS = 20  # reconnects in a few seconds: more than a pace of one a second would let through
LONGEST = 2.0  # seconds from a cut to the book synchronised again: a reconnect held by the limiter shows


def test_kraken_resynchronises_at_once_after_every_cut_and_its_book_stays_exact(tmp_path: Path) -> None:
    venue_limiter.reset()  # this test's connects alone in the venue's window
    gaps: list[float] = []
    with fast_feeds(), running_service(f"sqlite:///{tmp_path / 'k.sqlite3'}") as (service, url), ExitStack() as stack:
        api = stack.enter_context(httpx.Client(base_url=url, timeout=15))
        v = FaultyVenue("KRAKEN", service, api, stack)
        timed: list[tuple[float, str]] = []  # (when, status) of the market's status events

        def note(event: dict[str, Any]) -> None:
            if event.get("channel") == "status" and event.get("market_id") == v.market_id:
                timed.append((time.monotonic(), str(event.get("status"))))

        stack.callback(service.hub.subscribe(note))
        v.enable()
        wait_for(lambda: v.status() == "live", what="Kraken live")
        first_event = len(timed)
        v.faults(disconnect=0.1)
        try:
            wait_for(lambda: v.injected("disconnect") >= CUTS, timeout=60, what=f"{CUTS} cuts")
        finally:
            v.faults(clear=True)
        v.recover()  # the served book equals the venue's reference

        lost_at: float | None = None
        for at, status in timed[first_event:]:
            if status == "desynchronised" and lost_at is None:
                lost_at = at
            elif status == "synchronised" and lost_at is not None:
                gaps.append(at - lost_at)
                lost_at = None
        assert len(gaps) >= CUTS, gaps
        assert max(gaps) <= LONGEST, gaps

        # Exact, not papered over: a corrupted checksum still costs the pair a resync.
        resyncs = v.state().resyncs
        v.faults(checksum=0.05)
        try:
            wait_for(lambda: v.state().resyncs > resyncs, timeout=30, what="a checksum mismatch resynced")
        finally:
            v.faults(clear=True)
        v.recover()
    venue_limiter.reset()  # the tests that follow start from an empty window too
