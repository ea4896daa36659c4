"""Numbers one market's events and hands them to the event hub.

One publisher per market for the life of the process: it outlives restarts
of the market's tree and switching the feed off and on, so a market's
sequence never goes back and a consumer sees every gap as a gap.

In a cluster every event also carries the epoch of the lease its node holds
the market under (0 on a single node). A node taking the market under a new
epoch starts the sequence again with a `book` snapshot, and a fence check
(the lease is still held by the node's own clock) stops every event the
node may no longer publish: those are dropped and counted, never sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from level4.market.hub import EventHub
from level4.metrics.latency import LatencyRecorder


def book_payload(
    snapshot: bool, synchronised: bool, bids: list[list[Any]], asks: list[list[Any]], reason: str | None
) -> dict[str, Any]:
    return {"snapshot": snapshot, "synchronised": synchronised, "bids": bids, "asks": asks, "reason": reason}


def no_book(reason: str) -> dict[str, Any]:
    """A `book` snapshot saying there is no good book, and why."""
    return book_payload(True, False, [], [], reason)


class MarketPublisher:
    def __init__(self, market_id: int, tag: str, hub: EventHub) -> None:
        self.market_id = market_id
        self.tag = tag
        self.hub = hub
        self.sequence = 0
        self.epoch = 0
        self.fence: Callable[[], bool] | None = None  # None: no lease to check (a single node)
        self.fenced = 0  # events dropped as the lease was no longer held
        self.published = 0  # every event, across epochs (the sequence starts again with each)
        self.latency = LatencyRecorder()  # written by the exchange actor, once per batch
        # The exchange actor publishes; a failed tree is reported from the supervisor's thread.
        self._lock = threading.Lock()

    def _event(self, channel: str, venue_time: float | None, received_at: float) -> dict[str, Any]:
        return {
            "channel": channel,
            "market_id": self.market_id,
            "market": self.tag,
            "sequence": self.sequence,
            "epoch": self.epoch,
            "venue_time": venue_time,
            "received_at": received_at,
        }

    def publish(self, channel: str, payload: dict[str, Any], venue_time: float | None, received_at: float) -> None:
        # Under the lock: hub consumers see the events in sequence order.
        with self._lock:
            if self.fence is not None and not self.fence():
                self.fenced += 1
                return
            self.sequence += 1
            self.published += 1
            # One dict built at once (the fields of `_event`, then the payload's): once for every event.
            self.hub.publish(
                {
                    "channel": channel,
                    "market_id": self.market_id,
                    "market": self.tag,
                    "sequence": self.sequence,
                    "epoch": self.epoch,
                    "venue_time": venue_time,
                    "received_at": received_at,
                    **payload,
                }
            )

    def take(self, epoch: int, fence: Callable[[], bool], at: float, node: str) -> None:
        """This node holds the market under `epoch` from now on: the sequence starts
        again, with a snapshot saying there is no book yet, so that a consumer's mirror
        never mixes the book of the previous owner with this one's."""
        with self._lock:
            self.epoch = epoch
            self.sequence = 0
            self.fence = fence
        self.publish("book", no_book(f"node {node} took the market under epoch {epoch}"), None, at)

    def failed(self, reason: str, at: float) -> None:
        """The market's tree gave up: no actor of it is left to say so."""
        self.publish("status", {"status": "failed", "reason": reason}, None, at)
        self.publish("book", no_book(reason), None, at)

    def as_of(
        self, channel: str, payload: dict[str, Any], venue_time: float | None, received_at: float
    ) -> dict[str, Any]:
        """An event for one consumer (a subscription's book snapshot): it takes
        no number of its own but carries the sequence of the last event it covers."""
        with self._lock:
            event = self._event(channel, venue_time, received_at)
        event.update(payload)
        return event
