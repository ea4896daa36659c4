"""The mirror through what goes wrong: a venue that cuts its feed, a service
that is stopped and started again, an event lost on the way to the client.
Each time the mirror says it is not synchronised while it is not, repairs
itself without help, and is exact again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from level4.client import BookMirror, BookView, Client, ReconnectPolicy
from tests.client.live_service import (
    SYMBOL,
    Live,
    exact_now,
    free_port,
    live_venue,
    same_book,
    serve,
    set_faults,
    stop,
)
from tests.resilience.venues import fast_feeds
from tests.stream.stream_markets import add_market
from tests.support import SimulatorThread, until

pytestmark = pytest.mark.slow

FAST = ReconnectPolicy(initial=0.05, maximum=0.5)


class Watch:
    """Every change of a mirror's `synchronised`, and the checks each synchronised state passed."""

    def __init__(self, book: BookMirror) -> None:
        self.states: list[bool] = [book.synchronised]
        self.reasons: list[str] = []  # why, each time it stopped being synchronised
        self.good_reads = 0
        self.violations: list[BookView] = []
        book.on_change(self._changed)

    def _changed(self, book: BookMirror) -> None:
        # (the client logs and survives a callback's exception: so violations are collected, not raised)
        view = book.view()
        if view.synchronised:  # whatever it holds while it says so is a whole, sorted, uncrossed book
            if not (view.bids and view.asks and view.bids[0].price < view.asks[0].price):
                self.violations.append(view)
            self.good_reads += 1
        elif view.bids or view.asks or not view.reason:
            self.violations.append(view)
        if view.synchronised != self.states[-1]:
            self.states.append(view.synchronised)
            if view.reason:
                self.reasons.append(view.reason)

    def losses(self) -> int:
        return sum(1 for before, after in zip(self.states, self.states[1:], strict=False) if before and not after)


async def test_a_venue_fault_makes_the_mirror_unsynchronised_until_it_is_repaired(tmp_path: Path) -> None:
    with fast_feeds(), live_venue(tmp_path) as live:
        async with Client(live.base) as client:
            book = await client.book(live.tag)
            await book.wait_synchronised(10)
            watch = Watch(book)
            set_faults(live.sim, disconnect=0.05)  # the venue cuts its feed every 20 book frames or so
            await until(lambda: watch.losses() >= 3, timeout=30, what="three losses of sync")
            set_faults(live.sim)
            await book.wait_synchronised(15)
            live.sim.pause()
            await until(lambda: exact_now(live, book), what="mirror == served book == reference")
            assert watch.states[-1] is True and watch.good_reads > 10 and not watch.violations
            # the venue's faults are the service's to repair: the client's connection never broke
            assert client.connection.sessions == 1 and client.connection.gaps == 0


async def test_a_restarted_service_is_rejoined_and_the_mirror_exact_again(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'l4.sqlite3'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with SimulatorThread("coinbase", [SYMBOL, "ETH-USD"], rate=300) as sim:
        proc = serve(db_url, port, tmp_path)
        try:
            with httpx.Client(base_url=base, timeout=10) as api:
                market = add_market(api, "COINBASE", sim, "BTC", "USD")
                live = Live(None, base, api, sim, market)
                async with Client(base, reconnect=FAST) as client:
                    book = await client.book(live.tag)
                    await book.wait_synchronised(10)
                    seen: list[dict[str, Any]] = []

                    async def collect() -> None:
                        async for event in client.events(["COINBASE.SPOT:*"], channels=["top"]):
                            seen.append(event)

                    feed = asyncio.create_task(collect())
                    await until(lambda: seen, what="a top event")
                    # a market the pattern chooses, added later: taken on the next (re)connection
                    add_market(api, "COINBASE", sim, "ETH", "USD")
                    first_sessions = client.connection.sessions

                    await asyncio.to_thread(stop, proc)  # off the loop: the client keeps running
                    await until(lambda: not client.connected, what="the client sees the service gone")
                    assert not book.synchronised and not book.bids and "disconnected" in (book.reason or "")
                    await asyncio.sleep(1.0)  # it keeps trying meanwhile, and the mirror stays unsynchronised
                    assert not book.synchronised

                    proc = await asyncio.to_thread(serve, db_url, port, tmp_path)  # the same port and catalogue
                    await book.wait_synchronised(20)
                    assert client.connection.sessions == first_sessions + 1
                    await until(
                        lambda: any(e["market"] == "COINBASE.SPOT:ETH-USD" for e in seen),
                        what="the pattern chose the new market after the reconnect",
                    )
                    sim.pause()
                    await until(lambda: exact_now(live, book), what="mirror == served book == reference")
                    feed.cancel()
                    await asyncio.gather(feed, return_exceptions=True)
        finally:
            stop(proc)


async def test_a_missing_sequence_brings_a_fresh_snapshot(tmp_path: Path) -> None:
    with live_venue(tmp_path) as live:
        async with Client(live.base) as client:
            book = await client.book(live.tag)
            await book.wait_synchronised(10)
            watch = Watch(book)
            connection = client.connection
            deliver = connection.deliver
            dropped: list[dict[str, Any]] = []

            def lossy(message: dict[str, Any]) -> None:
                # lose one book delta on the client's receive path
                if not dropped and message.get("channel") == "book" and not message["snapshot"]:
                    dropped.append(message)
                    return
                deliver(message)

            connection.deliver = lossy  # type: ignore[method-assign]
            await until(lambda: dropped, what="a delta dropped")
            await until(lambda: watch.losses() == 1, what="the gap noticed")
            assert connection.gaps == 1
            lost = dropped[0]["sequence"]
            assert watch.reasons == [f"lost events (sequence {lost - 1} -> {lost + 1}): taking a fresh snapshot"]
            await book.wait_synchronised(10)
            assert book.sequence is not None and book.sequence > dropped[0]["sequence"]
            live.sim.pause()
            await until(lambda: exact_now(live, book), what="mirror == served book == reference")
            assert connection.gaps == 1 and connection.sessions == 1 and not watch.violations


async def test_a_new_epoch_is_taken_only_from_a_snapshot(tmp_path: Path) -> None:
    """Events of a later epoch (a cluster's hand-over) that do not open with a
    snapshot are a gap: the client takes the book afresh."""
    with live_venue(tmp_path) as live:
        async with Client(live.base) as client:
            book = await client.book(live.tag)
            await book.wait_synchronised(10)
            watch = Watch(book)
            connection = client.connection
            deliver = connection.deliver
            relabelled: list[int] = []

            def next_epoch(message: dict[str, Any]) -> None:
                # From a non-book event on, everything is of epoch 2, as after a hand-over.
                if "channel" in message and (relabelled or message["channel"] != "book"):
                    relabelled.append(message["sequence"])
                    message = {**message, "epoch": 2}
                deliver(message)

            connection.deliver = next_epoch  # type: ignore[method-assign]
            await until(lambda: connection.gaps == 1, what="the epoch change seen as a gap")
            assert watch.reasons[0] == "lost events (epoch 0 -> 2 without a snapshot): taking a fresh snapshot"
            await book.wait_synchronised(10)
            live.sim.pause()
            await until(lambda: same_book(book.view(), live.sim.reference(SYMBOL)), what="mirror == reference")
