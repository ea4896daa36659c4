"""/stream over real sockets: a consumer that applies the subscription
snapshot and the deltas after it holds exactly the book the service serves
and the simulated venue's reference, with no gap in the market's sequence,
through reconnects, restarts of the tree's actors and a tree that gives up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from level4.market.messages import Crash, DoReconnect
from level4.service.root import Service
from tests.stream.consumer import Consumer
from tests.stream.stream_markets import add_market, same_levels
from tests.support import SimulatorThread, running_service, wait_for

pytestmark = pytest.mark.slow

ALL = ["top", "trade", "book", "status"]
# simulator venue -> (catalogue name, levels a side the venue shows; None: all)
VENUES = {"coinbase": ("COINBASE", None), "kraken": ("KRAKEN", 25), "bitfinex": ("BITFINEX", 25)}


def stream_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/stream"


def market_events(messages: list[dict[str, Any]], market_id: int) -> list[dict[str, Any]]:
    return [m for m in messages if "channel" in m and m.get("market_id") == market_id]


def assert_no_gaps_after_snapshot(messages: list[dict[str, Any]], market_id: int) -> int:
    """Everything after the subscription's snapshot (which carries the last
    sequence it covers) follows on without a gap; returns how many did."""
    events = market_events(messages, market_id)
    first = next(i for i, e in enumerate(events) if e["channel"] == "book")
    start = events[first]["sequence"]
    after = [e["sequence"] for e in events[first + 1 :]]
    assert after == list(range(start + 1, start + 1 + len(after)))
    return len(after)


def served_equals_consumer(api: httpx.Client, consumer: Consumer, market_id: int) -> dict[str, Any] | None:
    served = api.get(f"/markets/{market_id}/book").json()
    mine = consumer.book(market_id)
    same = served["synchronised"] and {k: served[k] for k in ("synchronised", "bids", "asks")} == mine
    return served if same else None


@pytest.fixture
def coinbase(tmp_path: Path) -> Iterator[tuple[Service, str, httpx.Client, SimulatorThread, dict[str, Any]]]:
    with (
        SimulatorThread("coinbase", ["BTC-USD"], rate=400) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}") as (service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        market = add_market(api, "COINBASE", sim, "BTC", "USD")
        yield service, base, api, sim, market


Live = tuple[Service, httpx.Client, SimulatorThread, dict[str, Any], Consumer]


@pytest.fixture
def live(coinbase: tuple[Service, str, httpx.Client, SimulatorThread, dict[str, Any]]) -> Iterator[Live]:
    """The Coinbase market and a /stream consumer connected to the service."""
    service, base, api, sim, market = coinbase
    consumer = Consumer(stream_url(base))
    try:
        yield service, api, sim, market, consumer
    finally:
        consumer.close()


@pytest.mark.parametrize("venue", list(VENUES))
def test_consumer_of_snapshot_and_deltas_holds_the_served_book(venue: str, tmp_path: Path) -> None:
    name, depth = VENUES[venue]
    with (
        SimulatorThread(venue, ["BTC-USD"], rate=400) as sim,
        running_service(f"sqlite:///{tmp_path / 'l4.sqlite3'}") as (_service, base),
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        market = add_market(api, name, sim, "BTC", "USD")
        market_id = market["id"]
        consumer = Consumer(stream_url(base))
        try:
            consumer.send(op="subscribe", markets=[market["tag"]], channels=ALL, id=1)
            reply = consumer.reply("subscribed", 1)
            assert reply["markets"] == [{"id": market_id, "market": market["tag"]}]
            time.sleep(1.5)  # deltas flow onto the snapshot
            sim.pause()
            reference = sim.reference("BTC-USD")

            def settled() -> dict[str, Any] | None:
                served = served_equals_consumer(api, consumer, market_id)
                return served if served and same_levels(served, reference, depth) else None

            served = wait_for(settled, what="consumer's book == served book == reference")
            assert len(served["bids"]) >= 10 and len(served["asks"]) >= 10
            messages = consumer.snapshot()
            assert assert_no_gaps_after_snapshot(messages, market_id) > 100
            deltas = [m for m in market_events(messages, market_id) if m["channel"] == "book" and not m["snapshot"]]
            assert len(deltas) > 50
            if venue == "bitfinex":  # the venue counts the orders at each level; so do the book and the stream
                for level in served["bids"] + served["asks"] + deltas[-1]["bids"] + deltas[-1]["asks"]:
                    assert len(level) == 3 and isinstance(level[2], int)
            else:
                assert all(len(level) == 2 for level in served["bids"] + served["asks"])
            if depth is not None:  # levels pushed out of the venue's window left the consumer's book too
                assert len(served["bids"]) <= depth and len(served["asks"]) <= depth
        finally:
            consumer.close()


def statuses(consumer: Consumer, market_id: int) -> list[str]:
    return [m["status"] for m in market_events(consumer.snapshot(), market_id) if m["channel"] == "status"]


def test_consumer_follows_reconnects_and_restarts(live: Live) -> None:
    service, api, sim, market, consumer = live
    market_id = market["id"]
    consumer.send(op="subscribe", markets=[market_id], channels=ALL, id="all")
    consumer.reply("subscribed", "all")
    consumer.wait(lambda m: m.get("channel") == "book" and not m["snapshot"], what="a delta")

    def resynchronised_after(count: int) -> bool:
        return statuses(consumer, market_id)[count:].count("synchronised") >= 1

    # the connection drops: reconnecting, the book goes, a new snapshot comes
    seen = len(statuses(consumer, market_id))
    assert service.registry.tell(market_id, "websocket", DoReconnect("told to"))
    wait_for(lambda: resynchronised_after(seen), what="resynchronised after a reconnect")
    after = statuses(consumer, market_id)[seen:]
    assert after[:3] == ["reconnecting", "desynchronised", "synchronised"]

    # the orderbook crashes: its successor starts empty, and consumers hear so
    seen = len(statuses(consumer, market_id))
    assert service.registry.tell(market_id, "orderbook", Crash())
    wait_for(lambda: resynchronised_after(seen), what="resynchronised after an orderbook crash")
    assert statuses(consumer, market_id)[seen] == "desynchronised"

    # the exchange crashes: the whole tree restarts, the sequence goes on
    seen = len(statuses(consumer, market_id))
    assert service.registry.tell(market_id, "exchange", Crash())
    wait_for(lambda: resynchronised_after(seen), what="resynchronised after an exchange crash")
    assert "started" in statuses(consumer, market_id)[seen:]

    time.sleep(0.5)
    sim.pause()
    reference = sim.reference("BTC-USD")
    wait_for(
        lambda: (s := served_equals_consumer(api, consumer, market_id)) and same_levels(s, reference),
        what="consumer's book == served book == reference",
    )
    messages = consumer.snapshot()
    assert_no_gaps_after_snapshot(messages, market_id)
    # every time the book went, an empty unsynchronised book said so
    gone = [m for m in market_events(messages, market_id) if m["channel"] == "book" and not m["synchronised"]]
    assert len(gone) >= 3 and all(m["snapshot"] and not m["bids"] and not m["asks"] and m["reason"] for m in gone)


def test_a_tree_that_gives_up_is_reported_failed(live: Live) -> None:
    service, api, _sim, market, consumer = live
    market_id = market["id"]
    consumer.send(op="subscribe", markets=[market_id], channels=["status", "book"], id=1)
    consumer.reply("subscribed", 1)
    for _ in range(10):  # beyond the tree's restart intensity (3 in 30 s)
        service.registry.tell(market_id, "exchange", Crash("again"))
        time.sleep(0.15)
        if "failed" in statuses(consumer, market_id):
            break
    failed = consumer.wait(lambda m: m.get("status") == "failed", what="failed status")
    assert failed["reason"] and failed["market"] == market["tag"]
    assert api.get(f"/markets/{market_id}").json()["status"] == "failed"
    assert consumer.book(market_id)["synchronised"] is False


def test_unsubscribe_stops_exactly_what_it_names(live: Live) -> None:
    _service, _api, _sim, market, consumer = live
    market_id = market["id"]
    consumer.send(op="subscribe", markets=[market["tag"]], channels=["top", "book"], id=1)
    consumer.reply("subscribed", 1)
    consumer.wait(lambda m: m.get("channel") == "book" and not m["snapshot"], what="a delta")

    consumer.send(op="unsubscribe", markets=[market_id], channels=["book"], id=2)
    consumer.reply("unsubscribed", 2)
    time.sleep(1.0)
    messages = consumer.snapshot()
    cut = next(i for i, m in enumerate(messages) if m.get("id") == 2)
    later = [m for m in messages[cut + 1 :] if "channel" in m]
    assert later and {m["channel"] for m in later} == {"top"}

    consumer.send(op="unsubscribe", markets=[market["tag"]], channels=["top"], id=3)
    consumer.reply("unsubscribed", 3)
    time.sleep(1.0)
    messages = consumer.snapshot()
    cut = next(i for i, m in enumerate(messages) if m.get("id") == 3)
    assert messages[cut + 1 :] == []
