"""Whether one market's events arrive complete and in order.

A market numbers its events over all four channels (`sequence`, README
"Events"), so a client subscribed to all of them sees every number: one
missing is a lost event, and the only repair is a fresh snapshot. Events may
also carry an `epoch` (a service that hands markets over between nodes
numbers them anew): a new epoch is accepted only when it opens with a book
snapshot, anything else is treated as a gap. Events of an epoch older than
the newest seen for their market (a deposed owner's, late) are dropped
before they reach the tracker (`Epochs`), so two owners' books never mix.

Phases: WAITING from the moment the book channel is (re)requested until the
service confirms it; SNAPSHOT from that confirmation until the first book
event, which is then the subscription's snapshot (the stream holds book
events back until it); LIVE afterwards, when every event must follow on.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class Phase(Enum):
    WAITING = "waiting"
    SNAPSHOT = "snapshot"
    LIVE = "live"


class Verdict(Enum):
    APPLY = "apply"  # in order: the mirror takes it
    BEFORE = "before"  # before the subscription's snapshot, which covers it
    GAP = "gap"  # something was lost: a fresh snapshot is needed


class GapTracker:
    def __init__(self) -> None:
        self.phase = Phase.WAITING
        self.sequence: int | None = None
        self.epoch: Any = None
        self.gap: str | None = None  # what the last GAP verdict saw

    def wait(self) -> None:
        """The book channel was (re)requested or dropped: nothing counts until it is confirmed."""
        self.phase = Phase.WAITING

    def arm(self) -> None:
        """The service confirmed the book channel: its next book event is the snapshot."""
        self.phase = Phase.SNAPSHOT

    def check(self, event: dict[str, Any]) -> Verdict:
        sequence = event["sequence"]
        epoch = event.get("epoch")
        opens = event["channel"] == "book" and bool(event.get("snapshot"))
        if self.phase is Phase.WAITING:
            return Verdict.BEFORE
        if self.phase is Phase.SNAPSHOT:
            if event["channel"] != "book":
                return Verdict.BEFORE  # the snapshot to come covers it
            if not opens:  # the stream always opens a book subscription with a snapshot
                return self._lost(f"book subscription opened by a delta at sequence {sequence}")
            self._start(sequence, epoch)
            return Verdict.APPLY
        if epoch != self.epoch:
            if opens:
                self._start(sequence, epoch)
                return Verdict.APPLY
            return self._lost(f"epoch {self.epoch!r} -> {epoch!r} without a snapshot")
        assert self.sequence is not None
        if opens and sequence == self.sequence:
            # The book again as of the last event (a node whose copy of the market was
            # repaired): it replaces the mirror's, and the numbers go on from it.
            return Verdict.APPLY
        if sequence != self.sequence + 1:
            return self._lost(f"sequence {self.sequence} -> {sequence}")
        self.sequence = sequence
        return Verdict.APPLY

    def _start(self, sequence: int, epoch: Any) -> None:
        self.phase = Phase.LIVE
        self.sequence = sequence
        self.epoch = epoch

    def _lost(self, what: str) -> Verdict:
        self.phase = Phase.WAITING
        self.gap = what
        return Verdict.GAP


class Epochs:
    """The newest epoch seen per market (an event without one counts as epoch 0)."""

    def __init__(self) -> None:
        self.newest: dict[int, int] = {}
        self.dropped = 0  # events of an older epoch

    def current(self, event: dict[str, Any]) -> bool:
        """False for an event of an older epoch than one already seen for its market."""
        market_id = event["market_id"]
        epoch = event.get("epoch") or 0
        newest = self.newest.get(market_id)
        if newest is not None and epoch < newest:
            self.dropped += 1
            return False
        self.newest[market_id] = epoch
        return True
