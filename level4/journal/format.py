"""The journal's file format: length-prefixed records, each with a CRC32.

    file    := MAGIC record*
    record  := u32 length | u32 crc32(payload) | payload        (little endian)
    payload := kind byte | body

Kinds: `F` a batch of received frames (binary, below); `H` the header every
file starts with; `B` a market's actors started; `O` a connection opened;
`C` it closed; `R` a REST answer delivered; `G` frames the journal had to
drop; `E` the market's connection actor ended. All but `F` carry a JSON
object (`R` through the standard library's json, the parser its body came
from, so big integers and floats come back exactly).

    F body := u64 generation | u32 count | count * (f64 receipt time | u32 length | raw)

with the top bit of `length` set when the venue sent a binary frame.

A process killed mid-write leaves at most one incomplete record at the end
of its last file: its length points past the end, or its CRC does not match.
The reader stops there and reports the bytes it discarded; every record
before it is whole.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

MAGIC = b"level4-journal 1\n"
SUFFIX = ".l4j"

_HEAD = struct.Struct("<II")
_FRAMES = struct.Struct("<cQI")
_FRAME = struct.Struct("<dI")
_BINARY = 0x8000_0000
# A length beyond this is damage, not a record: the writer never builds one this big.
MAX_PAYLOAD = 1 << 30

FRAMES, HEADER, BEGIN, OPENED, CLOSED, REST, GAP, END = b"F", b"H", b"B", b"O", b"C", b"R", b"G", b"E"

Batch = list[tuple[float, str | bytes]]


class JournalError(ValueError):
    pass


# --- records as read back ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header:
    run: str  # the writing process's run: one publisher (sequence) per market per run
    market: dict[str, Any]
    begin: dict[str, Any] | None  # the latest Begin's body when the file was opened mid-run
    generation: int | None  # the connection open at that moment
    created: float


@dataclass(frozen=True, slots=True)
class Begin:
    time: float
    run: str
    market: dict[str, Any]
    actors: dict[str, str]  # role -> actor URN: which actors are new incarnations


@dataclass(frozen=True, slots=True)
class Opened:
    time: float
    generation: int


@dataclass(frozen=True, slots=True)
class Frames:
    generation: int
    batch: Batch


@dataclass(frozen=True, slots=True)
class Closed:
    time: float
    generation: int
    reason: str


@dataclass(frozen=True, slots=True)
class Rest:
    time: float
    symbol: str
    path: str
    body: Any
    error: str | None


@dataclass(frozen=True, slots=True)
class Gap:
    time: float
    frames: int


@dataclass(frozen=True, slots=True)
class End:
    time: float


Record = Header | Begin | Opened | Frames | Closed | Rest | Gap | End


# --- writing ------------------------------------------------------------------------


def append_record(out: bytearray, payload: bytes | bytearray) -> None:
    out += _HEAD.pack(len(payload), zlib.crc32(payload))
    out += payload


def frames_payload(generation: int, batch: Batch) -> bytearray:
    payload = bytearray(_FRAMES.pack(FRAMES, generation, len(batch)))
    pack = _FRAME.pack
    for received, raw in batch:
        if isinstance(raw, str):
            data = raw.encode()
            payload += pack(received, len(data))
        else:
            data = raw
            payload += pack(received, len(data) | _BINARY)
        payload += data
    return payload


def json_payload(kind: bytes, body: dict[str, Any]) -> bytes:
    if kind == REST:
        return kind + json.dumps(body, separators=(",", ":")).encode()
    return kind + orjson.dumps(body, default=str)


# --- reading ------------------------------------------------------------------------


@dataclass
class FileReport:
    path: Path
    records: int = 0
    frames: int = 0
    discarded: int = 0  # bytes after the last whole record
    torn: bool = False  # the discarded bytes are one incomplete last record
    problem: str | None = None

    def describe(self) -> str:
        what = "an incomplete last record" if self.torn else "damaged records"
        return f"{self.path}: discarded {self.discarded} bytes ({what}: {self.problem})"


def _decode_frames(payload: memoryview) -> Frames:
    _, generation, count = _FRAMES.unpack_from(payload, 0)
    pos = _FRAMES.size
    batch: Batch = []
    unpack = _FRAME.unpack_from
    size = _FRAME.size
    for _ in range(count):
        received, length = unpack(payload, pos)
        pos += size
        n = length & ~_BINARY
        data = bytes(payload[pos : pos + n])
        pos += n
        batch.append((received, data if length & _BINARY else data.decode()))
    if pos != len(payload):
        raise JournalError("frames record longer than its frames")
    return Frames(generation, batch)


def _decode(kind: bytes, payload: memoryview) -> Record | None:
    if kind == FRAMES:
        return _decode_frames(payload)
    if kind == REST:
        b = json.loads(bytes(payload[1:]))
        return Rest(b["time"], b["symbol"], b["path"], b["body"], b["error"])
    b = orjson.loads(payload[1:])
    if kind == OPENED:
        return Opened(b["time"], b["generation"])
    if kind == CLOSED:
        return Closed(b["time"], b["generation"], b["reason"])
    if kind == BEGIN:
        return Begin(b["time"], b["run"], b["market"], b["actors"])
    if kind == HEADER:
        return Header(b["run"], b["market"], b["begin"], b["generation"], b["created"])
    if kind == GAP:
        return Gap(b["time"], b["frames"])
    if kind == END:
        return End(b["time"])
    return None  # a kind from a later version: whole (its CRC held), skipped


def read_file(path: Path, report: FileReport | None = None) -> Iterator[Record]:
    """Every whole record of one file, in order; stops at a torn or damaged
    one and says so in `report`."""
    report = report if report is not None else FileReport(path)
    data = memoryview(path.read_bytes())
    end = len(data)
    if bytes(data[: len(MAGIC)]) != MAGIC:
        if MAGIC.startswith(bytes(data)):  # killed before the magic was whole
            report.discarded, report.torn, report.problem = end, True, "file shorter than its magic"
            return
        raise JournalError(f"{path}: not a level4 journal file")
    pos = len(MAGIC)
    head = _HEAD.size
    while pos < end:
        problem: str | None = None
        torn = False
        if end - pos < head:
            problem, torn = "record header cut short", True
        else:
            length, crc = _HEAD.unpack_from(data, pos)
            if length == 0 or length > MAX_PAYLOAD:
                problem = f"impossible record length {length}"
                torn = all(b == 0 for b in data[pos:])  # a zero-filled tail: space allocated, never written
            elif pos + head + length > end:
                problem, torn = f"record of {length} bytes cut short at {end - pos - head}", True
            else:
                payload = data[pos + head : pos + head + length]
                if zlib.crc32(payload) != crc:
                    problem = "CRC mismatch"
                    torn = pos + head + length == end
        if problem is not None:
            report.discarded, report.torn, report.problem = end - pos, torn, problem
            return
        pos += head + length
        record = _decode(bytes(payload[:1]), payload)
        report.records += 1
        if record is None:
            continue
        if type(record) is Frames:
            report.frames += len(record.batch)
        yield record


# --- file and directory names -----------------------------------------------------


def market_dirname(tag: str) -> str:
    """A market's directory: its tag, with what a file system may refuse replaced."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in tag)


def file_name(sequence: int, created: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created))
    return f"{sequence:08d}-{stamp}{SUFFIX}"


def file_sequence(path: Path) -> int:
    head, _, _ = path.name.partition("-")
    return int(head) if head.isdigit() else -1


def journal_files(directory: Path) -> list[Path]:
    """One market's files, oldest first."""
    return sorted((p for p in directory.glob(f"*{SUFFIX}") if file_sequence(p) >= 0), key=file_sequence)


@dataclass
class MarketFiles:
    directory: Path
    files: list[Path] = field(default_factory=list)


def find_markets(paths: list[Path]) -> list[MarketFiles]:
    """Market file sets under the given journal directories, market directories or files."""
    found: dict[Path, MarketFiles] = {}
    for path in paths:
        if path.is_file():
            found.setdefault(path.parent, MarketFiles(path.parent)).files.append(path)
            continue
        for directory in sorted({p.parent for p in path.rglob(f"*{SUFFIX}")}):
            found.setdefault(directory, MarketFiles(directory)).files.extend(journal_files(directory))
    for market in found.values():
        market.files = sorted(set(market.files), key=file_sequence)
    return list(found.values())
