"""A scheme wired to a BookKeeper as the market tree wires them, with
checksum mismatches fed back to the scheme: frames in, instructions and
books out, no sockets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from level4.feed import resync_policy
from level4.feed.bookkeeper import BookKeeper, Report
from level4.feed.events import MarketEvent
from level4.feed.translator import ConnectionWork, Translator
from translations.protocol import Instruction, Instrument, Lost, RestAnswer, Scheme, Send


class SchemeHarness:
    """Each frame is translated and applied alone, as one received message is;
    what it asked of the connection stays in `work` (reconnect, fetches,
    malformed) or is taken into `sent` and `sends` (frames to send)."""

    def __init__(self, scheme: Scheme, instruments: Sequence[Instrument], default_symbol: str = "") -> None:
        self.scheme = scheme
        self.tr = Translator(scheme, instruments)
        self.keeper = BookKeeper([i.symbol for i in instruments], scheme.checksum)
        self.out: list[Instruction] = []
        self.events: list[MarketEvent] = []
        self.work = ConnectionWork()
        self.sent: list[Send] = []
        self.sends: list[str | bytes] = []
        self.default_symbol = default_symbol or instruments[0].symbol

    def feed(self, *frames: Any) -> list[Instruction]:
        """Translate and apply each frame; returns the instructions it gave."""
        out: list[Instruction] = []
        for frame in frames:
            out.extend(self._take(frame)[0])
        return out

    __call__ = feed  # a harness is handed frames as a connection hands them on

    def feed_with_sends(self, *frames: Any) -> list[Instruction]:
        """As `feed`, with each frame's Sends after its book instructions."""
        out: list[Instruction] = []
        for frame in frames:
            book, sends = self._take(frame)
            out.extend(book)
            out.extend(sends)
        return out

    def step(self, frame: Any) -> list[Instruction]:
        """One frame (or a RestAnswer) with `work` cleared before it: its book
        instructions, then all it asked of the connection (fetches, sends, a reconnect)."""
        self.work.clear()
        book, sends = self._take(frame)
        conn: list[Instruction] = [*self.work.fetches, *sends]
        if self.work.reconnect is not None:
            conn.append(self.work.reconnect)
        return book + conn

    def _take(self, frame: Any) -> tuple[list[Instruction], list[Send]]:
        batch: list[Instruction] = []
        if isinstance(frame, RestAnswer):
            self.tr.feed(frame, batch, self.work)
        else:
            self.tr.feed_raw(frame if isinstance(frame, str | bytes) else orjson.dumps(frame), batch, self.work)
        book: list[Instruction] = []
        while batch:
            book.extend(batch)
            mismatches: list[Report] = []
            self.keeper.apply(batch, self.events, mismatches)
            batch = []
            for mismatch in mismatches:  # handed back to the scheme, as the market tree does
                self.tr.feed(mismatch, batch, self.work)
        sends = list(self.work.sends)
        self.work.sends.clear()
        self.sent.extend(sends)
        for send in sends:
            self.sends.extend(send.frames)
        self.out.extend(book)
        return book, sends

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
