"""The reconnect backoff: at once (a small jitter) after a synchronised
connection was cut; growing only while connecting or synchronising fails;
afresh once the market is synchronised again. The waits are recorded, not
slept, so the connection runs against a loopback venue on a fake clock."""

from __future__ import annotations

import asyncio
import random

from websockets.asyncio.server import ServerConnection, serve

from level4.net.backoff import Backoff
from level4.net.venue_connection import Batch, FeedCallbacks, FeedConnection


def test_a_cut_after_synchronising_waits_only_a_jitter_and_leaves_the_failures_alone() -> None:
    backoff = Backoff(base=1.0, cap=16.0, rng=random.Random(5), jitter=0.1)
    quick = [backoff.next_delay(was_synchronised=True) for _ in range(50)]
    assert all(0.0 <= d <= 0.1 for d in quick) and len({round(d, 6) for d in quick}) > 40  # spread out
    assert backoff.attempts == 0
    grown = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 16, 16]
    assert all(c / 2 <= d <= c for d, c in zip(grown, ceilings, strict=True)), grown
    assert 0.0 <= backoff.next_delay(was_synchronised=True) <= 0.1 and backoff.attempts == 6
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1.0


class Recording(Backoff):
    """The real backoff; each wait it picks is recorded and none is slept (the fake clock)."""

    def __init__(self) -> None:
        super().__init__(base=1.0, cap=8.0, rng=random.Random(2), jitter=0.1)
        self.waits: list[tuple[bool, float]] = []

    def next_delay(self, was_synchronised: bool = False) -> float:
        delay = super().next_delay(was_synchronised)
        self.waits.append((was_synchronised, delay))
        return 0.0


class Market(FeedCallbacks):
    """Reports the market synchronised (as the orderbook does) on the
    connections `syncs` says, once their first frame is in."""

    def __init__(self, syncs: list[bool]) -> None:
        self.syncs = syncs
        self.connection = 0
        self.feed: FeedConnection | None = None
        self.ask_backoff: set[int] = set()  # connections after whose frame the scheme asks for a backed-off renewal

    def connected(self, generation: int) -> None:
        self.connection += 1

    def frames(self, generation: int, batch: Batch) -> None:
        assert self.feed is not None
        n = self.connection
        if self.syncs[n - 1]:
            self.feed.synchronised()
        if n in self.ask_backoff:
            asyncio.get_running_loop().create_task(self.feed.reconnect("venue refused", backoff=True))


async def run(market: Market, backoff: Recording) -> list[tuple[bool, float]]:
    served = 0

    async def venue(ws: ServerConnection) -> None:
        nonlocal served
        served += 1
        await ws.send('{"book": 1}')
        if served in market.ask_backoff:
            await ws.wait_closed()  # the client renews it
        else:
            await ws.close()  # the cut

    async with serve(venue, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}/"
        feed = FeedConnection(url, "", market, None, 10.0, backoff)
        market.feed = feed
        task = asyncio.create_task(feed.run())
        while len(backoff.waits) < len(market.syncs):
            await asyncio.sleep(0.01)
        await feed.stop()
        task.cancel()
    return backoff.waits[: len(market.syncs)]


def ceiling(delay: float) -> float:
    """The doubling step a backed-off wait was drawn from (uniform in [c/2, c])."""
    c = 1.0
    while delay > c:
        c *= 2
    return c


def test_the_connection_reconnects_at_once_after_a_synchronised_cut_and_backs_off_otherwise() -> None:
    syncs = [True, True, False, False, False, True, False, True]
    waits = asyncio.run(run(Market(syncs), Recording()))
    assert [w[0] for w in waits] == syncs
    for synced, delay in waits:
        if synced:
            assert delay <= 0.1
    # unsynchronised: 1, 2, 4 (growing); then synchronised again: afresh at 1
    assert [ceiling(d) for s, d in waits if not s] == [1.0, 2.0, 4.0, 1.0]


def test_a_renewal_that_asks_to_back_off_does_even_after_synchronising() -> None:
    market = Market([True, True, True])
    market.ask_backoff = {2}
    waits = asyncio.run(run(market, Recording()))
    assert [w[0] for w in waits] == [True, False, True]
    assert waits[1][1] >= 0.5
