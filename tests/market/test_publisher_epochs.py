"""A market's events carry the epoch of the lease its node holds it under: a new
epoch starts the sequence again with a book snapshot, and a fence stops what the
node may no longer publish. A single node keeps epoch 0 and one sequence."""

from __future__ import annotations

from typing import Any

from level4.market.hub import EventHub
from level4.market.publisher import MarketPublisher


def published() -> tuple[MarketPublisher, list[dict[str, Any]]]:
    hub = EventHub()
    events: list[dict[str, Any]] = []
    hub.subscribe(events.append)
    return MarketPublisher(7, "COINBASE.SPOT:BTC-USD", hub), events


def test_a_single_node_numbers_every_event_under_epoch_0_across_restarts() -> None:
    publisher, events = published()
    publisher.publish("trade", {"price": "1"}, None, 1.0)
    publisher.failed("gave up", 2.0)
    publisher.publish("trade", {"price": "2"}, None, 3.0)
    assert [(e["epoch"], e["sequence"]) for e in events] == [(0, 1), (0, 2), (0, 3), (0, 4)]
    assert publisher.as_of("book", {}, None, 4.0)["epoch"] == 0


def test_a_new_epoch_starts_again_at_1_with_a_book_snapshot() -> None:
    publisher, events = published()
    publisher.take(3, lambda: True, 1.0, "n1")
    publisher.publish("trade", {"price": "1"}, None, 2.0)
    publisher.take(5, lambda: True, 3.0, "n1")
    publisher.publish("trade", {"price": "2"}, None, 4.0)
    assert [(e["epoch"], e["sequence"], e["channel"]) for e in events] == [
        (3, 1, "book"),
        (3, 2, "trade"),
        (5, 1, "book"),
        (5, 2, "trade"),
    ]
    snapshot = events[2]
    assert snapshot["snapshot"] is True and snapshot["synchronised"] is False and snapshot["bids"] == []
    assert "epoch 5" in snapshot["reason"]
    assert publisher.published == 4


def test_the_fence_drops_and_counts_what_the_node_may_no_longer_publish() -> None:
    publisher, events = published()
    held = [True]
    publisher.take(2, lambda: held[0], 1.0, "n1")
    publisher.publish("trade", {"price": "1"}, None, 2.0)
    held[0] = False
    publisher.publish("trade", {"price": "2"}, None, 3.0)
    publisher.failed("gone", 4.0)
    assert [e["sequence"] for e in events] == [1, 2]
    assert publisher.fenced == 3 and publisher.sequence == 2
