"""Runs a scheme over frames: the mediator's core.

Holds the scheme's state, parses frames, and sorts the scheme's
instructions into book work (for the BookKeeper) and connection work
(fetch, send, reconnect) for whoever owns the socket. A lost book (the
scheme's `Lost`, a level the book refused, a scheme that raised) becomes the
remedy the resync policy picks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from level4.feed import resync_policy
from translations.protocol import (
    BookFault,
    Desync,
    Fetch,
    Instruction,
    Instrument,
    Loss,
    Lost,
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

    def renew(self, reconnect: Reconnect) -> None:
        """One reconnect per batch; it backs off if any reason for it asked to."""
        if self.reconnect is None:
            self.reconnect = reconnect
        elif reconnect.backoff and not self.reconnect.backoff:
            self.reconnect = Reconnect(self.reconnect.reason, backoff=True)

    def clear(self) -> None:
        self.fetches.clear()
        self.sends.clear()
        self.reconnect = None
        self.malformed.clear()


class Translator:
    def __init__(self, scheme: Scheme, instruments: Sequence[Instrument]) -> None:
        self.scheme = scheme
        self.instruments = list(instruments)
        self.remedies = resync_policy.supported_remedies(scheme)
        self.state: Any = scheme.initial_state(self.instruments)
        self.frames = 0
        self.malformed = 0
        self.ignored = 0  # frames that asked nothing of the book or the connection
        self.resyncs = 0
        self.trades = 0

    def reset(self) -> None:
        """A new connection: fresh state, as the scheme defines it."""
        self.state = self.scheme.initial_state(self.instruments)

    def opened(self, book_work: list[Instruction], work: ConnectionWork) -> None:
        """The markets' subscription has just gone out: what the scheme asks for
        before any frame comes (its `opened`, where it has one)."""
        opened = getattr(self.scheme, "opened", None)
        if opened is None:
            return
        try:
            instructions: list[Instruction] = opened(self.state)
        except Exception as exc:  # a scheme bug must cost a resync, never the tree
            instructions = [Malformed(f"scheme raised {type(exc).__name__}: {exc}", None)]
            reason = f"scheme error: {type(exc).__name__}"
            instructions.extend(Lost(i.symbol, Loss.SCHEME_ERROR, reason) for i in self.instruments)
        self.sort(instructions, book_work, work)

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
            # The venue sent levels that are no numbers: the book has already cleared itself.
            self.malformed += 1
            work.malformed.append(Malformed(frame.reason, None))
            self.sort([Lost(frame.symbol, Loss.BOOK_FAULT, frame.reason)], book_work, work)
            return
        try:
            instructions, self.state = self.scheme.translate(frame, self.state)
        except Exception as exc:  # a scheme bug must cost a resync, never the tree
            instructions = [Malformed(f"scheme raised {type(exc).__name__}: {exc}", frame)]
            reason = f"scheme error: {type(exc).__name__}"
            instructions.extend(Lost(i.symbol, Loss.SCHEME_ERROR, reason) for i in self.instruments)
        if not instructions:
            # An acknowledgement, a heartbeat, a channel the book does not use: read, and nothing to do.
            self.ignored += 1
            return
        self.sort(instructions, book_work, work)

    def sort(self, instructions: list[Instruction], book_work: list[Instruction], work: ConnectionWork) -> None:
        """Book work to `book_work`, the rest to `work`; a Lost becomes its remedy."""
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
                work.renew(ins)  # type: ignore[arg-type]
            elif kind is Malformed:
                self.malformed += 1
                work.malformed.append(ins)  # type: ignore[arg-type]
            elif kind is Lost:
                assert isinstance(ins, Lost)
                self.sort(resync_policy.respond(ins, self.remedies, self.scheme, self.state), book_work, work)

    def synchronised(self) -> bool:
        return self.scheme.synchronised(self.state)
