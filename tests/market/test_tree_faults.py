"""Kill each kind of actor in a running market tree and see exactly what restarts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pykka
import pytest

from level4.market.messages import ApplyBatch, Crash
from level4.market.registry import ROLES
from level4.net.ioloop import IOLoop
from level4.service.root import Service
from tests.support import SimulatorThread, books_equal, running_service, wait_for
from translations.protocol import Update

pytestmark = pytest.mark.slow


@pytest.fixture
def live_pair(tmp_path: Any) -> Iterator[tuple[Service, httpx.Client, SimulatorThread, list[int]]]:
    """Two live Coinbase markets from one simulated venue."""
    with (
        SimulatorThread("coinbase", ["BTC-USD", "ETH-USD"], rate=200) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}") as (service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        for symbol in ("BTC", "ETH", "USD"):
            api.post("/symbols", json={"symbol": symbol})
        api.post("/exchanges", json={"name": "COINBASE", "ws_url": sim.url})
        ids = []
        for base_symbol in ("BTC", "ETH"):
            r = api.post("/markets", json={"exchange": "COINBASE", "base_symbol": base_symbol, "quote_symbol": "USD"})
            ids.append(r.json()["id"])
            api.patch(f"/markets/{ids[-1]}", json={"level4_feed_enabled": True})
        for market_id in ids:
            wait_for(lambda m=market_id: api.get(f"/markets/{m}").json()["status"] == "live", what="live")
        yield service, api, sim, ids


def refs(service: Service, market_id: int) -> dict[str, pykka.ActorRef[Any] | None]:
    return {role: service.registry.lookup(market_id, role) for role in ROLES}


def alive(service: Service, market_id: int) -> bool:
    return all(r is not None and r.is_alive() for r in refs(service, market_id).values())


# Which actors a crash takes down with it, by the tree's strategies:
# market (one_for_all: exchange, level2), level2 (rest_for_one: mediator, orderbook, websocket).
# The market's own supervisor stays: it is the one doing the restarting.
EXPECTED = {
    "exchange": {"exchange", "mediator", "orderbook", "websocket"},
    "mediator": {"mediator", "orderbook", "websocket"},
    "orderbook": {"orderbook", "websocket"},
    "websocket": {"websocket"},
}


@pytest.mark.parametrize("victim", list(EXPECTED))
def test_a_crash_restarts_exactly_its_part_of_the_tree(
    live_pair: tuple[Service, httpx.Client, SimulatorThread, list[int]], victim: str
) -> None:
    service, api, sim, (first, second) = live_pair
    before, other_before = refs(service, first), refs(service, second)
    target = before[victim]
    assert target is not None
    target.tell(Crash(f"{victim} crash requested by the test"))

    wait_for(lambda: not target.is_alive(), what=f"{victim} down")
    restarted = EXPECTED[victim]
    wait_for(
        lambda: alive(service, first) and all(refs(service, first)[r] is not before[r] for r in restarted),
        what="restarted actors registered",
    )
    after = refs(service, first)
    assert {r for r in ROLES if after[r] is not before[r]} == restarted
    assert refs(service, second) == other_before  # the other market is untouched

    wait_for(lambda: api.get(f"/markets/{first}").json()["status"] == "live", what="live again")
    market = api.get(f"/markets/{first}").json()
    assert market["level4_feed_enabled"] is True
    assert service.board.get(first).restarts >= 1
    # and the rebuilt book is exact again
    sim.pause()
    reference = sim.reference("BTC-USD")
    wait_for(lambda: books_equal(api.get(f"/markets/{first}/book").json(), reference), what="exact book")


def test_a_market_over_its_restart_intensity_fails_alone(
    live_pair: tuple[Service, httpx.Client, SimulatorThread, list[int]],
) -> None:
    service, api, _sim, (first, second) = live_pair
    other_before = refs(service, second)
    # running_service allows 3 restarts in 30 s; the fourth exchange crash is one too many.
    for n in range(4):
        wait_for(lambda: alive(service, first), what="tree up")
        ref = refs(service, first)["exchange"]
        assert ref is not None
        ref.tell(Crash(f"crash {n}"))
        wait_for(lambda r=ref: not r.is_alive(), what="exchange down")

    market = wait_for(
        lambda: (m := api.get(f"/markets/{first}").json()) and m["status"] == "failed" and m, what="failed"
    )
    assert "more than 3 restarts" in market["status_reason"] and "crash 3" in market["status_reason"]
    assert market["level4_feed_enabled"] is True  # desired state is the operator's, not ours
    wait_for(lambda: all(refs(service, first)[r] is None for r in ("exchange", "mediator", "orderbook", "websocket")))
    book = api.get(f"/markets/{first}/book").json()
    assert book["synchronised"] is False and book["bids"] == [] and "restarts" in book["reason"]

    # the root and the other market carry on
    assert refs(service, second) == other_before
    assert api.get(f"/markets/{second}").json()["status"] == "live"
    assert api.get("/health").json()["markets_not_live"][0]["status"] == "failed"

    # an operator can start it again
    api.patch(f"/markets/{first}", json={"level4_feed_enabled": True})
    wait_for(lambda: api.get(f"/markets/{first}").json()["status"] == "live", what="live after restart")


def test_a_level_that_is_no_number_renews_the_feed_and_crashes_nothing(
    live_pair: tuple[Service, httpx.Client, SimulatorThread, list[int]],
) -> None:
    """What a venue's bad number does inside the tree: the orderbook refuses
    the side, clears the book, and the connection is renewed; no actor dies."""
    service, api, sim, (first, second) = live_pair
    before, other_before = refs(service, first), refs(service, second)
    malformed, reconnects = service.board.get(first).malformed, service.board.get(first).reconnects
    orderbook = before["orderbook"]
    assert orderbook is not None
    orderbook.tell(ApplyBatch([Update("BTC-USD", [("61000.5", "1"), ("not a price", "1")], [])], time.time()))

    wait_for(lambda: service.board.get(first).reconnects > reconnects, what="connection renewed")
    assert service.board.get(first).malformed > malformed
    wait_for(lambda: api.get(f"/markets/{first}").json()["status"] == "live", what="live again")
    assert refs(service, first) == before and refs(service, second) == other_before  # nothing restarted
    assert service.board.get(first).restarts == 0
    sim.pause()
    reference = sim.reference("BTC-USD")
    wait_for(lambda: books_equal(api.get(f"/markets/{first}/book").json(), reference), what="exact book")


@pytest.mark.parametrize("victim", ["mediator", "orderbook", "exchange"])
def test_a_crash_in_a_turn_on_the_io_loops_thread_restarts_exactly_its_part(
    live_pair: tuple[Service, httpx.Client, SimulatorThread, list[int]], victim: str
) -> None:
    """The actors a frame wakes run on the IO loop's thread (the scheduler's host): a
    failure there is supervised as anywhere else, and the loop goes on reading."""
    service, api, sim, (first, second) = live_pair
    io = IOLoop.get()
    turns = io.hosted_turns()
    wait_for(lambda: io.hosted_turns() > turns + 10, what="frames handled on the IO loop's thread")
    before, other_before = refs(service, first), refs(service, second)
    target = before[victim]
    assert target is not None
    frames = service.board.get(second).frames
    io.call(service.registry.tell, first, victim, Crash(f"{victim} crash on the IO loop's thread"))

    wait_for(lambda: not target.is_alive(), what=f"{victim} down")
    restarted = EXPECTED[victim]
    wait_for(
        lambda: alive(service, first) and all(refs(service, first)[r] is not before[r] for r in restarted),
        what="restarted actors registered",
    )
    assert {r for r in ROLES if refs(service, first)[r] is not before[r]} == restarted
    assert refs(service, second) == other_before
    wait_for(lambda: service.board.get(second).frames > frames + 10, what="the other market's frames still read")
    wait_for(lambda: api.get(f"/markets/{first}").json()["status"] == "live", what="live again")
    sim.pause()
    reference = sim.reference("BTC-USD")
    wait_for(lambda: books_equal(api.get(f"/markets/{first}/book").json(), reference), what="exact book")
