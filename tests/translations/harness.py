"""A scheme wired to a BookKeeper as the market tree wires them, with
checksum mismatches fed back to the scheme: frames in, instructions and
books out, no sockets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from level4.feed import resync_policy
from level4.feed.bookkeeper import BookKeeper, Report
from level4.feed.translator import ConnectionWork, Translator
from translations.protocol import Instruction, Instrument, Lost, Scheme


class SchemeHarness:
    def __init__(self, scheme: Scheme, instruments: Sequence[Instrument], default_symbol: str) -> None:
        self.scheme = scheme
        self.tr = Translator(scheme, instruments)
        self.keeper = BookKeeper([i.symbol for i in instruments], scheme.checksum)
        self.out: list[Instruction] = []
        self.work = ConnectionWork()
        self.sends: list[str | bytes] = []
        self.default_symbol = default_symbol

    def feed(self, *frames: Any) -> list[Instruction]:
        """Translate and apply each frame; returns the instructions it gave."""
        start = len(self.out)
        for frame in frames:
            raw = frame if isinstance(frame, str) else orjson.dumps(frame)
            batch: list[Instruction] = []
            self.tr.feed_raw(raw, batch, self.work)
            while batch:
                self.out.extend(batch)
                mismatches: list[Report] = []
                self.keeper.apply(batch, [], mismatches)
                batch = []
                for mismatch in mismatches:
                    self.tr.feed(mismatch, batch, self.work)
            for send in self.work.sends:
                self.sends.extend(send.frames)
            self.work.sends.clear()
        return self.out[start:]

    def book(self, symbol: str | None = None) -> dict[str, object]:
        return self.keeper.books[symbol or self.default_symbol].as_dict()


def remedied(scheme: Scheme, state: Any, instructions: list[Instruction]) -> list[Instruction]:
    """A scheme's instructions with each Lost replaced by the remedy the
    resync policy picks for it, as the Translator does."""
    out: list[Instruction] = []
    for ins in instructions:
        if isinstance(ins, Lost):
            out.extend(resync_policy.respond(ins, scheme.remedies, scheme, state))
        else:
            out.append(ins)
    return out
