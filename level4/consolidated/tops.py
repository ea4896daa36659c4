"""The consolidated top of book, live: a hub consumer that keeps every
market's best bid and ask and, for each consolidated instrument someone
subscribes to, publishes a `consolidated` event whenever its best bid, best
ask or crossed state changes.

Markets publish from their own threads; one lock keeps each group's events
numbered and delivered in order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from level4.consolidated.merge import crossings, merge_side
from level4.consolidated.pair_groups import Group, Pair, pair_of_tag

Sink = Callable[[dict[str, Any]], None]
GONE = {"started", "stopped", "failed"}  # the market holds no book


@dataclass
class _Top:
    tag: str
    pair: Pair
    bid: list[Any] | None = None
    ask: list[Any] | None = None


@dataclass
class _GroupState:
    sequence: int = 0
    last: tuple[Any, ...] | None = None
    sinks: list[Sink] = field(default_factory=list)


class ConsolidatedTops:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tops: dict[int, _Top] = {}
        self._pairs: dict[int, Pair | None] = {}  # market id -> its pair, parsed once
        self._groups: dict[Group, _GroupState] = {}

    # --- the hub consumer (exchange threads) ---------------------------------------

    def consume(self, event: dict[str, Any]) -> None:
        channel = event["channel"]
        if channel == "top":
            market_id = event["market_id"]
            pair = self._pairs.get(market_id)
            if pair is None:
                if market_id in self._pairs:
                    return  # not mergeable
                pair = self._pairs[market_id] = pair_of_tag(event["market"])
                if pair is None:
                    return
            with self._lock:
                self._tops[market_id] = _Top(event["market"], pair, event["bid"], event["ask"])
                self._changed(pair, event)
        elif channel == "status" and event["status"] in GONE:
            with self._lock:
                top = self._tops.pop(event["market_id"], None)
                if top is not None:
                    self._changed(top.pair, event)

    def _changed(self, pair: Pair, cause: dict[str, Any]) -> None:
        for group, state in self._groups.items():
            if group.contains(pair):
                self._publish(group, state, cause, force=False)

    # --- subscriptions ------------------------------------------------------------

    def subscribe(self, group: Group, sink: Sink) -> None:
        """The sink gets the group's current state at once, then every change."""
        with self._lock:
            state = self._groups.get(group)
            if state is None:
                state = self._groups[group] = _GroupState()
                self._publish(group, state, None, force=True)  # numbers the first state for all
            state.sinks.append(sink)
            sink(self._event(group, state, None))

    def unsubscribe(self, group: Group, sink: Sink) -> None:
        with self._lock:
            state = self._groups.get(group)
            if state is None:
                return
            state.sinks = [s for s in state.sinks if s != sink]
            if not state.sinks:
                del self._groups[group]

    # --- the state ------------------------------------------------------------------

    def _state(self, group: Group) -> tuple[Any, ...]:
        members = [t for t in self._tops.values() if group.contains(t.pair)]
        members.sort(key=lambda t: t.tag)
        bid = merge_side([(t.tag, [t.bid]) for t in members if t.bid], 1, bids=True)
        ask = merge_side([(t.tag, [t.ask]) for t in members if t.ask], 1, bids=False)
        crossed = bool(crossings([(t.tag, t.bid, t.ask) for t in members]))
        return (bid[0] if bid else None, ask[0] if ask else None, crossed)

    def _publish(self, group: Group, state: _GroupState, cause: dict[str, Any] | None, force: bool) -> None:
        current = self._state(group)
        if current == state.last and not force:
            return
        state.last = current
        state.sequence += 1
        if state.sinks:
            event = self._event(group, state, cause)
            for sink in state.sinks:
                sink(event)

    def _event(self, group: Group, state: _GroupState, cause: dict[str, Any] | None) -> dict[str, Any]:
        assert state.last is not None
        bid, ask, crossed = state.last
        return {
            "channel": "consolidated",
            "market": group.name,
            "market_type": group.market_type,
            "quotes": sorted(group.quotes),
            "sequence": state.sequence,
            "venue_time": cause["venue_time"] if cause else None,
            "received_at": cause["received_at"] if cause else None,
            "bid": bid,
            "ask": ask,
            "crossed": crossed,
        }
