"""Runs a scheme over frames: the mediator's core.

Holds the scheme's state, parses frames, and sorts the scheme's
instructions into book work (for the BookKeeper) and connection work
(fetch, send, reconnect) for whoever owns the socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from translations.protocol import (
    BookFault,
    Desync,
    Fetch,
    Instruction,
    Instrument,
    Malformed,
    Reconnect,
    Scheme,
    Send,
    Snapshot,
    Trade,
    Truncate,
    Update,
    Verify,
)

_BOOK_WORK = frozenset({Snapshot, Trade, Verify, Truncate, Desync})


@dataclass(slots=True)
class ConnectionWork:
    fetches: list[Fetch] = field(default_factory=list)
    sends: list[Send] = field(default_factory=list)
    reconnect: Reconnect | None = None
    malformed: list[Malformed] = field(default_factory=list)

    def clear(self) -> None:
        self.fetches.clear()
        self.sends.clear()
        self.reconnect = None
        self.malformed.clear()


class Translator:
    def __init__(self, scheme: Scheme, instruments: Sequence[Instrument]) -> None:
        self.scheme = scheme
        self.instruments = list(instruments)
        self.state: Any = scheme.initial_state(self.instruments)
        self.frames = 0
        self.malformed = 0
        self.ignored = 0  # frames that asked nothing of the book or the connection
        self.resyncs = 0
        self.trades = 0

    def reset(self) -> None:
        """A new connection: fresh state, as the scheme defines it."""
        self.state = self.scheme.initial_state(self.instruments)

    def feed_raw(self, raw: str | bytes, book_work: list[Instruction], work: ConnectionWork) -> None:
        """Parse a received frame and translate it."""
        try:
            frame: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # Not JSON: some venues send plain-text pongs; the scheme decides.
            frame = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        self.frames += 1
        self.feed(frame, book_work, work)

    def feed(self, frame: Any, book_work: list[Instruction], work: ConnectionWork) -> None:
        """Translate an already parsed frame (or a RestAnswer/ChecksumMismatch/BookFault)."""
        if type(frame) is BookFault:
            # The venue sent levels that are no numbers: whatever else it sent since may be
            # as wrong, so every book of the connection starts again from fresh snapshots.
            self.malformed += 1
            work.malformed.append(Malformed(frame.reason, None))
            work.reconnect = Reconnect(f"{frame.symbol}: {frame.reason}")
            return
        try:
            instructions, self.state = self.scheme.translate(frame, self.state)
        except Exception as exc:  # a scheme bug must cost a resync, never the tree
            instructions = [Malformed(f"scheme raised {type(exc).__name__}: {exc}", frame)]
            instructions.extend(Desync(i.symbol, "scheme error") for i in self.instruments)
            instructions.append(Reconnect(f"scheme error: {type(exc).__name__}"))
        if not instructions:
            # An acknowledgement, a heartbeat, a channel the book does not use: read, and nothing to do.
            self.ignored += 1
            return
        for ins in instructions:
            kind = type(ins)
            if kind is Update:  # by far the most frequent: one test
                book_work.append(ins)
            elif kind in _BOOK_WORK:
                if kind is Trade:
                    self.trades += 1
                elif kind is Desync:
                    self.resyncs += 1
                book_work.append(ins)
            elif kind is Fetch:
                work.fetches.append(ins)  # type: ignore[arg-type]
            elif kind is Send:
                work.sends.append(ins)  # type: ignore[arg-type]
            elif kind is Reconnect:
                work.reconnect = ins  # type: ignore[assignment]
            elif kind is Malformed:
                self.malformed += 1
                work.malformed.append(ins)  # type: ignore[arg-type]

    def synchronised(self) -> bool:
        return self.scheme.synchronised(self.state)
