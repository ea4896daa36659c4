"""The journal writer: one thread for the process, one file set per market.

The IO loop only appends references to a queue (the frames themselves are
the same list the mediator gets, never copied); encoding, checksums and
disk I/O happen on the writer thread, which wakes every few milliseconds
and writes what piled up, one write per market. The queue is bounded by the
bytes of the frames waiting in it: past the bound, frames are dropped,
counted and a gap record written where they were, so a slow disk costs the
journal completeness, never the books. A process killed outright loses
what the writer had not written yet (one wake-up's worth) and leaves at
most one incomplete record at the end of each market's last file.

Each market has a directory of its own under the journal directory (its
tag), so one market can be replayed, kept or removed alone and a busy
market's rotation never pushes a quiet one's history out. A process never
appends to a file it did not create: every run starts new files, so a
torn record can only be the last one of a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from level4.journal import retention
from level4.journal.format import (
    BEGIN,
    CLOSED,
    END,
    FRAMES,
    GAP,
    HEADER,
    MAGIC,
    OPENED,
    REST,
    SUFFIX,
    Batch,
    append_record,
    file_name,
    file_sequence,
    frames_payload,
    journal_files,
    json_payload,
    market_dirname,
)
from level4.journal.meta import meta_for
from level4.journal.options import JournalOptions
from level4.market.context import MarketContext

log = structlog.get_logger(__name__)


class JournalUnavailable(RuntimeError):
    """The journal directory cannot be used: not writable, or another process writes it."""


# (recorder, kind, a, b, frame bytes): a and b depend on the kind.
Item = tuple["MarketRecorder", bytes, Any, Any, int]


class MarketRecorder:
    """One market's handle on the journal. `frames`, `opened`, `closed` and
    `rest` are called on the IO loop thread; `begin` and `end` by the
    market's connection actor, before its feed starts and after it stopped."""

    __slots__ = ("_dropped", "_journal", "_put", "meta", "tag")

    def __init__(self, journal: Journal, meta: dict[str, Any]) -> None:
        self._journal = journal
        self._put = journal._items.append
        self.meta = meta
        self.tag = str(meta["tag"])
        self._dropped = 0

    def frames(self, generation: int, batch: Batch) -> None:
        journal = self._journal
        size = 0
        for _, raw in batch:
            size += len(raw)
        # Only the IO loop thread adds to `accepted`, only the writer to `released`.
        if journal.accepted - journal.released + size > journal.max_pending_bytes:
            self._dropped += len(batch)
            journal.frames_dropped += len(batch)
            return
        if self._dropped:
            self._gap()
        journal.accepted += size
        self._put((self, FRAMES, generation, batch, size))

    def opened(self, generation: int) -> None:
        if self._dropped:
            self._gap()
        self._put((self, OPENED, time.time(), generation, 0))

    def closed(self, generation: int, reason: str) -> None:
        if self._dropped:
            self._gap()
        self._put((self, CLOSED, time.time(), (generation, reason), 0))

    def rest(self, symbol: str, path: str, body: Any, error: str | None) -> None:
        if self._dropped:
            self._gap()
        self._put((self, REST, time.time(), (symbol, path, body, error), 0))

    def begin(self, actors: dict[str, str]) -> None:
        self._put((self, BEGIN, time.time(), actors, 0))

    def end(self) -> None:
        if self._dropped:
            self._gap()
        self._put((self, END, time.time(), None, 0))

    def _gap(self) -> None:
        log.warning("journal_frames_dropped", market=self.tag, frames=self._dropped)
        self._put((self, GAP, time.time(), self._dropped, 0))
        self._dropped = 0


@dataclass(eq=False)
class _Output:
    """The writer's state for one market."""

    directory: Path
    tag: str
    sequence: int = -1  # the last file's; -1 until the directory has been looked at
    path: Path | None = None
    fd: int | None = None
    size: int = 0  # bytes in the file, written or in `buf`
    buf: bytearray = field(default_factory=bytearray)
    buf_frames: int = 0
    lost_frames: int = 0  # lost to a write error, recorded as a gap in the next file
    begin: dict[str, Any] | None = None
    generation: int | None = None
    failing: bool = False


class Journal:
    """The process's journal: a bounded queue and the thread that writes it."""

    def __init__(self, options: JournalOptions, sweep_interval: float = 60.0, flush_interval: float = 0.01) -> None:
        if options.directory is None:
            raise ValueError("a journal needs a directory")
        self.root = Path(options.directory)
        self.rotate_bytes = options.rotate_bytes
        self.limits = retention.Limits(options.max_files, options.max_bytes, options.max_age)
        self.max_pending_bytes = options.max_pending_bytes
        self.sweep_interval = sweep_interval
        # The writer wakes on a clock, not on every record: a put is then a deque append that
        # never hands the interpreter to the writer, and each wake writes whatever piled up.
        self.flush_interval = flush_interval
        self.run = uuid.uuid4().hex  # this process's: event sequences start again with it
        self.accepted = 0
        self.released = 0
        self.frames_dropped = 0
        self.frames_written = 0
        self.bytes_written = 0
        self.files_opened = 0
        self.write_errors = 0
        self._items: deque[Item] = deque()
        self._closing = threading.Event()
        self._outputs: dict[str, _Output] = {}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalUnavailable(f"journal directory {self.root}: {exc}") from exc
        try:
            # Two writers in one directory would interleave file sequences and retention.
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise JournalUnavailable(f"journal directory {self.root} is in use by another process") from None
        self._sweep()
        self._thread = threading.Thread(target=self._run, name="level4-journal", daemon=True)
        self._thread.start()
        log.info("journal_opened", directory=str(self.root), rotate_bytes=self.rotate_bytes)

    def market(self, meta: dict[str, Any]) -> MarketRecorder:
        """A recorder for one market; `meta` (level4.journal.meta) heads each
        of its files, so every file says what it holds."""
        return MarketRecorder(self, meta)

    def recorder(self, ctx: MarketContext) -> MarketRecorder:
        return self.market(meta_for(ctx))

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, sync the files to disk and stop."""
        if not self._thread.is_alive():
            return
        self._closing.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("journal_close_timeout", directory=str(self.root))
            return
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)
        log.info(
            "journal_closed",
            frames_written=self.frames_written,
            frames_dropped=self.frames_dropped,
            bytes_written=self.bytes_written,
            files=self.files_opened,
        )

    # --- writer thread ---------------------------------------------------------

    def _run(self) -> None:
        next_sweep = time.monotonic() + self.sweep_interval
        closing = self._closing
        while True:
            stopping = closing.wait(self.flush_interval)
            self._drain()  # after a close too: everything put before it is written
            if stopping:
                break
            if time.monotonic() >= next_sweep:
                self._sweep()
                next_sweep = time.monotonic() + self.sweep_interval
        for out in self._outputs.values():
            self._close_file(out)

    def _drain(self) -> None:
        """Everything queued, with one write per market (more for a long backlog)."""
        items = self._items
        dirty: set[_Output] = set()
        while items:
            item = items.popleft()
            try:
                out = self._handle(item)
            except Exception:  # a bug here must not end the journal for every market
                log.exception("journal_record_failed", market=item[0].tag)
                continue
            if out is not None:
                dirty.add(out)
                if len(out.buf) >= 4 * 1024**2:
                    self._write_out(out)  # a backlog is written as it goes, not held
        for out in dirty:
            self._write_out(out)

    def _output(self, recorder: MarketRecorder) -> _Output:
        out = self._outputs.get(recorder.tag)
        if out is None:
            out = self._outputs[recorder.tag] = _Output(self.root / market_dirname(recorder.tag), recorder.tag)
        return out

    def _handle(self, item: Item) -> _Output | None:
        recorder, kind, a, b, size = item
        out = self._output(recorder)
        writable = True
        if out.fd is None or out.size >= self.rotate_bytes:
            # Before the record's own state change: a header describes what came before it.
            writable = self._rotate(out, recorder.meta)
        if kind is FRAMES:
            self.released += size
            if not writable:
                out.lost_frames += len(b)
                self.frames_dropped += len(b)
                return None
            self._append(out, frames_payload(a, b))
            out.buf_frames += len(b)
            return out
        payload = json_payload(kind, self._body(out, recorder, kind, a, b))
        if not writable:
            return None
        self._append(out, payload)
        return out

    def _body(self, out: _Output, recorder: MarketRecorder, kind: bytes, at: float, b: Any) -> dict[str, Any]:
        """A record's JSON body; keeps what a later file's header must repeat."""
        body: dict[str, Any] = {"time": at}
        if kind is OPENED:
            body["generation"] = out.generation = b
        elif kind is CLOSED:
            body["generation"], body["reason"] = b
            out.generation = None
        elif kind is REST:
            body["symbol"], body["path"], body["body"], body["error"] = b
        elif kind is BEGIN:
            body["run"], body["market"], body["actors"] = self.run, recorder.meta, b
            out.begin = body
        elif kind is GAP:
            body["frames"] = b
        elif kind is END:
            out.begin = out.generation = None
        return body

    def _append(self, out: _Output, payload: bytes | bytearray) -> None:
        before = len(out.buf)
        append_record(out.buf, payload)
        out.size += len(out.buf) - before

    def _rotate(self, out: _Output, meta: dict[str, Any]) -> bool:
        """Close the current file, open the next; False if it cannot be opened."""
        self._close_file(out)
        try:
            out.directory.mkdir(parents=True, exist_ok=True)
            if out.sequence < 0:
                existing = journal_files(out.directory)
                out.sequence = file_sequence(existing[-1]) if existing else 0
            out.sequence += 1
            now = time.time()
            path = out.directory / file_name(out.sequence, now)
            # O_EXCL: a file is only ever written by the run that created it.
            out.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except OSError as exc:
            self._failed(out, exc)
            return False
        out.path = path
        out.size = 0
        self.files_opened += 1
        out.buf += MAGIC
        out.size += len(MAGIC)
        header = {"run": self.run, "market": meta, "begin": out.begin, "generation": out.generation, "created": now}
        self._append(out, json_payload(HEADER, header))
        if out.lost_frames:
            self._append(out, json_payload(GAP, {"time": now, "frames": out.lost_frames}))
            out.lost_frames = 0
        with contextlib.suppress(OSError):
            retention.apply(out.directory, self.limits, keep=path)
        return True

    def _write_out(self, out: _Output) -> None:
        if not out.buf:
            return
        try:
            if out.fd is None:
                raise OSError("no file open")
            _write_all(out.fd, out.buf)
        except OSError as exc:
            out.lost_frames += out.buf_frames
            self.frames_dropped += out.buf_frames
            self._failed(out, exc)
            self._release(out, sync=False)  # the next record opens a new file
        else:
            self.bytes_written += len(out.buf)
            self.frames_written += out.buf_frames
            out.failing = False
        out.buf.clear()
        out.buf_frames = 0

    def _failed(self, out: _Output, exc: OSError) -> None:
        self.write_errors += 1
        if not out.failing:  # once per episode, not once per record
            log.error("journal_write_failed", market=out.tag, error=f"{type(exc).__name__}: {exc}")
            out.failing = True

    def _close_file(self, out: _Output) -> None:
        self._write_out(out)
        self._release(out, sync=True)

    def _release(self, out: _Output, sync: bool) -> None:
        fd, out.fd = out.fd, None
        if fd is None:
            return
        if sync:
            with contextlib.suppress(OSError):
                os.fsync(fd)  # a finished file is whole: make it survive a power loss too
        with contextlib.suppress(OSError):
            os.close(fd)

    def _sweep(self) -> None:
        """Retention over every market directory, running or not (ages pass without rotations)."""
        if self.limits.unlimited:
            return
        current = {out.directory: out.path for out in self._outputs.values()}
        with contextlib.suppress(OSError):
            for directory in sorted({p.parent for p in self.root.glob(f"*/*{SUFFIX}")}):
                retention.apply(directory, self.limits, keep=current.get(directory))


def _write_all(fd: int, data: bytearray) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    finally:
        view.release()  # the buffer must not stay exported: it is cleared next
