"""Whether one market's events arrive complete and in order.

A market numbers its events over all four channels (`sequence`, README
"Events"), so a client subscribed to all of them sees every number: one
missing is a lost event, and the only repair is a fresh snapshot. Events may
also carry an `epoch` (a service that hands markets over between nodes
numbers them anew): a new epoch is accepted only when it opens with a book
snapshot, anything else is treated as a gap.

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
