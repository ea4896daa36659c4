"""Market leases in the real PostgreSQL: one owner at a time, epochs that grow at
every change of owner, and a node that stops by its own clock before the
database could hand its market to another."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from level4.catalogue import Catalogue, upgrade
from level4.cluster.lease_book import SAFETY, LeaseBook
from tests.conftest import postgres_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine() -> Iterator[Engine]:
    with postgres_schema() as url:
        upgrade(url)
        cat = Catalogue(url)
        try:
            cat.add_symbol("BTC")
            cat.add_symbol("USD")
            cat.add_exchange("COINBASE")
            cat.add_market("COINBASE", "BTC", "USD", "SPOT")
        finally:
            cat.close()
        eng = create_engine(url)
        try:
            yield eng
        finally:
            eng.dispose()


def market_ids(engine: Engine) -> list[int]:
    with engine.begin() as conn:
        return [int(r[0]) for r in conn.execute(text("SELECT id FROM markets ORDER BY id"))]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_owner_at_a_time_and_the_epoch_grows_with_each_new_owner(engine: Engine) -> None:
    (market,) = market_ids(engine)
    n1, n2 = LeaseBook(engine, "n1", ttl=1.0), LeaseBook(engine, "n2", ttl=1.0)
    first = n1.claim(market)
    assert first is not None and first.epoch == 1
    assert n2.claim(market) is None  # held and unexpired
    again = n1.claim(market)
    assert again is not None and again.epoch == 1  # the owner keeping it is no change of owner
    time.sleep(1.1)
    taken = n2.claim(market)
    assert taken is not None and taken.epoch == 2
    held, lost = n1.renew()
    assert held == {} and lost == [market]  # n1 learns it lost the market
    assert n2.owners() == {market: ("n2", 2)}
    n2.release([market])
    back = n1.claim(market)
    assert back is not None and back.epoch == 3


def test_a_node_stops_by_its_own_clock_before_the_database_frees_the_market(engine: Engine) -> None:
    (market,) = market_ids(engine)
    clock = FakeClock()
    n1 = LeaseBook(engine, "n1", ttl=2.0, clock=clock)
    lease = n1.claim(market)
    assert lease is not None and lease.deadline == clock.now + 2.0 - SAFETY
    clock.now += 2.0 - SAFETY - 0.01
    assert n1.held(market) is not None
    clock.now += 0.02  # a paused process, a database that did not answer: the deadline passes
    assert n1.held(market) is None
    # ...while the database still has it leased, so no other node can have it yet.
    assert LeaseBook(engine, "n2", ttl=2.0).claim(market) is None


def test_racing_claims_give_the_market_to_exactly_one_node(engine: Engine) -> None:
    (market,) = market_ids(engine)
    books = [LeaseBook(engine, f"n{i}", ttl=5.0) for i in range(6)]
    results: dict[str, object] = {}
    start = threading.Barrier(len(books))

    def claim(book: LeaseBook) -> None:
        start.wait()
        results[book.node] = book.claim(market)

    threads = [threading.Thread(target=claim, args=(b,)) for b in books]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [node for node, lease in results.items() if lease is not None]
    assert len(winners) == 1
    assert books[0].owners() == {market: (winners[0], 1)}


def test_membership_by_heartbeat(engine: Engine) -> None:
    n1, n2 = LeaseBook(engine, "n1", ttl=1.0), LeaseBook(engine, "n2", ttl=1.0)
    n1.heartbeat("http://127.0.0.1:1", 0.5)
    n2.heartbeat("http://127.0.0.1:2", 0.0)
    assert n1.live_nodes(grace=5.0) == ["n1", "n2"]
    time.sleep(1.1)
    n2.heartbeat("http://127.0.0.1:2", 0.0)
    assert n1.live_nodes(grace=1.0) == ["n2"]


def test_a_cluster_needs_postgresql(tmp_path: object) -> None:
    sqlite = create_engine("sqlite://")
    with pytest.raises(ValueError, match="PostgreSQL"):
        LeaseBook(sqlite, "n1", ttl=5.0)


def test_a_node_that_leaves_is_no_longer_live_and_the_others_see_its_url_and_load(engine: Engine) -> None:
    n1, n2 = LeaseBook(engine, "n1", ttl=1.0), LeaseBook(engine, "n2", ttl=1.0)
    n1.heartbeat("http://a:1", 2.0)
    n2.heartbeat("http://b:2", 1.0)
    rows = {name: (url, load, alive) for name, url, _seen, load, alive in n1.nodes(grace=5.0)}
    assert rows == {"n1": ("http://a:1", 2.0, True), "n2": ("http://b:2", 1.0, True)}
    n2.leave()
    assert n1.live_nodes(grace=5.0) == ["n1"]


def test_an_owner_publishes_its_markets_weights_with_the_renewal_and_they_outlive_the_lease(engine: Engine) -> None:
    (market,) = market_ids(engine)
    n1, n2 = LeaseBook(engine, "n1", ttl=5.0), LeaseBook(engine, "n2", ttl=5.0)
    assert n1.claim(market) is not None
    assert n1.weights() == {market: 0.0}  # not measured yet
    n1.renew({market: 42.5})
    assert n2.weights() == {market: 42.5}  # every node reads it
    n1.renew({})  # no measure this time (a market just taken): the last one stays
    assert n2.weights() == {market: 42.5}
    n1.release([market])
    assert n2.claim(market) is not None and n2.weights() == {market: 42.5}  # the next owner starts from it
